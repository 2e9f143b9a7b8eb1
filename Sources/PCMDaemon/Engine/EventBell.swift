// How the audio threads' events reach the log when there are some, and only then: a thread that
// queues an event rings this bell (one eventfd write, which never blocks, for events that are
// rare: a start, an xrun, a client's underrun), and EventLogService's thread sleeps in poll()
// until it rings. The log used to look at the queues every second from Swift's task pool: two
// or three thread wakeups a second for queues that were almost always empty, about a sixth of
// an idle daemon's CPU time on the emulated bench machine.
#if canImport(Glibc)
import Glibc
#endif

/// A doorbell from the audio threads to the event log.
public final class EventBell: Sendable {
    private let wakeup: Wakeup

    public init() throws(DaemonError) {
        wakeup = try Wakeup()
    }

    /// Says an event is queued. Audio thread: one system call, never blocks, never allocates.
    @inline(__always)
    func ring() {
        wakeup.signal()
    }

    /// Sleeps until the bell rings (or `milliseconds` pass; -1: no limit), then resets it.
    /// Returns false when poll() failed for another reason than a signal.
    func wait(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: wakeup.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, milliseconds)
        if ready > 0 { wakeup.drain() }
        return ready >= 0 || errno == EINTR
    }
}
