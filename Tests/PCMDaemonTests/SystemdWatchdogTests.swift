// Tests for the watchdog rule (ping only while every audio thread completes periods) and for the
// service that applies it: pings while progressing, silence while stalled, STOPPING=1 at shutdown.
import Logging
import PCMBufferCore
import PCMDaemon
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import SystemPackage
import Testing

/// A notifier that records what would have been sent, optionally failing every send.
final class RecordingNotifier: SystemdNotifying {
    private let sent = Locked<[[SystemdNotification]]>([])
    private let failure: SystemdNotifyError?

    init(failingWith failure: SystemdNotifyError? = nil) {
        self.failure = failure
    }

    var messages: [[SystemdNotification]] { sent.withLock { $0 } }

    func count(of notification: SystemdNotification) -> Int {
        sent.withLock { $0.filter { $0.contains(notification) }.count }
    }

    func notify(_ notifications: [SystemdNotification]) throws(SystemdNotifyError) -> Bool {
        if let failure { throw failure }
        _ = try SystemdNotification.message(for: notifications)  // the same checks as the real one
        sent.withLock { $0.append(notifications) }
        return true
    }
}

/// A fake audio thread's period counter that the test moves by hand, counting how often the
/// watchdog looked at it.
final class ManualProgress: Sendable {
    let periods = Atomic<UInt64>(0)
    let looks = Atomic<Int>(0)
    /// While true, every look finds one more period completed (a healthy audio thread).
    let advancing = Atomic<Bool>(true)

    func sample() -> [AudioThreadProgress] {
        looks.add(1, ordering: .relaxed)
        if advancing.load(ordering: .relaxed) { periods.add(1, ordering: .relaxed) }
        return [AudioThreadProgress(name: "hw:0,0 playback", periods: periods.load(ordering: .relaxed))]
    }

    /// Waits (up to a generous limit, for a loaded machine) until the watchdog looked `count` more times.
    func waitForLooks(_ count: Int) async throws {
        let target = looks.load(ordering: .relaxed) + count
        for _ in 0..<2_000 where looks.load(ordering: .relaxed) < target {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(looks.load(ordering: .relaxed) >= target, "the watchdog stopped looking")
    }
}

@Suite("audio progress watchdog rule")
struct AudioProgressWatchdogTests {
    func threads(_ pairs: (String, UInt64)...) -> [AudioThreadProgress] {
        pairs.map { AudioThreadProgress(name: $0.0, periods: $0.1) }
    }

    @Test("threads seen for the first time count as progressing")
    func firstLook() {
        var watchdog = AudioProgressWatchdog()
        #expect(watchdog.check(threads(("playback", 0), ("capture", 0))) == .progressing)
    }

    @Test("no running audio thread is not a stall")
    func noThreads() {
        var watchdog = AudioProgressWatchdog()
        #expect(watchdog.check([]) == .progressing)
        #expect(watchdog.check([]) == .progressing)
    }

    @Test("every thread advanced: alive; one did not: stalled, naming only that one")
    func partialStall() {
        var watchdog = AudioProgressWatchdog()
        _ = watchdog.check(threads(("playback", 10), ("capture", 20)))
        #expect(watchdog.check(threads(("playback", 11), ("capture", 25))) == .progressing)
        let verdict = watchdog.check(threads(("playback", 11), ("capture", 30)))
        #expect(verdict == .stalled(["playback"]))
        #expect(!verdict.isAlive)
        #expect(watchdog.check(threads(("playback", 11), ("capture", 30))) == .stalled(["playback", "capture"]))
    }

    @Test("a stall ends as soon as the thread completes a period again")
    func recovery() {
        var watchdog = AudioProgressWatchdog()
        _ = watchdog.check(threads(("playback", 5)))
        #expect(watchdog.check(threads(("playback", 5))) == .stalled(["playback"]))
        #expect(watchdog.check(threads(("playback", 5))) == .stalled(["playback"]))
        #expect(watchdog.check(threads(("playback", 6))) == .progressing)
    }

