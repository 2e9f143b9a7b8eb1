// Tests for the journal-aware log handler: when a descriptor counts as the journal stream, the
// "<N>" priority of each level, one prefix per line, the plain format elsewhere, and real writes.
import Logging
import PCMDaemon
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd journal log handler")
struct SystemdJournalLogHandlerTests {
    /// `JOURNAL_STREAM` text for `descriptor`, as systemd would set it.
    func identity(of descriptor: CInt) throws -> String {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Errno(rawValue: errno) }
        return "\(status.st_dev):\(status.st_ino)"
    }

    @Test("the journal is detected only when JOURNAL_STREAM names this very descriptor")
    func detection() throws {
        let pipe = try OutputPipe()
        let other = try OutputPipe()
        let writeEnd = FileDescriptor(rawValue: pipe.writeEnd)
        let matching = try identity(of: pipe.readEnd)
        #expect(JournalLogStyle.detect(journalStream: matching, descriptor: writeEnd) == .journal)
        // Inherited from a parent whose stderr went to the journal, while ours goes elsewhere.
        #expect(JournalLogStyle.detect(journalStream: try identity(of: other.readEnd), descriptor: writeEnd) == .plain)
        #expect(JournalLogStyle.detect(journalStream: nil, descriptor: writeEnd) == .plain)
    }

    @Test("a malformed JOURNAL_STREAM means plain output", arguments: ["", "12", "12:", ":34", "a:b", "1:2:3", "-1:5", " 1:2"])
    func malformedJournalStream(value: String) throws {
        let pipe = try OutputPipe()
        #expect(JournalLogStyle.detect(journalStream: value, descriptor: FileDescriptor(rawValue: pipe.writeEnd)) == .plain)
    }

    // An invalid descriptor rather than a closed one: parallel tests may reuse a closed number.
    @Test("an invalid descriptor means plain output")
    func invalidDescriptor() throws {
        let pipe = try OutputPipe()
        let stream = try identity(of: pipe.readEnd)
        #expect(JournalLogStyle.detect(journalStream: stream, descriptor: FileDescriptor(rawValue: -1)) == .plain)
    }

    @Test("each level maps to its syslog priority")
    func priorities() {
        let expected: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, priority) in expected {
            #expect(JournalLogHandler.syslogPriority(of: level) == priority, "\(level)")
        }
    }

    /// Logs through a real Logger into a pipe and returns what was written.
    func written(style: JournalLogStyle, level: Logger.Level = .trace, _ body: (Logger) -> Void) throws -> String {
        let pipe = try OutputPipe()
        var handler = JournalLogHandler(
            label: "pcmd", output: FileDescriptor(rawValue: pipe.writeEnd), style: style, metadataProvider: nil)
        handler.logLevel = level
        body(Logger(label: "pcmd") { _ in handler })
        pipe.drain()
        return pipe.text
    }

    @Test("journal lines carry the priority and label, no timestamp")
    func journalFormat() throws {
        let text = try written(style: .journal) { logger in
            logger.error("device hw:0,0 gone")
            logger.info("streaming", metadata: ["rate": "48000", "device": "hw:0,0"])
            logger.debug("period done")
        }
        #expect(text == "<3>pcmd: device hw:0,0 gone\n<6>pcmd: streaming device=hw:0,0 rate=48000\n<7>pcmd: period done\n")
    }

    @Test("every line of a multi-line message gets the prefix, so journald keeps its priority")
    func multiLine() throws {
        let text = try written(style: .journal) { logger in
            logger.warning("cards:\n 0 [PCH]\n 1 [Loopback]\n", metadata: ["count": "2"])
        }
        #expect(text == "<4>pcmd: cards:\n<4>pcmd:  0 [PCH]\n<4>pcmd:  1 [Loopback] count=2\n")
    }

    @Test("plain lines carry an ISO 8601 UTC timestamp and the level name")
    func plainFormat() throws {
        let text = try written(style: .plain) { logger in
            logger.notice("ready", metadata: ["socket": "/run/pcmd/socket"])
        }
        let line = try #require(text.split(separator: "\n").first.map(String.init))
        #expect(text.hasSuffix("\n") && text.split(separator: "\n").count == 1)
        let parts = line.split(separator: " ", maxSplits: 1)
        try #require(parts.count == 2)
        let stamp = parts[0]
        // 2026-05-01T12:00:00.123Z
        #expect(stamp.count == 24 && stamp.hasSuffix("Z") && stamp.dropFirst(10).hasPrefix("T"), "\(stamp)")
        #expect(parts[1] == "notice pcmd: ready socket=/run/pcmd/socket")
        #expect(!line.hasPrefix("<"))
    }

    @Test("metadata values with spaces, quotes or '=' are quoted; handler metadata and the error are kept")
    func metadataAndErrors() throws {
        struct Failure: Error, CustomStringConvertible { var description: String { "EPIPE" } }
        let text = try written(style: .journal) { logger in
            var logger = logger
            logger[metadataKey: "device"] = "hw:0,0"
            logger.error("xrun", error: Failure(), metadata: ["status": "under run", "empty": "", "eq": "a=b"])
        }
        #expect(text == "<3>pcmd: xrun (error: EPIPE) device=hw:0,0 empty=\"\" eq=\"a=b\" status=\"under run\"\n")
    }

    @Test("control characters in metadata and error texts are escaped: one message stays one line")
    func controlCharactersEscaped() throws {
        struct Failure: Error, CustomStringConvertible { var description: String { "peer said \u{1B}]0;pwned\u{07}\n<2>pcmd: fake" } }
        let text = try written(style: .journal) { logger in
            logger.info("client disconnected", metadata: ["client.name": "evil\n<3>pcmd: forged\r\t\0\u{1B}[31m\u{7F}\u{85}\u{2028}\u{2029}"])
            logger.error("refused", error: Failure())
        }
        #expect(text == #"""
            <6>pcmd: client disconnected client.name="evil\n<3>pcmd: forged\r\t\u{0}\u{1B}[31m\u{7F}\u{85}\u{2028}\u{2029}"
            <3>pcmd: refused (error: peer said \u{1B}]0;pwned\u{7}\n<2>pcmd: fake)

            """#)
    }

    @Test("messages below the log level are not written")
    func levelFilter() throws {
        let text = try written(style: .journal, level: .warning) { logger in
            logger.info("quiet")
            logger.warning("loud")
        }
        #expect(text == "<4>pcmd: loud\n")
    }

    @Test("a handler whose output cannot be written drops lines without crashing")
    func unwritableOutput() throws {
        let pipe = try OutputPipe()
        // The read end: writing to it fails with EBADF, like a stderr that was closed.
        let handler = JournalLogHandler(label: "pcmd", output: FileDescriptor(rawValue: pipe.readEnd), style: .journal, metadataProvider: nil)
        Logger(label: "pcmd") { _ in handler }.error("nowhere to go")
        Logger(label: "pcmd") { _ in handler }.error("still nowhere")
        pipe.drain()
        #expect(pipe.text.isEmpty)
    }
}
