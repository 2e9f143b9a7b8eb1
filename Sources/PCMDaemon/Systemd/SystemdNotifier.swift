// Tells systemd what pcmd is doing (readiness, status, reload, stop, watchdog) with the
// sd_notify(3) protocol (NotifySocket). Outside systemd (no NOTIFY_SOCKET) every call is a cheap
// no-op, so the daemon calls it unconditionally.
import Logging
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Something that delivers notifications to the service manager.
///
/// ``SystemdNotifier`` is the real one; the protocol lets the watchdog and the daemon be tested
/// with a recorder instead of a socket.
public protocol SystemdNotifying: Sendable {
    /// Sends `notifications` as one message.
    ///
    /// - Returns: `true` when the message was delivered, `false` when there is no service manager
    ///   to tell (not started by systemd).
    /// - Throws: ``SystemdNotifyError`` when the text cannot be sent or delivery failed.
    @discardableResult
    func notify(_ notifications: [SystemdNotification]) throws(SystemdNotifyError) -> Bool
}

extension SystemdNotifying {
    /// `READY=1`, with an optional first `STATUS=` line in the same message.
    @discardableResult
    public func ready(status: String? = nil) throws(SystemdNotifyError) -> Bool {
        try notify([.ready] + (status.map { [.status($0)] } ?? []))
    }

    /// `STATUS=text`: what `systemctl status` shows (device, format, streams, xruns).
    @discardableResult
    public func status(_ text: String) throws(SystemdNotifyError) -> Bool {
        try notify([.status(text)])
    }

    /// `RELOADING=1` with the current `MONOTONIC_USEC=`, and an optional `STATUS=`.
    /// Call ``ready(status:)`` when the reload is done.
    @discardableResult
    public func reloading(status: String? = nil) throws(SystemdNotifyError) -> Bool {
        try notify([.reloadingNow()] + (status.map { [.status($0)] } ?? []))
    }

    /// `STOPPING=1`, with an optional `STATUS=`.
    @discardableResult
    public func stopping(status: String? = nil) throws(SystemdNotifyError) -> Bool {
        try notify([.stopping] + (status.map { [.status($0)] } ?? []))
    }

    /// `WATCHDOG=1`.
    @discardableResult
    public func watchdog() throws(SystemdNotifyError) -> Bool {
        try notify([.watchdog])
    }

    /// `ERRNO=` (and an optional `STATUS=`): why the service is failing.
    @discardableResult
    public func failing(errno: Errno, status: String? = nil) throws(SystemdNotifyError) -> Bool {
        try notify([.errno(errno.rawValue)] + (status.map { [.status($0)] } ?? []))
    }

    /// `EXTEND_TIMEOUT_USEC=`: the current start, reload or stop step needs `duration` more.
    @discardableResult
    public func extendTimeout(by duration: Duration) throws(SystemdNotifyError) -> Bool {
        try notify([.extendTimeout(microseconds: duration.wholeMicroseconds)])
    }
}

extension SystemdNotifying {
    /// Sends `notifications` as one message; a failure is logged as a warning, not thrown.
    ///
    /// For the daemon's call sites: losing contact with systemd must not stop the sound server
    /// (if the pings stop arriving, systemd itself restarts it).
    public func notify(_ notifications: [SystemdNotification], orWarn logger: Logger) {
        do {
            try notify(notifications)
        } catch {
            logger.warning("could not notify systemd", metadata: [
                "systemd.message": "\(notifications.map(\.assignment).joined(separator: " "))", "error": "\(error)",
            ])
        }
    }
}

/// The service manager's notification socket (`sd_notify(3)`'s protocol).
///
/// It reads `NOTIFY_SOCKET` on every call and never unsets it, so the watchdog can keep pinging
/// for the life of the process. Safe to use from any thread; never use it on the audio thread
/// (it is a socket send).
public struct SystemdNotifier: SystemdNotifying {
    public init() {}

    /// Whether a service manager is listening (`NOTIFY_SOCKET` is set and not empty, as `notify` reads it).
    public var isEnabled: Bool {
        getenv("NOTIFY_SOCKET").map { $0.pointee != 0 } ?? false
    }

    /// Sends `notifications` as one datagram to `NOTIFY_SOCKET` (what `sd_notify` does).
    @discardableResult
    public func notify(_ notifications: [SystemdNotification]) throws(SystemdNotifyError) -> Bool {
        try NotifySocket.send(try SystemdNotification.message(for: notifications))
    }

    /// The `WatchdogSec=` the service manager expects pings within, or nil when the watchdog is
    /// off (no `WATCHDOG_USEC`, or it is meant for another process: `WATCHDOG_PID`), read as
    /// `sd_watchdog_enabled(3)` reads them.
    public static func watchdogTimeout() throws(SystemdWatchdogError) -> Duration? {
        guard let usecText = getenv("WATCHDOG_USEC").map({ String(cString: $0) }) else { return nil }
        // A whole number of microseconds above zero and below systemd's "infinity" (UINT64_MAX).
        guard let microseconds = UInt64(usecText), microseconds > 0, microseconds < .max else {
            throw .invalidEnvironment(Errno(rawValue: EINVAL))
        }
        if let pidText = getenv("WATCHDOG_PID").map({ String(cString: $0) }) {
            guard let pid = Int32(pidText), pid > 0 else { throw .invalidEnvironment(Errno(rawValue: EINVAL)) }
            if pid != getpid() { return nil }
        }
        return .microseconds(Int64(clamping: microseconds))
    }
}

/// Why the watchdog settings systemd passed cannot be used.
public enum SystemdWatchdogError: Error, Hashable, CustomStringConvertible {
    /// `WATCHDOG_USEC` or `WATCHDOG_PID` is malformed (EINVAL, as `sd_watchdog_enabled` says).
    case invalidEnvironment(Errno)

    public var description: String {
        switch self {
        case .invalidEnvironment(let errno):
            "malformed WATCHDOG_USEC or WATCHDOG_PID in the environment: \(errno)"
        }
    }
}

extension Duration {
    /// This duration in whole microseconds, rounded down; negative durations count as zero.
    var wholeMicroseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }
}
