// The audio threads' events are logged when they happen: the thread rings the EventBell and the
// log's thread wakes, instead of a task looking at the queues once a second, which both woke an
// idle daemon for nothing and logged an xrun up to a second after it (event.ago says how late).
import Foundation
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
}
