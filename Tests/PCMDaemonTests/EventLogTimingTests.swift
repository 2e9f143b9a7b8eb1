// The audio threads' events are logged when they happen: the thread rings the EventBell and the
// log's thread wakes, instead of a task looking at the queues once a second, which both woke an
// idle daemon for nothing and logged an xrun up to a second after it (event.ago says how late).
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

@Suite("the event log", .serialized, .timeLimit(.minutes(1)))
struct EventLogTimingTests {
    @Test("each device start is logged within a fraction of a second of happening")
    func loggedPromptly() async throws {
        let daemon = try await ServedDaemon.start(["--device", "playout"], directory: try temporaryDirectory())
        // Every SIGHUP reopens the device: one more "device streaming" event each time.
        for _ in 0..<4 {
            kill(daemon.pid, SIGHUP)
            try await Task.sleep(for: .milliseconds(300))
        }
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let ages = result.log.split(separator: "\n")
            .filter { $0.contains("device streaming") }
            .compactMap { line -> Int? in
                guard let range = line.range(of: #"event\.ago="\d+ ms""#, options: .regularExpression) else { return nil }
                return Int(line[range].dropFirst(11).prefix { $0.isNumber })
            }
        #expect(ages.count >= 5, "expected a start and four reopens: \(result.log)")
        // Looked at once a second, each would be 0-1000 ms late, and five all under 300 ms about
        // one time in 400.
        #expect(ages.allSatisfy { $0 < 300 }, "event ages in ms: \(ages)")
    }

    @Test("a client that stopped writing underruns at every period, and the log's thread still wakes about once a second")
    func frequentEventsRingSeldom() async throws {
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: try temporaryDirectory())
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "stalled")
        let stream = try await connection.openPlayback(format: PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2),
                                                       latencyMicroseconds: 50_000, name: "stalled")
        try await stream.write([UInt8](repeating: 0, count: 4_800 * 4))  // 0.1 s, then nothing
        try await Task.sleep(for: .milliseconds(500))
        let before = try eventThreadWakeups(of: daemon.pid)
        let underrunsBefore = stream.status.underruns
        try await Task.sleep(for: .seconds(3))
        let after = try eventThreadWakeups(of: daemon.pid)
        let underruns = stream.status.underruns - underrunsBefore
        // 256-frame periods: the stalled stream underruns up to 187 times a second.
        #expect(underruns > 100, "the stream did not keep underrunning: \(underruns) in 3 s")
        #expect(after - before <= 8, "the log's thread woke \(after - before) times in 3 s for \(underruns) underruns")
        connection.close()
        #expect(try daemon.stop().status == 0)
    }
}

/// Voluntary context switches of the daemon's `pcmd-events` thread: how often it woke.
private func eventThreadWakeups(of pid: Int32) throws -> Int {
    let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
    for task in tasks {
        let comm = try String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)
        guard comm.hasPrefix("pcmd-events") else { continue }
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/task/\(task)/status"))
        defer { try? handle.close() }
        let status = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") })
        return try #require(Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? ""))
    }
    Issue.record("no pcmd-events thread in \(tasks)")
    return 0
}
