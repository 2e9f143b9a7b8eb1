// The fixed 20-byte header in front of every message, and its validation.
//
//   offset  size  field
//        0     4  magic    "PCMD"
//        4     1  version  1
//        5     1  type     MessageType
//        6     2  flags    reserved, must be 0 in version 1
//        8     4  length   payload bytes that follow, at most WireLimits.maxPayloadBytes
//       12     4  stream   StreamID, 0 for connection-level messages
//       16     4  tag      request tag, echoed in the reply; 0 on events
//
// The header is validated as a whole before a single payload byte is looked at, so a receiver
// knows the exact size of the message (and that it is acceptable) before it reads or buffers it.

/// The fixed header that starts every message.
public struct MessageHeader: Hashable, Sendable {
    /// What the payload is.
    public var type: MessageType
    /// Payload bytes that follow the header.
    public var length: Int
    /// The stream the message concerns, or ``StreamID/connection``.
    public var stream: StreamID
    /// The request tag: chosen by the client on a request, echoed by the daemon on its reply,
    /// zero on events (messages that answer nothing).
    public var tag: UInt32

    public init(type: MessageType, length: Int, stream: StreamID = .connection, tag: UInt32 = 0) {
        self.type = type
        self.length = length
        self.stream = stream
        self.tag = tag
    }

    /// Decodes and validates a header from the first ``WireLimits/headerBytes`` bytes of `bytes`.
    ///
    /// Checks, in order: there are 20 bytes, the magic, the version, the type, the flags, the
    /// payload length against ``WireLimits/maxPayloadBytes``, and whether the stream field is
    /// suits the type (``MessageType/streamField``). The version is checked before the type so a
    /// peer from the future hears "unsupported version", the one answer it can act on.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> MessageHeader {
        guard bytes.count >= WireLimits.headerBytes else {
            throw .truncatedHeader(available: bytes.count)
        }
        let magic = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == WireLimits.magic else { throw .badMagic(magic) }
        let version = bytes[4]
        guard version == WireLimits.version else { throw .unsupportedVersion(version) }
        guard let type = MessageType(rawValue: bytes[5]) else { throw .unknownMessageType(bytes[5]) }
        let flags = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard flags == 0 else { throw .reservedFlagsSet(flags) }
        let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard length <= WireLimits.maxPayloadBytes else {
            throw .payloadTooLarge(length: length, limit: WireLimits.maxPayloadBytes)
        }
        let stream = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard type.streamField.allows(StreamID(stream)) else { throw .misplacedStream(type, stream: stream) }
        let tag = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        return MessageHeader(type: type, length: Int(length), stream: StreamID(stream), tag: tag)
    }

    /// Decodes a header from the first 20 bytes of an array (a convenience for tests and tools).
    public static func decode(_ bytes: [UInt8]) throws(ProtocolError) -> MessageHeader {
        let result: Result<MessageHeader, ProtocolError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) in try decode(raw) }
        }
        return try result.get()
    }

    /// Writes the header into the first 20 bytes of `destination`.
    ///
    /// - Precondition: `destination` holds at least ``WireLimits/headerBytes`` bytes and
    ///   `length` is at most ``WireLimits/maxPayloadBytes`` (callers build headers themselves,
    ///   so a violation is a programming error, not bad input).
    public func encode(into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count >= WireLimits.headerBytes, "header needs 20 bytes")
        precondition(length >= 0 && length <= WireLimits.maxPayloadBytes, "payload over the limit")
        destination.storeBytes(of: WireLimits.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        destination[4] = WireLimits.version
        destination[5] = type.rawValue
        destination.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        destination.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 8, as: UInt32.self)
        destination.storeBytes(of: stream.rawValue.littleEndian, toByteOffset: 12, as: UInt32.self)
        destination.storeBytes(of: tag.littleEndian, toByteOffset: 16, as: UInt32.self)
    }

    /// Appends the header's 20 bytes to `bytes`.
    public func encode(appendingTo bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: WireLimits.headerBytes))
        bytes.withUnsafeMutableBytes { raw in
            encode(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
        }
    }
}
