// The config file: `key = value` lines, `#` comments, keys named like the long command-line
// options (`period = 128`). A format a person edits with any editor and that needs no library;
// every error names the file, the line and what was expected.
import PCMBufferCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Why a configuration could not be used. Every case says what to do about it.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// `value` is not acceptable for `key`; `expected` says what is.
    case invalidValue(key: String, value: String, expected: String)
    /// The config file has a key pcmd does not know.
    case unknownKey(key: String, line: Int, file: String)
    /// A line is not `key = value`.
    case malformedLine(line: Int, file: String, text: String)
    /// The config file could not be read.
    case unreadableFile(path: String, reason: String)
    /// Two settings contradict each other.
    case conflict(String)

    public var description: String {
        switch self {
        case .invalidValue(let key, let value, let expected):
            "invalid \(key) '\(value)': expected \(expected)"
        case .unknownKey(let key, let line, let file):
            "\(file):\(line): unknown setting '\(key)' (see `pcmd --help` for the settings)"
        case .malformedLine(let line, let file, let text):
            "\(file):\(line): expected 'key = value', found '\(text)'"
        case .unreadableFile(let path, let reason):
            "cannot read config file \(path): \(reason)"
        case .conflict(let text):
            text
        }
    }
}

/// Settings read from a config file or the command line, by key, before they are applied.
public struct ConfigurationSettings: Sendable, Equatable {
    /// The keys a config file may set, in the order `pcmd --help` documents them.
    public static let keys: [String] = [
        "device", "exclude-device", "capture-device", "mode", "format", "rate", "channels", "period", "periods", "buffer",
        "prealloc", "source", "sink", "socket", "max-streams", "max-streams-per-client", "max-clients", "max-clients-per-user",
        "allow-users", "allow-groups", "rt-priority", "state-directory", "rescue-streams",
    ]

    /// Keys that may be given more than once (repeated lines, repeated options): their values
    /// are kept in order, joined by newlines (which no value can contain: lines end there).
    public static let listKeys: Set<String> = ["device", "exclude-device"]

    public private(set) var values: [String: String] = [:]

    public init() {}

    /// Sets `key` (must be one of `keys`); a list key gains `value` after what it holds.
    public mutating func set(_ key: String, _ value: String) {
        precondition(Self.keys.contains(key), "unknown configuration key \(key)")
        if Self.listKeys.contains(key), let held = values[key] {
            values[key] = held + "\n" + value
        } else {
            values[key] = value
        }
    }

    /// The values of a list key, in the order given.
    func list(_ key: String) -> [String] {
        values[key].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
    }

