// The one descriptor the plugin gives applications to poll, for the PCM's whole life: an epoll
// instance that watches the control socket (a daemon that hangs up or sends an event), the current
// stream's eventfd (the daemon writes it when the space or frames the application waits for are
// there) and an eventfd of the plugin's own (readiness the plugin finds itself: an empty buffer
// after prepare, a wake that must survive a reset). Applications keep the descriptor from
// snd_pcm_poll_descriptors across prepare, while every prepare opens a new stream with a new
// eventfd: only an indirection keeps their descriptor valid (alsa-lib#372).
//
// The plugin keeps one rule: the descriptor is readable whenever the stream is ready, and is
// reset only after the plugin found it not ready (PipeWire's plugin keeps the same rule; breaking
// it hangs applications in poll, as xmp-cli#44 did).

#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// The plugin's poll descriptor and its own eventfd. Owns both.
struct PluginPollSet: ~Copyable {
    /// What applications poll (POLLIN).
    let descriptor: Int32
    private let own: Int32
    /// Whether the plugin's own eventfd holds a signal it wrote.
    private(set) var signalled = false

    /// Why the poll set could not be made.
    struct Failure: Error {
        let call: String
        let errno: Int32
    }

    init() throws(Failure) {
        let epoll = clinux_epoll_create()
        guard epoll >= 0 else { throw Failure(call: "epoll_create1", errno: errno) }
        let own = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard own >= 0 else {
            let code = errno
            close(epoll)
            throw Failure(call: "eventfd", errno: code)
        }
        guard clinux_epoll_watch(epoll, own) == 0 else {
            let code = errno
            close(own)
            close(epoll)
            throw Failure(call: "epoll_ctl", errno: code)
        }
        descriptor = epoll
        self.own = own
    }

    deinit {
        close(own)
        close(descriptor)
    }

    /// Adds a descriptor to watch for POLLIN (the socket, a stream's eventfd).
    func watch(_ fd: Int32) -> Bool { clinux_epoll_watch(descriptor, fd) == 0 }

    /// Stops watching `fd`; call before closing it.
    func unwatch(_ fd: Int32) { _ = clinux_epoll_unwatch(descriptor, fd) }

    /// Makes the descriptor readable (once is enough: it stays readable until ``reset(_:)``).
    mutating func signal() {
        guard !signalled else { return }
        var one: UInt64 = 1
        _ = write(own, &one, 8)
        signalled = true
    }

    /// Resets the plugin's own eventfd and, when given, a stream's (which the daemon writes).
    mutating func reset(streamEvent: Int32?) {
        var value: UInt64 = 0
        if signalled {
            _ = read(own, &value, 8)  // EAGAIN: already reset
            signalled = false
        }
        if let streamEvent { _ = read(streamEvent, &value, 8) }
    }
}
