// Tests for the notification messages pcmd sends to systemd: the exact text of each assignment,
// the refusal of status text that would corrupt a message, and the no-op outside systemd.
import PCMDaemon
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd notification messages")
struct SystemdNotificationTests {
    @Test("each notification becomes its sd_notify assignment")
    func assignments() {
        #expect(SystemdNotification.ready.assignment == "READY=1")
        #expect(SystemdNotification.stopping.assignment == "STOPPING=1")
        #expect(SystemdNotification.watchdog.assignment == "WATCHDOG=1")
        #expect(SystemdNotification.status("hw:0,0 s16 48000 Hz, 2 streams, 0 xruns").assignment
            == "STATUS=hw:0,0 s16 48000 Hz, 2 streams, 0 xruns")
        #expect(SystemdNotification.errno(19).assignment == "ERRNO=19")
        #expect(SystemdNotification.reloading(monotonicMicroseconds: 1_234_567).assignment
            == "RELOADING=1\nMONOTONIC_USEC=1234567")
        #expect(SystemdNotification.extendTimeout(microseconds: 5_000_000).assignment == "EXTEND_TIMEOUT_USEC=5000000")
    }

    @Test("several notifications make one message, one assignment per line, in order")
    func message() throws {
        let text = try SystemdNotification.message(for: [.ready, .status("streaming"), .watchdog])
        #expect(text == "READY=1\nSTATUS=streaming\nWATCHDOG=1")
    }

    @Test("RELOADING=1 is stamped with the current CLOCK_MONOTONIC time")
    func reloadingStamp() {
        var before = timespec()
        clock_gettime(CLOCK_MONOTONIC, &before)
        let notification = SystemdNotification.reloadingNow()
        var after = timespec()
        clock_gettime(CLOCK_MONOTONIC, &after)
        let low = UInt64(before.tv_sec) * 1_000_000 + UInt64(before.tv_nsec) / 1_000
        let high = UInt64(after.tv_sec) * 1_000_000 + UInt64(after.tv_nsec) / 1_000
        guard case .reloading(let stamp) = notification else {
            Issue.record("reloadingNow() gave \(notification)")
            return
        }
        #expect(stamp >= low && stamp <= high)
    }

    @Test("status text with a line break or NUL is refused, naming the character", arguments: [
        ("a\nREADY=1", UInt32(0x0A)), ("carriage\rreturn", UInt32(0x0D)), ("nul\0byte", UInt32(0x00)),
    ])
    func invalidStatus(text: String, character: UInt32) {
        #expect(throws: SystemdNotifyError.invalidStatus(text: text, character: character)) {
            try SystemdNotification.message(for: [.ready, .status(text)])
        }
    }

    @Test("the refusal says what is wrong")
    func invalidStatusDescription() {
        let error = SystemdNotifyError.invalidStatus(text: "a\nb", character: 0x0A)
        #expect(error.description.contains("U+000A"))
        #expect(error.description.contains("one line"))
    }

    @Test("an empty message is refused")
    func emptyMessage() {
        #expect(throws: SystemdNotifyError.emptyMessage) {
            try SystemdNotification.message(for: [])
        }
    }

    @Test("the conveniences send the documented notifications together")
    func conveniences() throws {
        let recorder = RecordingNotifier()
        try recorder.ready(status: "up")
        try recorder.ready()
        try recorder.status("playing")
        try recorder.stopping(status: "draining")
        try recorder.watchdog()
        try recorder.failing(errno: .operationNotSupportedByDevice, status: "card gone")
        try recorder.extendTimeout(by: .milliseconds(2_500))
        try recorder.reloading(status: "reopening")
        let sent = recorder.messages
        try #require(sent.count == 8)
        #expect(sent[0] == [.ready, .status("up")])
        #expect(sent[1] == [.ready])
        #expect(sent[2] == [.status("playing")])
        #expect(sent[3] == [.stopping, .status("draining")])
        #expect(sent[4] == [.watchdog])
        #expect(sent[5] == [.errno(Errno.operationNotSupportedByDevice.rawValue), .status("card gone")])
        #expect(sent[6] == [.extendTimeout(microseconds: 2_500_000)])
        #expect(sent[7].count == 2)
        if case .reloading = sent[7][0] {} else { Issue.record("reloading(status:) sent \(sent[7])") }
        #expect(sent[7][1] == .status("reopening"))
    }

    @Test("a convenience with bad status text sends nothing")
    func convenienceRefusal() {
        let recorder = RecordingNotifier()
        #expect(throws: SystemdNotifyError.self) { try recorder.ready(status: "two\nlines") }
        #expect(recorder.messages.isEmpty)
    }

    @Test("outside systemd (no NOTIFY_SOCKET) sd_notify is a no-op that reports nothing delivered",
          .enabled(if: getenv("NOTIFY_SOCKET") == nil, "this test process runs under a service manager"))
    func noServiceManager() throws {
        let notifier = SystemdNotifier()
        #expect(!notifier.isEnabled)
        #expect(try notifier.ready(status: "not under systemd") == false)
        #expect(try notifier.watchdog() == false)
    }

    @Test("outside systemd the watchdog is off",
          .enabled(if: getenv("WATCHDOG_USEC") == nil, "this test process runs under a systemd watchdog"))
    func noWatchdog() throws {
        #expect(try SystemdNotifier.watchdogTimeout() == nil)
    }
}