    @Test("a counter that wraps around or restarts from zero counts as progress")
    func wrapAndReset() {
        var watchdog = AudioProgressWatchdog()
        _ = watchdog.check(threads(("playback", .max)))
        #expect(watchdog.check(threads(("playback", 0))) == .progressing)
        _ = watchdog.check(threads(("playback", 1000)))
        #expect(watchdog.check(threads(("playback", 3))) == .progressing)
    }

    @Test("a thread that stops running is forgotten; one that appears is judged from its second look")
    func threadsComeAndGo() {
        var watchdog = AudioProgressWatchdog()
        _ = watchdog.check(threads(("hw:0,0 playback", 7)))
        #expect(watchdog.check([]) == .progressing)
        // Back with the same counter value: a new thread, not a stalled old one.
        #expect(watchdog.check(threads(("hw:0,0 playback", 7))) == .progressing)
        #expect(watchdog.check(threads(("hw:0,0 playback", 7), ("hw:1,0 capture", 0))) == .stalled(["hw:0,0 playback"]))
    }

    @Test("two running threads with one name withhold the ping, then the rule starts afresh")
    func ambiguousNames() {
        var watchdog = AudioProgressWatchdog()
        let verdict = watchdog.check(threads(("dup", 1), ("other", 1), ("dup", 2), ("dup", 3)))
        #expect(verdict == .ambiguousNames(["dup"]))
        #expect(!verdict.isAlive)
        #expect(watchdog.check(threads(("dup", 3), ("other", 1))) == .progressing)
        #expect(watchdog.check(threads(("dup", 4), ("other", 2))) == .progressing)
    }
}

@Suite("systemd watchdog service")
struct SystemdWatchdogServiceTests {
    let logger = Logger(label: "test.systemd-watchdog")

    @Test("looks every half WatchdogSec=; no interval without a watchdog")
    func interval() {
        let on = SystemdWatchdogService(notifier: RecordingNotifier(), timeout: .seconds(10), logger: logger) { [] }
        #expect(on.checkInterval == .seconds(5))
        let off = SystemdWatchdogService(notifier: RecordingNotifier(), timeout: nil, logger: logger) { [] }
        #expect(off.checkInterval == nil)
    }

    @Test("pings while the audio thread progresses, stops while it stalls, resumes, then STOPPING=1")
    func pingsFollowProgress() async throws {
        let notifier = RecordingNotifier()
        let progress = ManualProgress()
        let service = SystemdWatchdogService(notifier: notifier, timeout: .milliseconds(20), logger: logger) {
            progress.sample()
        }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }

                try await progress.waitForLooks(4)
                #expect(notifier.count(of: .watchdog) >= 3)

                progress.advancing.store(false, ordering: .relaxed)
                // The look that sees the last advance may still ping; none after it may.
                try await progress.waitForLooks(1)
                let pingsAtStall = notifier.count(of: .watchdog)
                try await progress.waitForLooks(5)
                #expect(notifier.count(of: .watchdog) == pingsAtStall, "a stalled audio thread must stop the pings")

                progress.advancing.store(true, ordering: .relaxed)
                try await progress.waitForLooks(3)
                #expect(notifier.count(of: .watchdog) >= pingsAtStall + 2, "pings must resume with progress")
                #expect(notifier.count(of: .stopping) == 0)

                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(notifier.messages.last == [.stopping])
        #expect(notifier.count(of: .stopping) == 1)
    }

