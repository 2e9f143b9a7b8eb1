// Cards plugged in while the daemon runs (issue 13): when pcmd serves every card, a device that
// appears is opened, added to the registry under the next id and announced to every client
// (`deviceListChanged`). Nothing polls: a thread sleeps on an inotify watch of /dev/snd and wakes
// only when ALSA's nodes change; the plan is then made again and whatever is new is served. A
// card that goes away needs nothing here: its audio threads see it, the socket server moves its
// streams, and the threads reopen it when its nodes come back (`DeviceRunner`).
#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Logging
import PCMProtocol
import ServiceLifecycle
import PCMBufferCore
import Synchronization

/// Hands out PCMBufferCore card numbers to devices added while running. Client cards are
/// numbered from 100 + 2 × card, so device cards stay below 50.
final class CardCounter: Sendable {
    private let next: Locked<Int>

    init(next: Int) { self.next = Locked(next) }

    /// The next free card number; throws once 50 devices were served.
    func take() throws(DaemonError) -> Int {
        try next.withLock { (value: inout Int) throws(DaemonError) -> Int in
            guard value < 50 else { throw DaemonError.device(name: "-", reason: "pcmd serves at most 50 devices") }
            defer { value += 1 }
            return value
        }
    }
}

/// Ends the watching thread's poll: an eventfd, shared with the thread (a class, so the thread's
/// closure can hold it; `Wakeup` is noncopyable).
private final class StopSignal: Sendable {
    let fd: Int32

    init() throws(DaemonError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw .system(call: "eventfd", errno: errno) }
        self.fd = fd
    }

    func signal() { _ = eventfd_write(fd, 1) }  // fails only when already signalled

    deinit { close(fd) }
}

/// Serves cards plugged in after the start.
struct HotplugService: Service {
    let registry: DeviceRegistry
    let logger: Logger
    /// The devices the configuration asks for with the cards present now (`DevicePlan`).
    let plan: @Sendable () -> [PlannedDevice]
    /// Sets one new device up (`Daemon.serve`): its served form and its audio-thread services.
    let serve: @Sendable (PlannedDevice, AudioDeviceID) throws -> Daemon.DeviceParts

    /// How long to let a card finish appearing (all its nodes, udev's permissions) after the
    /// first change before planning again.
    static let settleMilliseconds: UInt32 = 300

    func run() async throws {
        let watch = DeviceNodeWatch()
        guard watch.isWatching else {
            logger.notice("/dev/snd cannot be watched: a card plugged in later is served after a restart")
            try? await gracefulShutdown()
            return
        }
        let (changes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let stop = try StopSignal()
        let thread = try RealtimeThread(name: "pcmd-hotplug", realtimePriority: 0) {
            Self.watchNodes(watch, stop: stop) { continuation.yield(()) }
            continuation.finish()
        }
        // The new devices' audio-thread services run as children of this service, so the
        // daemon's graceful shutdown reaches them as it reaches the ones served from the start.
        await withDiscardingTaskGroup { group in
            for await _ in changes.cancelOnGracefulShutdown() {
                for parts in serveNewDevices() {
                    for service in parts.services { group.addTask { try? await service.run() } }
                }
            }
            stop.signal()
            thread.join()
        }
    }

    /// The thread body: sleeps until /dev/snd changes (or `stop`), lets the change settle, and
    /// reports it.
    private static func watchNodes(_ watch: DeviceNodeWatch, stop: StopSignal, changed: () -> Void) {
        var descriptors = [pollfd(fd: watch.descriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)]
        while true {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { return }
            if descriptors[1].revents != 0 { return }
            guard descriptors[0].revents != 0 else { continue }
            usleep(settleMilliseconds * 1000)
            watch.drain()
            changed()
        }
    }

    /// Plans again and serves whatever is new; returns what was set up, to be run.
    private func serveNewDevices() -> [Daemon.DeviceParts] {
        let known = Set(registry.devices.map(\.name))
        var added: [Daemon.DeviceParts] = []
        for device in plan() where !known.contains(device.name) && device.alsaName != "null" {
            do {
                let parts = try serve(device, registry.nextID)
                registry.add(parts.device)
                added.append(parts)
                logger.notice("device plugged in: serving it", metadata: [
                    "pcm.device": "\(device.name)", "pcm.id": "\(parts.device.id.rawValue)", "pcm.alsa": "\(device.alsaName)",
                ])
            } catch {
                logger.error("device plugged in but not served", metadata: ["pcm.device": "\(device.name)", "error": "\(error)"])
            }
        }
        return added
    }
}
