// Tells a device's audio thread when ALSA's device nodes change, so that a device that went
// away (unplugged, its driver unloaded, its PCI function removed) is tried again when a node
// appears or its permissions change, rather than on a timer (issue 13: no polling loop that
// wakes the daemon while nothing happens). An inotify descriptor on /dev/snd: readable when a
// node is created, deleted or has its attributes changed (udev sets the group after creating).
// Without /dev/snd (a machine with no card yet, or a container) or without inotify, there is
// nothing to watch and the thread falls back to its backoff timer.
#if canImport(Glibc)
import Glibc
#endif

/// An inotify watch on /dev/snd, owned by one audio thread.
final class DeviceNodeWatch: Sendable {
    /// The inotify descriptor, or -1 when nothing could be watched.
    let descriptor: Int32

    /// Watches `directory` (ALSA's /dev/snd); a watch that cannot be set leaves `descriptor` -1.
    init(directory: String = "/dev/snd") {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            descriptor = -1
            return
        }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_TO)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            close(fd)
            descriptor = -1
            return
        }
        descriptor = fd
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Whether changes are watched at all.
    var isWatching: Bool { descriptor >= 0 }

    /// Reads and forgets the pending events (the caller only needs to know that something changed).
    func drain() {
        guard descriptor >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    }
}
