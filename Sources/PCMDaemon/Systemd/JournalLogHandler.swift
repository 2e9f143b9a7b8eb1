// A swift-log handler for a daemon whose standard error may be the journal. Under systemd, stderr
// is a stream into journald, which reads a "<N>" syslog-priority prefix at the start of each line
// (sd-daemon.h's SD_ERR, SD_INFO, ...): with it, `journalctl -p warning` filters pcmd's messages
// and the journal adds its own timestamps. On a terminal or a file the lines are plain and carry
// a timestamp instead. Metadata values and error texts can carry what a client chose (its name,
// its streams' names), so every control character in them is escaped: one message is one entry,
// and nothing a client sends can forge another entry or reach a terminal as a control sequence.
import Logging
import PCMProtocol
import PCMBufferCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// How log lines are written.
public enum JournalLogStyle: Sendable, Hashable {
    /// `<6>label: message key=value`: for a stream journald reads (no timestamp; the journal
    /// stamps each entry).
    case journal
    /// `2026-05-01T12:00:00.123Z info label: message key=value`: for a terminal or a file.
    case plain

    /// `.journal` when `descriptor` is the stream systemd connected to journald, else `.plain`.
    ///
    /// systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose stdout or stderr goes to
    /// the journal; the variable is inherited by children whose stderr may point elsewhere, so
    /// the descriptor must be that very stream (same device and inode), not merely have the
    /// variable set.
    public static func detect(
        journalStream: String? = JournalLogStyle.environmentJournalStream(),
        descriptor: FileDescriptor = .standardError
    ) -> JournalLogStyle {
        guard let journalStream, let (device, inode) = parseJournalStream(journalStream) else { return .plain }
        var status = stat()
        guard fstat(descriptor.rawValue, &status) == 0 else { return .plain }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode ? .journal : .plain
    }

    /// `JOURNAL_STREAM` from this process's environment.
    public static func environmentJournalStream() -> String? {
        getenv("JOURNAL_STREAM").map { String(cString: $0) }
    }

    /// The device and inode numbers of `"<device>:<inode>"`, both decimal; nil when malformed.
    static func parseJournalStream(_ text: String) -> (device: UInt64, inode: UInt64)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}

/// A `LogHandler` that writes one line per message (one per line of a multi-line message) to a
/// descriptor, normally standard error, in the ``JournalLogStyle`` that suits it.
///
/// Bootstrap it once at start-up:
/// ```swift
/// LoggingSystem.bootstrap { label in JournalLogHandler(label: label) }
/// ```
/// Each message is written with a single `write` under a process-wide lock, so lines from
/// different threads never interleave. Never log from the audio thread.
public struct JournalLogHandler: LogHandler {
    /// The label of the logger, shown before each message.
    public let label: String
    /// How lines are written; decided once, when the handler is made.
    public let style: JournalLogStyle
    private let output: FileDescriptor

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// - Parameters:
    ///   - label: the logger's label.
    ///   - output: where lines go; standard error by default.
    ///   - style: the line format; by default `.journal` exactly when `output` is the journal stream.
    ///   - metadataProvider: metadata added to every message (swift-log's task-local context).
    public init(
        label: String,
        output: FileDescriptor = .standardError,
        style: JournalLogStyle? = nil,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.output = output
        self.style = style ?? JournalLogStyle.detect(descriptor: output)
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let extra = event.metadata {
            merged.merge(extra) { _, new in new }
        }
        let lines = format(level: event.level, message: event.message.description, error: event.error.map { "\($0)" },
                           metadata: merged, timestamp: Self.timestamp())
        JournalLogHandler.write(lines, to: output)
    }

    /// The text written for one message: every line of `message` gets the prefix, so that
    /// journald keeps the priority of continuation lines too; the error and the metadata go on
    /// the last line. Only the message (a constant in pcmd's code) may span lines: an error's
    /// text may quote a peer, so its line breaks are escaped like the metadata's.
    func format(level: Logger.Level, message: String, error: String? = nil, metadata: Logger.Metadata, timestamp: String) -> String {
        let prefix: String
        switch style {
        case .journal: prefix = "<\(Self.syslogPriority(of: level))>\(label): "
        case .plain: prefix = "\(timestamp) \(level) \(label): "
        }
        var lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        var result = ""
        for (index, line) in lines.enumerated() {
            result += prefix
            // The message's own line breaks became separate lines above; anything else that
            // could break or rewrite a line (a CR, ESC, U+2028) is shown escaped.
            result += DisplayText.escaped(line)
            if index == lines.count - 1 {
                if let error { result += " (error: \(DisplayText.escaped(error)))" }
                if !metadata.isEmpty { result += " " + Self.render(metadata) }
            }
            result += "\n"
        }
        return result
    }

    /// The syslog priority journald expects for a swift-log level (sd-daemon.h: SD_CRIT=2 ... SD_DEBUG=7).
    public static func syslogPriority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `key=value` pairs sorted by key. A value is quoted when it is empty or has a space, a
    /// quote or `=` (so the pairs still split unambiguously), and escaped by
    /// ``DisplayText/escaped(_:quotes:)`` when it has a control character or a backslash: a value
    /// is often a client's name, and must never end the line or reach a terminal raw.
    static func render(_ metadata: Logger.Metadata) -> String {
        metadata.sorted { $0.key < $1.key }.map { key, value in
            let text = "\(value)"
            let needsQuotes = text.isEmpty || DisplayText.needsEscaping(text)
                || text.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" }
            return needsQuotes ? "\(key)=\"\(DisplayText.escaped(text, quotes: true))\"" : "\(key)=\(text)"
        }.joined(separator: " ")
    }

    /// The current UTC time as ISO 8601 with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        _ = clock_gettime(CLOCK_REALTIME, &now)  // cannot fail with a valid pointer
        var seconds = now.tv_sec
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "\(now.tv_sec)" }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        let millisText = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millisText)Z"
    }

    /// Serializes writers across every handler in the process: a message is one `write`, and the
    /// lock keeps a partial write's remainder from being interleaved with another message.
    private static let writeLock = Locked<Void>(())

    /// Writes all of `text`; a log line that cannot be written has nowhere else to be reported.
    private static func write(_ text: String, to output: FileDescriptor) {
        writeLock.withLock { _ in
            let bytes = Array(text.utf8)
            // Failure (a closed stderr, a full disk) drops the line: logging must not stop the daemon.
            _ = try? bytes.withUnsafeBytes { try output.writeAll($0) }
        }
    }
}
