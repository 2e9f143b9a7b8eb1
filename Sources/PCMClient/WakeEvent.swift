// The doorbell of a connection's I/O thread: an eventfd that API calls ring when they queue bytes
// or close. It replaced a socketpair, whose write end raised SIGPIPE, and killed the host
// process, when a wake raced the I/O thread closing the reading end. An eventfd has no peer, so
// a write to it can never raise a signal; and because the connection core owns it until the
// core itself goes away, a late wake never lands on a descriptor number the application reused.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CLinux
import SystemPackage

/// A non-blocking, close-on-exec eventfd, closed when the last owner lets go.
final class WakeEvent: Sendable {
    /// The descriptor; valid for the whole life of this object.
    let fd: Int32

    init() throws(PCMClientError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw .system(call: "eventfd", errno: .current) }
        self.fd = fd
    }

    deinit { _ = Glibc.close(fd) }  // nothing to tell anyone: the descriptor is gone either way

    /// Makes the next (or current) poll on ``fd`` return. Never blocks, never raises a signal.
    func signal() {
        _ = eventfd_write(fd, 1)  // fails only when the counter is saturated, i.e. already signalled
    }

    /// Clears the pending signals once poll reported ``fd`` readable.
    func drain() {
        var value: eventfd_t = 0
        _ = eventfd_read(fd, &value)  // EAGAIN: nothing was pending, which is fine
    }
}