    @Test("without a watchdog it never pings and only says STOPPING=1 at shutdown")
    func withoutWatchdog() async throws {
        let notifier = RecordingNotifier()
        let progress = ManualProgress()
        let service = SystemdWatchdogService(notifier: notifier, timeout: nil, logger: logger) { progress.sample() }
        await testGracefulShutdown { trigger in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                try? await Task.sleep(for: .milliseconds(50))
                #expect(notifier.messages.isEmpty)
                trigger.triggerGracefulShutdown()
                await group.waitForAll()
            }
        }
        #expect(notifier.messages == [[.stopping]])
        #expect(progress.looks.load(ordering: .relaxed) == 0)
    }

    @Test("cancellation (the group failing) also ends it with STOPPING=1")
    func cancellation() async throws {
        let notifier = RecordingNotifier()
        let progress = ManualProgress()
        let service = SystemdWatchdogService(notifier: notifier, timeout: .milliseconds(20), logger: logger) {
            progress.sample()
        }
        let task = Task { await service.run() }
        try await progress.waitForLooks(2)
        task.cancel()
        await task.value
        #expect(notifier.messages.last == [.stopping])
    }

    @Test("a notifier that fails does not stop the service: it keeps looking and ends normally")
    func failingNotifier() async throws {
        let notifier = RecordingNotifier(failingWith: .sendFailed(.connectionRefused))
        let progress = ManualProgress()
        let service = SystemdWatchdogService(notifier: notifier, timeout: .milliseconds(20), logger: logger) {
            progress.sample()
        }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                try await progress.waitForLooks(3)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(notifier.messages.isEmpty)
        #expect(progress.looks.load(ordering: .relaxed) >= 3)
    }

    @Test("the status line is sent at each look, but only when it changed")
    func statusOnChange() async throws {
        let notifier = RecordingNotifier()
        let progress = ManualProgress()
        let xruns = Atomic<Int>(0)
        let service = SystemdWatchdogService(
            notifier: notifier, timeout: .milliseconds(20), logger: logger,
            status: { "hw:0,0 s16 48000 Hz; \(xruns.load(ordering: .relaxed)) xruns" }
        ) { progress.sample() }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                try await progress.waitForLooks(4)
                xruns.store(1, ordering: .relaxed)
                try await progress.waitForLooks(4)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        let statuses = notifier.messages.flatMap { $0 }.compactMap { notification -> String? in
            if case .status(let text) = notification { return text }
            return nil
        }
        #expect(statuses == ["hw:0,0 s16 48000 Hz; 0 xruns", "hw:0,0 s16 48000 Hz; 1 xruns"])
        #expect(notifier.count(of: .watchdog) >= 6)
    }

    @Test("without a watchdog the status line still follows changes, and no ping is sent")
    func statusWithoutWatchdog() async throws {
        let notifier = RecordingNotifier()
        let asked = Atomic<Int>(0)
        let service = SystemdWatchdogService(
            notifier: notifier, timeout: nil, logger: logger,
            status: { "streams: \(asked.add(1, ordering: .relaxed).newValue >= 3 ? 1 : 0)" },
            statusInterval: .milliseconds(10)
        ) { [] }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                for _ in 0..<2_000 where asked.load(ordering: .relaxed) < 5 {
                    try await Task.sleep(for: .milliseconds(5))
                }
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(notifier.messages.dropLast() == [[.status("streams: 0")], [.status("streams: 1")]])
        #expect(notifier.messages.last == [.stopping])
        #expect(notifier.count(of: .watchdog) == 0)
    }

    @Test("a status line that cannot be sent is dropped; the pings go on")
    func unsendableStatus() async throws {
        let notifier = RecordingNotifier()
        let progress = ManualProgress()
        let service = SystemdWatchdogService(
            notifier: notifier, timeout: .milliseconds(20), logger: logger, status: { "two\nlines" }
        ) { progress.sample() }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                try await progress.waitForLooks(4)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(notifier.count(of: .watchdog) >= 3)
        #expect(!notifier.messages.flatMap { $0 }.contains { if case .status = $0 { true } else { false } })
    }

    @Test("it names its timeout in the service group's log")
    func description() {
        let service = SystemdWatchdogService(notifier: RecordingNotifier(), timeout: .seconds(10), logger: logger) { [] }
        #expect(service.description == "SystemdWatchdogService(timeout: 10.0 seconds)")
    }
}
