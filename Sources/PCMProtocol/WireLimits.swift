// The numbers that fix the shape of the wire protocol: the magic, the version, the header size,
// and every limit a receiver enforces before it reads or allocates anything.
// Changing any of these changes the protocol; docs/protocol.md repeats them and the tests pin them.

/// The constants and limits of the pcmd wire protocol.
///
/// Every limit here is checked by the decoder on the sending peer's numbers *before* any byte of
/// a payload is read or any memory is reserved, so a hostile peer can never make the other side
/// allocate more than ``maxPayloadBytes`` plus one header.
public enum WireLimits {
    /// The protocol version this build speaks. A message with any other version is rejected.
    ///
    /// Version 2 moved audio, flow control, the clock and xrun counts into each stream's
    /// shared memory (docs/protocol.md "What changed in version 2"); a version-1 peer is
    /// refused with ``ProtocolError/unsupportedVersion(_:)``, whose text names both versions.
    public static let version: UInt8 = 2

    /// The first four bytes of every message: `P`, `C`, `M`, `D`.
    ///
    /// Read as a little-endian `UInt32` it is `0x444D_4350`. A peer that is not speaking this
    /// protocol at all (a stray `nc`, an HTTP client) fails on the first message.
    public static let magic: UInt32 = 0x444D_4350

    /// Bytes in the fixed header that starts every message.
    public static let headerBytes = 20

    /// The largest payload any message may carry (64 KiB).
    ///
    /// Big enough for 85 ms of 48 kHz stereo float32 audio in one message, or a listing of a few
    /// hundred streams; small enough that a receive buffer of one whole message stays cheap.
    public static let maxPayloadBytes = 65_536

    /// The largest whole message: one header plus the largest payload.
    public static let maxMessageBytes = headerBytes + maxPayloadBytes

    /// The longest client, stream or device name, in UTF-8 bytes.
    public static let maxNameBytes = 255

    /// The longest human-readable text in an error message, in UTF-8 bytes.
    public static let maxErrorTextBytes = 1024

    /// The most channels a stream may declare.
    public static let maxChannels = 32

    /// The lowest and highest sample rates a stream may declare, in Hz.
    public static let sampleRates: ClosedRange<UInt32> = 1_000...768_000

    /// The longest latency a client may ask for, in microseconds (10 s).
    public static let maxLatencyMicroseconds: UInt32 = 10_000_000
}

/// Which way a stream moves audio: playback, capture, or both (sndio calls this the mode).
///
/// Named apart from PCMBufferCore's two-valued `StreamDirection` (a ring's direction), which
/// has no duplex and which the daemon imports alongside this module.
///
/// The raw values are part of the wire protocol: never renumber a case.
public enum StreamMode: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// The client sends audio to a device.
    case playback = 1
    /// The client receives audio from a device.
    case capture = 2
    /// Both at once, on one stream with one clock.
    case duplex = 3

    /// Whether the client sends audio on this stream.
    public var plays: Bool { self != .capture }
    /// Whether the client receives audio on this stream.
    public var records: Bool { self != .playback }

    public var description: String {
        switch self {
        case .playback: "playback"
        case .capture: "capture"
        case .duplex: "duplex"
        }
    }
}

/// The daemon-assigned number of a stream.
///
/// Stream numbers are unique for the daemon's lifetime (never reused while it runs), so a
/// `pcmctl` command naming a stream can never hit a newer stream that took over the number.
/// Zero is not a stream: a message whose header carries stream zero concerns the connection.
public struct StreamID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// The "no stream" value carried by connection-level messages.
    public static let connection = StreamID(0)

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "#\(rawValue)" }
}

/// The daemon-assigned number of a device. Zero asks for the daemon's default device.
public struct AudioDeviceID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// "Whichever device the daemon uses by default."
    public static let defaultDevice = AudioDeviceID(0)

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { rawValue == 0 ? "default" : "dev\(rawValue)" }
}
