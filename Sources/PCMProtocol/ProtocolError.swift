// What can be wrong with bytes received from a peer, and the numbered error codes that travel in
// `error` messages. The decoder throws ProtocolError; the daemon turns each into an ErrorCode plus
// a sentence for the peer, so a misbehaving client always learns why it was refused.

/// Why bytes received from a peer are not a valid message.
///
/// Every decoding function in this module throws only this type and never traps, whatever the
/// input. Each case maps to an ``ErrorCode`` (``code``) for the `error` reply.
public enum ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The first four bytes are not `PCMD`: the peer is not speaking this protocol.
    case badMagic(UInt32)
    /// Fewer than ``WireLimits/headerBytes`` bytes were given where a whole message was expected.
    case truncatedHeader(available: Int)
    /// The header's version is not ``WireLimits/version``.
    case unsupportedVersion(UInt8)
    /// The header's type byte names no ``MessageType``.
    case unknownMessageType(UInt8)
    /// Flag bits that this version does not define were set.
    case reservedFlagsSet(UInt16)
    /// The header announces a payload longer than ``WireLimits/maxPayloadBytes``.
    case payloadTooLarge(length: UInt32, limit: Int)
    /// The payload ended before a field of this message type did.
    case truncated(MessageType, needed: Int, available: Int)
    /// The payload continues after the last field of this message type.
    case trailingBytes(MessageType, count: Int)
    /// A string field is longer than its limit or is not valid UTF-8.
    case invalidString(MessageType, field: String)
    /// A numeric field is outside the range this protocol allows.
    case invalidValue(MessageType, field: String, value: Int64)
    /// An `openStream` asked for a sample format this protocol does not know.
    case unsupportedFormat(UInt8)
    /// The header's stream field is zero on a message that must name a stream, or nonzero on
    /// one that must not.
    case misplacedStream(MessageType, stream: UInt32)

    /// The error code an `error` reply carries for this failure.
    public var code: ErrorCode {
        switch self {
        case .unsupportedVersion: .unsupportedVersion
        case .unknownMessageType: .unknownMessageType
        case .payloadTooLarge: .payloadTooLarge
        case .unsupportedFormat: .unsupportedFormat
        case .invalidValue: .invalidArgument
        case .badMagic, .truncatedHeader, .reservedFlagsSet, .truncated, .trailingBytes, .invalidString, .misplacedStream:
            .malformedMessage
        }
    }

    public var description: String {
        switch self {
        case .badMagic(let magic):
            "bad magic 0x\(String(magic, radix: 16)): not a pcmd protocol peer"
        case .truncatedHeader(let available):
            "message truncated: \(available) bytes, a header alone is \(WireLimits.headerBytes)"
        case .unsupportedVersion(let version):
            "protocol version \(version) is not supported (this side speaks \(WireLimits.version))"
        case .unknownMessageType(let type):
            "unknown message type 0x\(String(type, radix: 16))"
        case .reservedFlagsSet(let flags):
            "reserved header flags set: 0x\(String(flags, radix: 16))"
        case .payloadTooLarge(let length, let limit):
            "payload of \(length) bytes exceeds the limit of \(limit)"
        case .truncated(let type, let needed, let available):
            "\(type) payload truncated: needed \(needed) more bytes, \(available) left"
        case .trailingBytes(let type, let count):
            "\(type) payload has \(count) unexpected trailing bytes"
        case .invalidString(let type, let field):
            "\(type).\(field) is too long or not valid UTF-8"
        case .invalidValue(let type, let field, let value):
            "\(type).\(field) has invalid value \(value)"
        case .unsupportedFormat(let raw):
            "sample format \(raw) is not supported (s16=1, s24=2, s24_3=3, s32=4, f32=5)"
        case .misplacedStream(let type, let stream):
            stream == 0
                ? "\(type) must name a stream"
                : "\(type) concerns the connection, but names stream \(stream)"
        }
    }
}

