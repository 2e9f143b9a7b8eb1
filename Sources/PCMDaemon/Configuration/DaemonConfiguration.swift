// What the daemon is asked to do: which device, in which format, with which sizes, what to
// play and where captured audio goes. Built from the config file and the command line (the
// command line wins), validated once, then read-only for the life of a run.
import PCMBufferCore

/// Which directions of the device pcmd opens.
public enum StreamMode: String, Sendable, CaseIterable {
    /// Playback only.
    case playback
    /// Capture only.
    case capture
    /// Playback and capture on the same card, each with its own substream and buffer.
    case duplex

    public var playsBack: Bool { self != .capture }
    public var captures: Bool { self != .playback }
}

/// What the built-in playback source renders when no client is playing. Kept as a diagnostic
/// afterwards, like `speaker-test`.
public enum BuiltInSource: Sendable, Equatable, CustomStringConvertible {
    /// Digital silence.
    case silence
    /// A full-period sine tone at `frequency` Hz and `amplitude` (0...1 of full scale) on every channel.
    case sine(frequency: Double, amplitude: Double)
    /// A WAV (or any libsndfile-readable) file, played once or looped.
    case file(path: String, loop: Bool)

    public var description: String {
        switch self {
        case .silence: "silence"
        case .sine(let frequency, let amplitude): "sine:\(frequency):\(amplitude)"
        case .file(let path, let loop): loop ? "loop:\(path)" : "file:\(path)"
        }
    }

    /// Parses `silence`, `sine`, `sine:440`, `sine:440:0.5`, `file:PATH`, `loop:PATH`, or a bare path.
    public init(parsing text: String) throws(ConfigurationError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first {
        case "silence" where parts.count == 1:
            self = .silence
        case "sine":
            let args = parts.count > 1 ? parts[1].split(separator: ":").map(String.init) : []
            guard args.count <= 2 else { throw .invalidValue(key: "source", value: text, expected: "sine[:HZ[:AMPLITUDE]]") }
            let frequency = try args.first.map { s throws(ConfigurationError) in
                guard let f = Double(s), f > 0, f < 200_000 else {
                    throw .invalidValue(key: "source", value: text, expected: "a sine frequency in Hz above 0")
                }
                return f
            } ?? 440
            let amplitude = try (args.count > 1 ? args[1] : nil).map { s throws(ConfigurationError) in
                guard let a = Double(s), a >= 0, a <= 1 else {
                    throw .invalidValue(key: "source", value: text, expected: "a sine amplitude from 0 to 1")
                }
                return a
            } ?? 0.5
            self = .sine(frequency: frequency, amplitude: amplitude)
        case "file" where parts.count == 2 && !parts[1].isEmpty:
            self = .file(path: parts[1], loop: false)
        case "loop" where parts.count == 2 && !parts[1].isEmpty:
            self = .file(path: parts[1], loop: true)
        default:
            guard text.hasPrefix("/") || text.hasPrefix("./") else {
                throw .invalidValue(key: "source", value: text, expected: "silence, sine[:HZ[:AMPLITUDE]], file:PATH or loop:PATH")
            }
            self = .file(path: text, loop: false)
        }
    }
}

/// Where the built-in capture sink puts captured audio when no client records.
public enum BuiltInSink: Sendable, Equatable, CustomStringConvertible {
    /// Captured frames are dropped (but counted).
    case discard
    /// Captured frames are written to a WAV file in the device's format.
    case file(path: String)

    public var description: String {
        switch self {
        case .discard: "discard"
        case .file(let path): "file:\(path)"
        }
    }

    /// Parses `discard`, `file:PATH`, or a bare path.
    public init(parsing text: String) throws(ConfigurationError) {
        if text == "discard" { self = .discard; return }
        if text.hasPrefix("file:"), text.count > 5 { self = .file(path: String(text.dropFirst(5))); return }
        guard text.hasPrefix("/") || text.hasPrefix("./") else {
            throw .invalidValue(key: "sink", value: text, expected: "discard or file:PATH")
        }
        self = .file(path: text)
    }
}

