// Names a client chooses (its name in hello, its streams' names) reach the daemon's log and
// pcmctl's tables. Against a real daemon, clients named with every kind of character that could
// forge a log line or drive a terminal (newline, CR, TAB, ESC, NUL, other C0 and C1 controls,
// DEL, U+2028, U+2029) must leave a log with one line per event and none of those characters
// raw, and a `pcmctl streams` table with one line per stream and no control character at all.
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

/// The characters under test, each with a readable label for failure messages.
private let hostile: [(label: String, scalar: Unicode.Scalar)] = [
    ("LF", "\n"), ("CR", "\r"), ("TAB", "\t"), ("ESC", "\u{1B}"), ("NUL", "\0"), ("BEL", "\u{07}"),
    ("US", "\u{1F}"), ("DEL", "\u{7F}"), ("NEL", "\u{85}"), ("CSI", "\u{9B}"), ("LS", "\u{2028}"), ("PS", "\u{2029}"),
]

/// Whether `scalar` may appear in a log or table line (the newline only as the line's end,
/// which the callers split off).
private func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
}

@Suite("peer-chosen names in the daemon's log and in pcmctl", .serialized, .timeLimit(.minutes(2)))
struct PeerNameEscapingTests {
    @Test("control characters in client and stream names are escaped in the log and in pcmctl's table")
    func hostileNames() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        var connections: [PCMConnection] = []
        var streams: [PCMStream] = []
        for (label, scalar) in hostile {
            // Each name also tries to start a forged entry of its own after the character.
            let client = "c-\(label)\(scalar)<3>pcmd: forged \(label)"
            let connection = try await PCMConnection.connect(path: daemon.socket, clientName: client)
            streams.append(try await connection.openPlayback(format: stereo16, name: "s-\(label)\(scalar)\u{1B}[2J"))
            connections.append(connection)
        }
        let listing = try await connections[0].streams()
        #expect(Set(listing.map(\.clientName)).count == hostile.count, "the daemon keeps the names as given")

        let table = try ToolProcess.run("pcmctl", ["streams", "--socket", daemon.socket])
        #expect(table.status == 0, "\(table.stderr)")
        let text = String(decoding: table.stdout, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()  // print's final newline
        #expect(lines.count == 1 + hostile.count, "one header and one line per stream:\n\(text)")
        for line in lines {
            let bad = line.unicodeScalars.filter(isForbidden)
            #expect(bad.isEmpty, "pcmctl wrote raw U+\(bad.map { String($0.value, radix: 16) }) in: \(line.debugDescription)")
        }
        for (label, _) in hostile {
            #expect(lines.filter { $0.contains("c-\(label)") && $0.contains("s-\(label)") }.count == 1, "stream of \(label) on one line")
        }

        for stream in streams { try await stream.close() }
        for connection in connections { connection.close() }
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let logLines = result.log.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for line in logLines {
            let bad = line.unicodeScalars.filter(isForbidden)
            #expect(bad.isEmpty, "the log has raw U+\(bad.map { String($0.value, radix: 16) }) in: \(line.debugDescription)")
            // Plain style (stderr is a pipe): every line is a whole entry of its own.
            #expect(line.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [a-z]+ pcmd: .*/) != nil,
                    "not an entry of its own: \(line.debugDescription)")
        }
        #expect(!result.log.contains("\n<3>pcmd: forged"), "a client forged a journal entry")
        for (label, _) in hostile {
            let opened = logLines.filter { $0.contains("stream opened") && $0.contains("c-\(label)") }
            #expect(opened.count == 1, "one 'stream opened' line for \(label): \(opened)")
            #expect(opened.first?.contains("s-\(label)") == true, "the stream's name is in its line: \(opened)")
            #expect(logLines.filter { $0.contains("client disconnected") && $0.contains("c-\(label)") }.count == 1,
                    "one 'client disconnected' line for \(label)")
        }
    }
}