/// The reason code carried by an `error` message.
///
/// A struct rather than an enum so that a client built against this version still decodes codes
/// a newer daemon adds (it sees them as unnamed raw values and shows the accompanying text).
/// The raw values are part of the wire protocol: never renumber one.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The bytes were not a well-formed message (bad magic, truncated, trailing bytes, bad string).
    public static let malformedMessage = ErrorCode(rawValue: 1)
    /// The header's protocol version is not one the daemon speaks.
    public static let unsupportedVersion = ErrorCode(rawValue: 2)
    /// The header's message type is unknown.
    public static let unknownMessageType = ErrorCode(rawValue: 3)
    /// The header announced a payload over the limit.
    public static let payloadTooLarge = ErrorCode(rawValue: 4)
    /// The message is valid but not allowed now (before `hello`, twice `hello`, from the wrong side).
    public static let unexpectedMessage = ErrorCode(rawValue: 5)
    /// The peer's credentials are not allowed to use this daemon or this operation.
    public static let accessDenied = ErrorCode(rawValue: 6)
    /// The sample format, rate or channel count cannot be served.
    public static let unsupportedFormat = ErrorCode(rawValue: 7)
    /// The daemon's limit on open streams is reached.
    public static let tooManyStreams = ErrorCode(rawValue: 8)
    /// The message names a stream that does not exist or is not the client's.
    public static let noSuchStream = ErrorCode(rawValue: 9)
    /// The message names a device that does not exist.
    public static let noSuchDevice = ErrorCode(rawValue: 10)
    /// Version 1: the client sent more playback frames than its credits allowed. Not sent by
    /// a version-2 daemon (see ``sharedMemoryViolation``); the number stays reserved.
    public static let creditExceeded = ErrorCode(rawValue: 11)
    /// Version 1: audio data was not a whole number of frames. Not sent by a version-2 daemon.
    public static let misalignedData = ErrorCode(rawValue: 12)
    /// A field has a value outside its allowed range.
    public static let invalidArgument = ErrorCode(rawValue: 13)
    /// The device failed or went away; the named stream is closed.
    public static let deviceUnavailable = ErrorCode(rawValue: 14)
    /// The daemon is shutting down.
    public static let shuttingDown = ErrorCode(rawValue: 15)
    /// The client fell too far behind reading capture data and was disconnected.
    public static let tooSlow = ErrorCode(rawValue: 16)
    /// The daemon hit an internal limit or failure that is not the client's fault.
    public static let internalError = ErrorCode(rawValue: 17)
    /// The daemon's connection limit, or the connecting user's share of it, is reached.
    public static let tooManyClients = ErrorCode(rawValue: 18)
    /// The client did not complete `hello`, or a message it had begun, within the daemon's
    /// deadline; its connection is closed.
    public static let timedOut = ErrorCode(rawValue: 19)
    /// The client wrote an impossible position into a stream's shared memory (more frames
    /// between its position and the daemon's than the ring holds). The daemon played silence
    /// for that stream, stopped it and closed the connection (version 2).
    public static let sharedMemoryViolation = ErrorCode(rawValue: 20)
    /// The client asked for more streams than the daemon lets one connection hold
    /// (`max-streams-per-client`); close one first (version 2).
    public static let tooManyClientStreams = ErrorCode(rawValue: 21)
    /// The allocator refused a `setPreallocation` by the kernel's rules (the substream is open,
    /// the size is below 8 KiB or above `prealloc_max`, the card limit); the text says which.
    public static let memoryRefused = ErrorCode(rawValue: 22)

    /// Every code this version names, in numeric order.
    public static let known: [ErrorCode] = [
        .malformedMessage, .unsupportedVersion, .unknownMessageType, .payloadTooLarge,
        .unexpectedMessage, .accessDenied, .unsupportedFormat, .tooManyStreams, .noSuchStream,
        .noSuchDevice, .creditExceeded, .misalignedData, .invalidArgument, .deviceUnavailable,
        .shuttingDown, .tooSlow, .internalError, .tooManyClients, .timedOut, .sharedMemoryViolation,
        .tooManyClientStreams, .memoryRefused,
    ]

    /// A short name for logs and tool output (`code 99` for codes this version does not name).
    public var name: String {
        switch rawValue {
        case 1: "malformed message"
        case 2: "unsupported version"
        case 3: "unknown message type"
        case 4: "payload too large"
        case 5: "unexpected message"
        case 6: "access denied"
        case 7: "unsupported format"
        case 8: "too many streams"
        case 9: "no such stream"
        case 10: "no such device"
        case 11: "credit exceeded"
        case 12: "misaligned data"
        case 13: "invalid argument"
        case 14: "device unavailable"
        case 15: "shutting down"
        case 16: "too slow"
        case 17: "internal error"
        case 18: "too many clients"
        case 19: "timed out"
        case 20: "shared memory violation"
        case 21: "too many streams on this connection"
        case 22: "memory refused"
        default: "code \(rawValue)"
        }
    }

    public var description: String { name }
}
