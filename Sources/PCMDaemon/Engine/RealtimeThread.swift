// A dedicated OS thread for one device's period loop, with the scheduling it asked for and an
// eventfd that other threads use to wake it out of poll(). Swift concurrency's cooperative pool
// is the wrong place for a loop that blocks in poll() and must run on time, so this is a pthread.
#if canImport(Glibc)
import Glibc
#endif
import CLinux
import PCMBufferCore
import Synchronization

/// What scheduling a real-time thread actually got, reported once in the log.
public enum SchedulingOutcome: Sendable, Equatable, CustomStringConvertible {
    /// SCHED_FIFO at the given priority.
    case realtime(priority: Int32)
    /// SCHED_FIFO was not asked for (priority 0).
    case notRequested
    /// SCHED_FIFO was refused (errno); the thread runs under the normal scheduler.
    case refused(errno: Int32)

    public var description: String {
        switch self {
        case .realtime(let priority): "SCHED_FIFO priority \(priority)"
        case .notRequested: "normal scheduling (real-time not requested)"
        case .refused(let code): "normal scheduling (SCHED_FIFO refused: \(String(cString: strerror(code))); "
            + "raise RLIMIT_RTPRIO, e.g. LimitRTPRIO= in the unit or the audio group's limits)"
        }
    }
}

/// A wakeup channel for a thread blocked in poll(): an eventfd any thread may signal.
public struct Wakeup: ~Copyable, @unchecked Sendable {
    // Safety: the fd is only written with eventfd_write/read, which are thread-safe syscalls;
    // it is closed in deinit, after every thread that signals it has been joined.
    public let fd: Int32

    public init() throws(DaemonError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw .system(call: "eventfd", errno: errno) }
        self.fd = fd
    }

    /// Makes the next (or current) poll() on `fd` return. Async-signal-safe, never blocks.
    public func signal() {
        _ = eventfd_write(fd, 1)  // only fails when the counter is saturated, i.e. already signalled
    }

    /// Clears pending signals after poll() reported the fd readable.
    public func drain() {
        var value: eventfd_t = 0
        _ = eventfd_read(fd, &value)  // EAGAIN means nothing was pending, which is fine
    }

    deinit { close(fd) }
}

/// A joinable pthread running one closure, optionally under SCHED_FIFO.
public final class RealtimeThread: Sendable {
    private let handle: Locked<pthread_t?>
    private let report: SchedulingReport

    /// Starts `body` on a new thread named `name` (Linux keeps 15 characters). A priority of 0
    /// means normal scheduling; otherwise SCHED_FIFO is asked for and refusal is not an error.
    public init(name: String, realtimePriority: Int32, body: @escaping @Sendable () -> Void) throws(DaemonError) {
        let report = SchedulingReport()
        let context = ThreadContext(name: name, priority: realtimePriority, body: body, report: report)
        let unmanaged = Unmanaged.passRetained(context)
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, unmanaged.toOpaque())
        guard result == 0 else {
            unmanaged.release()
            throw .system(call: "pthread_create", errno: result)
        }
        self.report = report
        self.handle = Locked(thread)
    }

    /// The scheduling the thread got; nil until the thread has started.
    public var scheduling: SchedulingOutcome? { report.outcome.withLock { $0 } }

    /// Waits for the thread's body to return. Later calls return at once.
    public func join() {
        guard let thread = handle.withLock({ h -> pthread_t? in defer { h = nil }; return h }) else { return }
        pthread_join(thread, nil)
    }
}

/// Where the new thread records what the scheduler granted it.
private final class SchedulingReport: Sendable {
    let outcome = Locked<SchedulingOutcome?>(nil)
}

/// What the new thread needs; retained across pthread_create.
private final class ThreadContext: Sendable {
    let name: String
    let priority: Int32
    let body: @Sendable () -> Void
    let report: SchedulingReport

    init(name: String, priority: Int32, body: @escaping @Sendable () -> Void, report: SchedulingReport) {
        self.name = name
        self.priority = priority
        self.body = body
        self.report = report
    }

    func run() {
        _ = clinux_set_thread_name(String(name.prefix(15)))  // a name is a debugging aid only
        let granted: SchedulingOutcome
        if priority == 0 {
            granted = .notRequested
        } else {
            var parameters = sched_param()
            parameters.sched_priority = priority
            let result = pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters)
            granted = result == 0 ? .realtime(priority: priority) : .refused(errno: result)
        }
        report.outcome.withLock { $0 = granted }
        body()
    }
}
