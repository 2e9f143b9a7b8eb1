// The systemd side of pcmd's lifetime as a swift-service-lifecycle Service: every half
// WatchdogSec= it looks at the audio threads' period counters and sends WATCHDOG=1 only when all of
// them moved; it keeps the STATUS= line of `systemctl status` current; when graceful shutdown
// reaches it, it sends STOPPING=1.
import Logging
import ServiceLifecycle

/// Pings systemd's watchdog while the audio threads make progress, keeps `STATUS=` current, and
/// announces shutdown.
///
/// Add it to the daemon's `ServiceGroup` **last**: the group shuts services down in reverse order,
/// so this one is told first and `STOPPING=1` goes out as shutdown begins, before the devices
/// drain. Without a watchdog (`WatchdogSec=` unset, or outside systemd) and without a status line
/// it only waits for shutdown.
///
/// A stall is logged once when it begins and once when progress resumes, not at every look.
public struct SystemdWatchdogService: Service, CustomStringConvertible {
    private let notifier: any SystemdNotifying
    private let timeout: Duration?
    private let progress: @Sendable () -> [AudioThreadProgress]
    private let status: (@Sendable () -> String)?
    private let statusInterval: Duration
    private let logger: Logger

    /// - Parameters:
    ///   - notifier: where `WATCHDOG=1` and `STOPPING=1` go.
    ///   - timeout: systemd's `WatchdogSec=` (``SystemdNotifier/watchdogTimeout()``); nil turns the
    ///     pings off. The service looks at the audio threads every half of it.
    ///   - logger: receives stall and resume messages.
    ///   - status: the current one-line state for `systemctl status` (device, format, streams,
    ///     xruns), or nil for none. Asked at every look, or every `statusInterval` without a
    ///     watchdog; sent only when it changed.
    ///   - statusInterval: how often the status is asked when there is no watchdog to set the pace.
    ///   - progress: the running audio threads' period counters, sampled without blocking them
    ///     (atomic loads). Called from the service's task, never from an audio thread.
    public init(
        notifier: any SystemdNotifying = SystemdNotifier(),
        timeout: Duration?,
        logger: Logger,
        status: (@Sendable () -> String)? = nil,
        statusInterval: Duration = .seconds(5),
        progress: @escaping @Sendable () -> [AudioThreadProgress]
    ) {
        self.notifier = notifier
        self.timeout = timeout
        self.logger = logger
        self.status = status
        self.statusInterval = statusInterval
        self.progress = progress
    }

    /// How often the audio threads are looked at: half the watchdog timeout, so that one late
    /// look still lands inside it. Nil when the watchdog is off.
    public var checkInterval: Duration? {
        timeout.map { $0 / 2 }
    }

    /// How the service group names it in its log.
    public var description: String {
        "SystemdWatchdogService(timeout: \(timeout.map { "\($0)" } ?? "off"))"
    }

    /// Runs until graceful shutdown or cancellation, then sends `STOPPING=1`.
    ///
    /// Failures to notify are logged, not thrown: losing contact with systemd must not stop the
    /// sound server (systemd itself restarts it if the pings stop arriving).
    public func run() async {
        let watchdogInterval = checkInterval.flatMap { $0 > .zero ? $0 : nil }
        if let interval = watchdogInterval ?? (status != nil && statusInterval > .zero ? statusInterval : nil) {
            if let watchdogInterval { logger.debug("systemd watchdog on", metadata: ["interval": "\(watchdogInterval)"]) }
            await cancelWhenGracefulShutdown { [self] in await look(every: interval, watchdog: watchdogInterval != nil) }
        } else {
            // Only CancellationError can end the wait early; both endings mean "stop now".
            try? await gracefulShutdown()
        }
        notifier.notify([.stopping], orWarn: logger)
    }

    /// The loop: pings while progressing (when `watchdog`), refreshes the status line; returns
    /// when the task is cancelled (graceful shutdown cancels it).
    private func look(every interval: Duration, watchdog pinging: Bool) async {
        var watchdog = AudioProgressWatchdog()
        var lastVerdict = AudioProgressVerdict.progressing
        var lastStatus: String?
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return  // cancelled: graceful shutdown or the group stopping
            }
            if let status {
                let text = status()
                if text != lastStatus {
                    notifier.notify([.status(text)], orWarn: logger)
                    lastStatus = text
                }
            }
            guard pinging else { continue }
            let verdict = watchdog.check(progress())
            report(verdict, after: lastVerdict, interval: interval)
            lastVerdict = verdict
            if verdict.isAlive { notifier.notify([.watchdog], orWarn: logger) }
        }
    }

    /// Logs changes between health and stall; repeated identical verdicts stay quiet.
    private func report(_ verdict: AudioProgressVerdict, after last: AudioProgressVerdict, interval: Duration) {
        guard verdict != last else { return }
        switch verdict {
        case .progressing:
            logger.notice("audio threads are making progress again; systemd watchdog pings resumed")
        case .stalled(let names):
            logger.error(
                "audio thread stalled: no period completed in \(interval); withholding WATCHDOG=1 so that systemd restarts pcmd",
                metadata: ["threads": "\(names.joined(separator: ", "))"])
        case .ambiguousNames(let names):
            logger.error(
                "audio threads share names, their progress cannot be told apart; withholding WATCHDOG=1",
                metadata: ["names": "\(names.joined(separator: ", "))"])
        }
    }
}