/// The daemon's validated settings.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The devices to serve, each a stable name (`PCH,0`: card id and PCM device) or any ALSA
    /// name (`hw:0,0`, `null`); empty means every PCM device of every sound card (see
    /// `DevicePlan`), or the null device when there is none.
    public var devices: [String] = []
    /// Devices left out when every card is served: stable names, card ids (the whole card) or
    /// ALSA names.
    public var excludedDevices: [String] = []
    /// ALSA device for capture when it differs from the one device served.
    public var captureDevice: String?
    /// Whether the streams of a device that goes away move to the default device (PulseAudio's
    /// rescue-streams) rather than being closed with an error.
    public var rescueStreams = true
    /// Where the daemon keeps state across restarts (the default device's name); nil means
    /// systemd's `$STATE_DIRECTORY`, else the user's `$XDG_STATE_HOME/pcmd` (`DefaultDeviceStore`).
    public var stateDirectory: String?
    public var mode: StreamMode = .playback
    public var format: SampleFormat = .s16
    public var rate: Int = 48_000
    public var channels: Int = 2
    /// Frames per period (one wakeup of the audio thread).
    /// 1024 frames (21 ms at 48 kHz), PipeWire's default quantum: robust on slow or loaded machines;
    /// lower it for latency (the hardware tier measures how low each machine can go).
    public var periodFrames: Int = 1024
    /// Frames in the device buffer; nil means `periodFrames × periods`.
    public var bufferFrames: Int?
    /// Periods per buffer when `bufferFrames` is not given.
    public var periods: Int = 3
    /// Bytes preallocated per device substream in PCMBufferCore; caps the device buffer.
    public var preallocationBytes: Int = 64 * 1024
    public var source: BuiltInSource = .silence
    public var sink: BuiltInSink = .discard
    /// Unix socket the daemon serves clients on; nil means the default for the daemon kind.
    public var socketPath: String?
    /// Most client streams served at once.
    public var maxStreams: Int = 32
    /// Most streams one connection may hold at once (each is a slot, shared memory charged to
    /// the clients' card, and an eventfd).
    public var maxStreamsPerClient: Int = 8
    /// Most client connections at once (every user together).
    public var maxClients: Int = 128
    /// Most connections one user (uid) may hold at once; nil means a quarter of `maxClients`,
    /// at least 4 (the socket server's default).
    public var maxClientsPerUser: Int?
    /// Users (uids) allowed to connect besides the defaults (the daemon's own user and root; and
    /// the `audio` group for the system daemon).
    public var allowedUsers: [UInt32] = []
    /// Groups (gids) whose members may connect besides the defaults.
    public var allowedGroups: [UInt32] = []
    /// Real-time priority asked for the audio threads (SCHED_FIFO); 0 disables the request.
    public var realtimePriority: Int = 70

    public init() {}

    /// The device buffer in frames: the explicit value or period × periods.
    public var requestedBufferFrames: Int { bufferFrames ?? periodFrames * periods }

    /// The device buffer in bytes at this format and channel count, or nil when the product
    /// does not fit an `Int`. Overflow-checked because it is computed from values not yet
    /// validated (the prealloc default is raised from it before `validate()`), and a config
    /// file or command line saying `period = -2080000000000000002` or `buffer = 2^62` must get
    /// an error naming the value, not a trap (the config fuzzer found both).
    public var requestedBufferBytes: Int? {
        var frames = bufferFrames ?? 0
        if bufferFrames == nil {
            let (product, overflow) = periodFrames.multipliedReportingOverflow(by: periods)
            if overflow { return nil }
            frames = product
        }
        let (perFrame, overflowFrame) = format.bytesPerSample.multipliedReportingOverflow(by: channels)
        let (bytes, overflowBytes) = frames.multipliedReportingOverflow(by: perFrame)
        return overflowFrame || overflowBytes ? nil : bytes
    }

    /// The frame layout of the device's interleaved buffer.
    public var layout: FrameLayout { FrameLayout(format: format, channels: channels) }

    /// Checks every value and their combinations; the error names the bad value.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ key: String, _ value: Int, _ expected: String) throws(ConfigurationError) {
            if !ok { throw .invalidValue(key: key, value: String(value), expected: expected) }
        }
        try check((1_000...768_000).contains(rate), "rate", rate, "a rate from 1000 to 768000 Hz")
        try check((1...64).contains(channels), "channels", channels, "1 to 64 channels")
        try check((16...65_536).contains(periodFrames), "period", periodFrames, "16 to 65536 frames")
        try check((2...32).contains(periods), "periods", periods, "2 to 32 periods")
        if let bufferFrames {
            try check(bufferFrames >= 2 * periodFrames, "buffer", bufferFrames,
                      "at least two periods (\(2 * periodFrames) frames)")
        }
        try check(preallocationBytes >= 16 * 1024, "prealloc", preallocationBytes, "at least 16384 bytes")
        // The period and periods are in range here, but an explicit buffer may be any Int.
        guard let needed = requestedBufferBytes else {
            throw .invalidValue(key: "buffer", value: String(requestedBufferFrames),
                                expected: "a buffer that fits the \(preallocationBytes)-byte preallocation")
        }
        try check(needed <= preallocationBytes, "buffer", requestedBufferFrames,
                  "a buffer that fits the \(preallocationBytes)-byte preallocation (raise prealloc to \(needed))")
        try check((1...1024).contains(maxStreams), "max-streams", maxStreams, "1 to 1024 streams")
        try check((1...1024).contains(maxStreamsPerClient), "max-streams-per-client", maxStreamsPerClient, "1 to 1024 streams")
        // Each connection costs a descriptor and a 64 KiB receive buffer; 4096 is far beyond
        // any desktop and still a bounded amount of memory.
        try check((1...4096).contains(maxClients), "max-clients", maxClients, "1 to 4096 connections")
        if let maxClientsPerUser {
            try check((1...maxClients).contains(maxClientsPerUser), "max-clients-per-user", maxClientsPerUser,
                      "1 to max-clients (\(maxClients)) connections")
        }
        try check((0...99).contains(realtimePriority), "rt-priority", realtimePriority, "0 (off) to 99")
        if case .file(let path) = sink, !mode.captures {
            throw .conflict("sink \(path) needs capture: use --mode capture or --mode duplex")
        }
        if devices.contains("") { throw .invalidValue(key: "device", value: "", expected: "an ALSA device name such as hw:0,0 or a stable name such as PCH,0") }
        if stateDirectory == "" { throw .invalidValue(key: "state-directory", value: "", expected: "a directory") }
        if excludedDevices.contains("") { throw .invalidValue(key: "exclude-device", value: "", expected: "a stable name, a card id or an ALSA name") }
        if captureDevice != nil, devices.count != 1 {
            throw .conflict("capture-device pairs a capture device with the one device served: give exactly one --device with it")
        }
    }
}
