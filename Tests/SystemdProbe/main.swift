// pcmd-systemd-probe: a test fixture that runs PCMDaemon's systemd integration in a process of
// its own, so that the tests can hand it what systemd hands pcmd (an inherited socket at
// descriptor 3, NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM) without changing the environment of
// the test process, whose other tests run in parallel.
//
//   pcmd-systemd-probe listen   take the socket-activated listener, report it on stdout, serve
//                               one client, exit 0; exit 2 with "error: ..." when it is unusable.
//   pcmd-systemd-probe notify   READY=1, then a fake audio thread that progresses, stalls and
//                               resumes under SystemdWatchdogService, then STOPPING=1 on SIGTERM.
//   pcmd-systemd-probe environment  read the watchdog's variables and send READY=1 once; report
//                               both outcomes on stdout (the protocols pcmd speaks without libsystemd).
import Foundation
import Logging
import PCMDaemon
import ServiceLifecycle
import Synchronization
import SystemPackage
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to stdout at once (the tests read it while the probe keeps running).
func report(_ line: String) {
    print(line)
    fflush(nil)  // all streams: stdout is a C global Swift 6 will not touch
}

// MARK: listen

/// Takes the inherited listening socket and serves exactly one client with a greeting.
func listen() -> Int32 {
    let socket: SystemdListeningSocket?
    do {
        socket = try SystemdSocketActivation.takeListeningSocket()
    } catch {
        report("error: \(error)")
        return 2
    }
    let environmentCleared = getenv("LISTEN_FDS") == nil && getenv("LISTEN_PID") == nil
    guard let socket else {
        report("no-socket env-cleared=\(environmentCleared)")
        return 0
    }
    let path = socket.boundPath() ?? "-"
    let descriptor = socket.take()
    let closeOnExec = fcntl(descriptor.rawValue, F_GETFD) & FD_CLOEXEC != 0
    report("socket fd=\(descriptor.rawValue) path=\(path) env-cleared=\(environmentCleared) cloexec=\(closeOnExec)")
    let client = accept(descriptor.rawValue, nil, nil)
    guard client >= 0 else {
        report("error: accept failed: \(Errno(rawValue: errno))")
        return 2
    }
    let greeting = Array("hello from the inherited socket\n".utf8)
    let written = greeting.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
    close(client)
    try? descriptor.close()  // the probe exits next; nothing depends on this close
    return written == greeting.count ? 0 : 2
}

// MARK: notify

/// A fake audio thread: a real OS thread that completes a "period" every millisecond, and can be
/// stalled and resumed with an acknowledged handshake, so the probe knows when the counter has
/// really stopped moving.
final class FakeAudioThread: Sendable {
    /// What the thread is asked to do, and what it has done.
    enum Phase: Int {
        /// Completing periods.
        case running = 0
        /// Asked to stop completing periods.
        case stallRequested = 1
        /// Completing no periods (acknowledged by the thread).
        case stalled = 2
    }

    let periods = Atomic<UInt64>(0)
    let phase = Atomic<Int>(Phase.running.rawValue)

    func start() {
        Thread.detachNewThread { [self] in
            while true {
                switch Phase(rawValue: phase.load(ordering: .acquiring)) {
                case .running: periods.add(1, ordering: .releasing)
                case .stallRequested: phase.store(Phase.stalled.rawValue, ordering: .releasing)
                case .stalled, nil: break
                }
                usleep(1_000)
            }
        }
    }

    func stall() async {
        phase.store(Phase.stallRequested.rawValue, ordering: .releasing)
        while phase.load(ordering: .acquiring) != Phase.stalled.rawValue {
            try? await Task.sleep(for: .milliseconds(1))  // never cancelled in the probe
        }
    }

    func resume() {
        phase.store(Phase.running.rawValue, ordering: .releasing)
    }
}

/// How many times the watchdog has looked at the fake audio thread.
final class CheckCounter: Sendable {
    let value = Atomic<Int>(0)

    /// Waits until the watchdog has looked `count` more times than now.
    func waitForMore(_ count: Int) async {
        let target = value.load(ordering: .acquiring) + count
        while value.load(ordering: .acquiring) < target {
            try? await Task.sleep(for: .milliseconds(5))  // never cancelled in the probe
        }
    }
}

/// The daemon's part in the scenario: readiness, then progress, stall and resume, each announced
/// with a STATUS= marker that the test orders the WATCHDOG=1 pings by (one sender, one socket:
/// the datagrams arrive in the order sent).
struct Scenario: Service {
    let audio: FakeAudioThread
    let checks: CheckCounter
    let notifier = SystemdNotifier()

    func run() async throws {
        audio.start()
        try notifier.ready(status: "probe: streaming")
        await checks.waitForMore(4)
        await audio.stall()
        try notifier.status("probe: audio stalled")
        await checks.waitForMore(4)
        audio.resume()
        try notifier.status("probe: audio resumed")
        await checks.waitForMore(3)
        try notifier.status("probe: waiting for SIGTERM")
        try await gracefulShutdown()
    }
}

/// Runs the scenario and the watchdog service in one ServiceGroup, as pcmd does.
func notify() async -> Int32 {
    LoggingSystem.bootstrap { label in
        var handler = JournalLogHandler(label: label)
        handler.logLevel = .debug
        return handler
    }
    let logger = Logger(label: "pcmd-systemd-probe")
    let timeout: Duration?
    do {
        timeout = try SystemdNotifier.watchdogTimeout()
    } catch {
        report("error: \(error)")
        return 2
    }
    guard let timeout else {
        report("error: no watchdog: set WATCHDOG_USEC")
        return 2
    }
    let audio = FakeAudioThread()
    let checks = CheckCounter()
    let watchdog = SystemdWatchdogService(timeout: timeout, logger: logger) {
        checks.value.add(1, ordering: .releasing)
        return [AudioThreadProgress(name: "probe playback", periods: audio.periods.load(ordering: .acquiring))]
    }
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: Scenario(audio: audio, checks: checks)), .init(service: watchdog)],
            gracefulShutdownSignals: [.sigterm],
            logger: logger
        ))
    do {
        try await group.run()
    } catch {
        report("error: \(error)")
        return 2
    }
    report("stopped")
    return 0
}

// MARK: environment

/// What pcmd makes of WATCHDOG_USEC / WATCHDOG_PID, and of NOTIFY_SOCKET when it sends READY=1.
func environment() -> Int32 {
    do {
        let timeout = try SystemdNotifier.watchdogTimeout()
        report("watchdog=\(timeout.map { "\($0)" } ?? "off")")
    } catch {
        report("watchdog=error: \(error)")
    }
    do {
        report("notify=\(try SystemdNotifier().ready(status: "probe: environment"))")
    } catch {
        report("notify=error: \(error)")
    }
    return 0
}

// MARK: main

switch CommandLine.arguments.dropFirst().first {
case "listen":
    exit(listen())
case "notify":
    exit(await notify())
case "environment":
    exit(environment())
default:
    report("usage: pcmd-systemd-probe listen|notify|environment")
    exit(64)
}
