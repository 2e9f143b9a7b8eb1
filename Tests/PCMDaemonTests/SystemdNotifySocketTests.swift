// pcmd's notifications as systemd receives them: the probe runs SystemdNotifier and
// SystemdWatchdogService in a ServiceGroup (as pcmd does) with NOTIFY_SOCKET pointing at a datagram
// socket this test reads, WATCHDOG_USEC set, and its stderr registered as the journal stream.
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd notify socket, end to end")
struct SystemdNotifySocketTests {
    @Test("READY=1 with STATUS=, WATCHDOG=1 only while the audio thread progresses, STOPPING=1 on SIGTERM")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        let receiver = try NotifySocketReceiver(path: directory.path + "/notify")
        let stderrPipe = try OutputPipe()
        let child = try ChildProcess(
            BuildProducts.probe, ["notify"],
            environment: [
                "NOTIFY_SOCKET": receiver.path,
                "WATCHDOG_USEC": "400000",  // looks every 200 ms
                "JOURNAL_STREAM": try stderrPipe.journalStream(),
            ],
            errorOutput: stderrPipe)

        var messages: [String] = []
        while messages.last != "STOPPING=1" {
            guard let message = try await receiver.receive(within: .seconds(60)) else {
                Issue.record("no notification for 60 s; got \(messages)")
                break
            }
            messages.append(message)
            if message == "STATUS=probe: waiting for SIGTERM" { child.terminate() }
        }
        let outcome = try await child.finish()
        while let late = try await receiver.receive(within: .zero) { messages.append(late) }

        #expect(outcome.status == 0, "\(outcome.standardOutput)\n\(outcome.standardError)")
        #expect(messages.first == "READY=1\nSTATUS=probe: streaming")
        func index(of marker: String) throws -> Int {
            try #require(messages.firstIndex(of: marker), "missing \(marker) in \(messages)")
        }
        let stalled = try index(of: "STATUS=probe: audio stalled")
        let resumed = try index(of: "STATUS=probe: audio resumed")
        let waiting = try index(of: "STATUS=probe: waiting for SIGTERM")
        let stopping = try index(of: "STOPPING=1")
        func pings(_ range: Range<Int>) -> Int { messages[range].filter { $0 == "WATCHDOG=1" }.count }

        // Four looks while the fake audio thread runs: each finds progress.
        #expect(pings(0..<stalled) >= 3, "\(messages)")
        // Four looks while it is stalled: only the first may still see the periods completed
        // before the stall; after it, not one ping.
        #expect(pings(stalled..<resumed) <= 1, "\(messages)")
        // Three looks after it resumes: pings again.
        #expect(pings(resumed..<waiting) >= 2, "\(messages)")
        #expect(stopping == messages.count - 1, "nothing may follow STOPPING=1: \(messages)")
        #expect(messages.allSatisfy { !$0.isEmpty })

        // Its stderr was the journal stream: every line carries a syslog priority.
        let lines = outcome.standardError.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("<") && $0.dropFirst(2).hasPrefix(">") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<3>pcmd-systemd-probe: audio thread stalled") })
        #expect(lines.contains { $0.hasPrefix("<5>pcmd-systemd-probe: audio threads are making progress again") })
    }

    @Test("a NOTIFY_SOCKET that does not exist is a clear error, not silence")
    func missingNotifySocket() async throws {
        let directory = try TemporaryDirectory()
        let child = try ChildProcess(
            BuildProducts.probe, ["notify"],
            environment: ["NOTIFY_SOCKET": directory.path + "/gone", "WATCHDOG_USEC": "400000"])
        let outcome = try await child.finish()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("sd_notify failed to reach the service manager"))
        #expect(outcome.standardOutput.contains("No such file or directory"))
        // Not on the journal stream (no JOURNAL_STREAM): plain lines with timestamps.
        #expect(!outcome.standardError.hasPrefix("<"))
    }

    @Test("a malformed WATCHDOG_USEC is a clear error")
    func malformedWatchdog() async throws {
        let outcome = try await ChildProcess(BuildProducts.probe, ["notify"], environment: ["WATCHDOG_USEC": "soon"]).finish()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("error: malformed WATCHDOG_USEC or WATCHDOG_PID"))
    }

    @Test("a watchdog meant for another process (WATCHDOG_PID) is off for this one")
    func watchdogForAnotherProcess() async throws {
        let outcome = try await ChildProcess(
            BuildProducts.probe, ["notify"], environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"]
        ).finish()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("no watchdog"))
    }
}
