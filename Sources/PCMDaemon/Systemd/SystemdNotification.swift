// The state changes pcmd reports to systemd (sd_notify(3)), as values: each one knows the
// `KEY=value` line it becomes, and refuses text that would corrupt the newline-separated message.
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One assignment of a service-manager notification message (see `sd_notify(3)`).
///
/// Several notifications are sent together, as one datagram, when they must be seen at once:
/// `RELOADING=1` and its `MONOTONIC_USEC=`, or `READY=1` and the first `STATUS=`.
public enum SystemdNotification: Sendable, Hashable {
    /// `READY=1`: start-up is complete (devices open, socket accepting clients).
    case ready
    /// `RELOADING=1` with `MONOTONIC_USEC=`: a reload (SIGHUP: reopen devices, reread the config)
    /// began at `monotonicMicroseconds` on `CLOCK_MONOTONIC`. Send `ready` when it is done.
    case reloading(monotonicMicroseconds: UInt64)
    /// `STOPPING=1`: shutdown began.
    case stopping
    /// `STATUS=`: one line a person reads in `systemctl status`.
    case status(String)
    /// `WATCHDOG=1`: the service is alive; resets the `WatchdogSec=` timer.
    case watchdog
    /// `ERRNO=`: the errno-style reason the service is failing.
    case errno(Int32)
    /// `EXTEND_TIMEOUT_USEC=`: the current start, reload or stop step needs this much longer.
    case extendTimeout(microseconds: UInt64)

    /// The `KEY=value` line this notification is sent as.
    public var assignment: String {
        switch self {
        case .ready: "READY=1"
        case .reloading(let microseconds): "RELOADING=1\nMONOTONIC_USEC=\(microseconds)"
        case .stopping: "STOPPING=1"
        case .status(let text): "STATUS=\(text)"
        case .watchdog: "WATCHDOG=1"
        case .errno(let code): "ERRNO=\(code)"
        case .extendTimeout(let microseconds): "EXTEND_TIMEOUT_USEC=\(microseconds)"
        }
    }

    /// `RELOADING=1` stamped with the current `CLOCK_MONOTONIC` time, as systemd requires.
    public static func reloadingNow() -> SystemdNotification {
        .reloading(monotonicMicroseconds: SystemdNotification.monotonicMicroseconds())
    }

    /// The current `CLOCK_MONOTONIC` time in microseconds (the clock systemd compares against).
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        // CLOCK_MONOTONIC cannot fail on Linux with a valid pointer; a zero stamp would only make
        // systemd ignore the reload timestamp, never misbehave.
        _ = clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    /// The whole message for `notifications`, one assignment per line, or an error naming the
    /// first text that cannot be sent.
    ///
    /// A status containing a newline would smuggle in a second assignment (a status of
    /// `"x\nREADY=1"` would declare readiness), and a NUL would silently cut the message short.
    public static func message(for notifications: [SystemdNotification]) throws(SystemdNotifyError) -> String {
        guard !notifications.isEmpty else { throw .emptyMessage }
        var lines: [String] = []
        lines.reserveCapacity(notifications.count)
        for notification in notifications {
            if case .status(let text) = notification {
                if let bad = text.unicodeScalars.first(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) {
                    throw .invalidStatus(text: text, character: bad.value)
                }
            }
            lines.append(notification.assignment)
        }
        return lines.joined(separator: "\n")
    }
}

/// Why a notification could not be sent to the service manager.
public enum SystemdNotifyError: Error, Hashable, CustomStringConvertible {
    /// The status text contains a line break or NUL (the Unicode scalar value `character`), which
    /// would split or truncate the message.
    case invalidStatus(text: String, character: UInt32)
    /// No notification was given.
    case emptyMessage
    /// `sd_notify` could not deliver the message (for example, the socket in `NOTIFY_SOCKET` is gone).
    case sendFailed(Errno)

    public var description: String {
        switch self {
        case .invalidStatus(let text, let character):
            "systemd status text must be one line without NUL, but contains U+\(String(character, radix: 16, uppercase: true).leftPadded(to: 4)): \(text.debugDescription)"
        case .emptyMessage:
            "no systemd notification to send"
        case .sendFailed(let errno):
            "sd_notify failed to reach the service manager: \(errno)"
        }
    }
}

extension String {
    /// This string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