    /// Parses config file text; `file` names it in errors.
    public init(parsing text: String, file: String) throws(ConfigurationError) {
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw .malformedLine(line: lineNumber, file: file, text: String(trimmed))
            }
            let key = trimmed[..<equals].trimmingWhitespace()
            let value = trimmed[trimmed.index(after: equals)...].trimmingWhitespace()
            guard !key.isEmpty, !value.isEmpty else {
                throw .malformedLine(line: lineNumber, file: file, text: String(trimmed))
            }
            guard Self.keys.contains(String(key)) else {
                throw .unknownKey(key: String(key), line: lineNumber, file: file)
            }
            set(String(key), String(value))
        }
    }

    /// A comma-separated list of names or numeric ids, each resolved by `lookup`.
    static func identities(_ text: String, key: String, lookup: (String) -> UInt32?) throws(ConfigurationError) -> [UInt32] {
        var ids: [UInt32] = []
        for item in text.split(separator: ",") {
            let name = String(item.trimmingWhitespace())
            guard let id = UInt32(name) ?? lookup(name) else {
                throw .invalidValue(key: key, value: name, expected: "an existing name or a numeric id, comma-separated")
            }
            ids.append(id)
        }
        guard !ids.isEmpty else { throw .invalidValue(key: key, value: text, expected: "at least one name or id") }
        return ids
    }

    /// These settings with `other`'s on top (the command line over the file).
    public func overridden(by other: ConfigurationSettings) -> ConfigurationSettings {
        var merged = self
        merged.values.merge(other.values) { _, new in new }
        return merged
    }

    /// Applies the settings to the defaults and validates the result.
    public func configuration() throws(ConfigurationError) -> DaemonConfiguration {
        var config = DaemonConfiguration()
        func integer(_ key: String) throws(ConfigurationError) -> Int? {
            guard let text = values[key] else { return nil }
            guard let value = Int(text) else { throw .invalidValue(key: key, value: text, expected: "a whole number") }
            return value
        }
        config.devices = list("device")
        config.excludedDevices = list("exclude-device")
        if let v = values["capture-device"] { config.captureDevice = v }
        if let v = values["state-directory"] { config.stateDirectory = v }
        if let v = values["rescue-streams"] {
            switch v {
            case "yes", "true", "1": config.rescueStreams = true
            case "no", "false", "0": config.rescueStreams = false
            default: throw .invalidValue(key: "rescue-streams", value: v, expected: "yes or no")
            }
        }
        if let v = values["mode"] {
            guard let mode = StreamMode(rawValue: v) else {
                throw .invalidValue(key: "mode", value: v, expected: "playback, capture or duplex")
            }
            config.mode = mode
        }
        if let v = values["format"] {
            guard let format = SampleFormat(name: v) else {
                throw .invalidValue(key: "format", value: v, expected: "s16, s24, s24_3, s32 or f32")
            }
            config.format = format
        }
        if let v = try integer("rate") { config.rate = v }
        if let v = try integer("channels") { config.channels = v }
        if let v = try integer("period") { config.periodFrames = v }
        if let v = try integer("periods") { config.periods = v }
        if let v = try integer("buffer") { config.bufferFrames = v }
        if let v = try integer("prealloc") { config.preallocationBytes = v }
        if let v = values["source"] { config.source = try BuiltInSource(parsing: v) }
        if let v = values["sink"] { config.sink = try BuiltInSink(parsing: v) }
        if let v = values["socket"] { config.socketPath = v }
        if let v = try integer("max-streams") { config.maxStreams = v }
        if let v = try integer("max-streams-per-client") { config.maxStreamsPerClient = v }
        if let v = try integer("max-clients") { config.maxClients = v }
        if let v = try integer("max-clients-per-user") { config.maxClientsPerUser = v }
        if let v = try integer("rt-priority") { config.realtimePriority = v }
        if let v = values["allow-users"] {
            config.allowedUsers = try Self.identities(v, key: "allow-users") { name in getpwnam(name).map { $0.pointee.pw_uid } }
        }
        if let v = values["allow-groups"] {
            config.allowedGroups = try Self.identities(v, key: "allow-groups") { name in getgrnam(name).map { $0.pointee.gr_gid } }
        }
        // A preallocation that is too small for an explicitly sized buffer grows to fit, as
        // the kernel's prealloc file would be raised by hand: only an explicit prealloc is a limit.
        // Nothing is validated yet: a size that overflows is left for validate() to name.
        if values["prealloc"] == nil, config.channels >= 1, let needed = config.requestedBufferBytes {
            config.preallocationBytes = max(config.preallocationBytes, needed)
        }
        try config.validate()
        return config
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> SubSequence {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return slice
    }
}

extension ConfigurationSettings {
    /// Reads and parses the config file at `path`.
    public init(contentsOf path: String) throws(ConfigurationError) {
        let text: String
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly)
            defer { try? fd.close() }  // a failed close of a read-only file loses nothing
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
                if n == 0 { break }
                bytes += chunk[..<n]
                if bytes.count > 1 << 20 { throw Errno.fileTooLarge }
            }
            text = String(decoding: bytes, as: UTF8.self)
        } catch let error as Errno {
            throw .unreadableFile(path: path, reason: error.description)
        } catch {
            throw .unreadableFile(path: path, reason: "\(error)")
        }
        try self.init(parsing: text, file: path)
    }
}

extension ConfigurationSettings {
    /// The config file read when none is named: `$XDG_CONFIG_HOME/pcmd/pcmd.conf` (or
    /// `~/.config/pcmd/pcmd.conf`) for a user, then `/etc/pcmd/pcmd.conf`; nil when none exists.
    public static func defaultFile() -> String? {
        var candidates: [String] = []
        if getuid() != 0 {
            if let xdg = getenv("XDG_CONFIG_HOME").map({ String(cString: $0) }), !xdg.isEmpty {
                candidates.append(xdg + "/pcmd/pcmd.conf")
            } else if let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty {
                candidates.append(home + "/.config/pcmd/pcmd.conf")
            }
        }
        candidates.append("/etc/pcmd/pcmd.conf")
        return candidates.first { access($0, F_OK) == 0 }
    }
}
