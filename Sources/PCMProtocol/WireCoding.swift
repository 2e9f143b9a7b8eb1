// The two primitives every payload is built from: a bounds-checked little-endian reader over a
// received payload and an appending little-endian writer. All integers on the wire are
// little-endian (the byte order of the samples themselves and of every machine pcmd targets);
// both sides convert explicitly, so a big-endian host still speaks the same bytes.

import PCMBufferCore

/// Reads fields from one message's payload, checking every length before touching a byte.
///
/// Each read either returns a value or throws ``ProtocolError/truncated(_:needed:available:)``:
/// there is no path that indexes past the end, so decoding is total on any input.
struct WireReader {
    /// The payload being decoded; valid for as long as the caller's borrow of it.
    let bytes: UnsafeRawBufferPointer
    /// The message type, named in any error so the peer learns which message was wrong.
    let type: MessageType
    /// Bytes already consumed.
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer, type: MessageType) {
        self.bytes = bytes
        self.type = type
    }

    /// Bytes not yet consumed.
    var remaining: Int { bytes.count - offset }

    /// Throws unless `count` more bytes are available.
    func require(_ count: Int) throws(ProtocolError) {
        guard count <= remaining else {
            throw .truncated(type, needed: count, available: remaining)
        }
    }

    mutating func uint8() throws(ProtocolError) -> UInt8 {
        try require(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() throws(ProtocolError) -> UInt16 {
        try require(2)
        defer { offset += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    mutating func uint32() throws(ProtocolError) -> UInt32 {
        try require(4)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func uint64() throws(ProtocolError) -> UInt64 {
        try require(8)
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// An IEEE float32 sent as its bit pattern; any pattern (even NaN) decodes, callers range-check.
    mutating func float32() throws(ProtocolError) -> Float {
        Float(bitPattern: try uint32())
    }

    /// A boolean byte: 0 or 1, anything else is invalid rather than silently "true".
    mutating func bool(_ field: String) throws(ProtocolError) -> Bool {
        switch try uint8() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(type, field: field, value: Int64(other))
        }
    }

    /// A string: a `UInt16` byte length, then that many bytes of UTF-8 (no terminator).
    ///
    /// The length is checked against `limit` and against the bytes left before anything is
    /// copied, so a lying length costs nothing.
    mutating func string(_ field: String, limit: Int) throws(ProtocolError) -> String {
        let length = Int(try uint16())
        guard length <= limit else { throw .invalidString(type, field: field) }
        try require(length)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw .invalidString(type, field: field)
        }
        return text
    }

    /// A sample format byte; unknown values are ``ProtocolError/unsupportedFormat(_:)``.
    mutating func sampleFormat() throws(ProtocolError) -> SampleFormat {
        let raw = try uint8()
        guard let format = SampleFormat(rawValue: raw) else { throw .unsupportedFormat(raw) }
        return format
    }

    /// A stream direction byte.
    mutating func direction() throws(ProtocolError) -> StreamMode {
        let raw = try uint8()
        guard let direction = StreamMode(rawValue: raw) else {
            throw .invalidValue(type, field: "direction", value: Int64(raw))
        }
        return direction
    }

    /// A channel count: 1 through ``WireLimits/maxChannels``.
    mutating func channels() throws(ProtocolError) -> Int {
        let raw = try uint16()
        guard raw >= 1, raw <= WireLimits.maxChannels else {
            throw .invalidValue(type, field: "channels", value: Int64(raw))
        }
        return Int(raw)
    }

    /// A sample rate within ``WireLimits/sampleRates``.
    mutating func sampleRate() throws(ProtocolError) -> Int {
        let raw = try uint32()
        guard WireLimits.sampleRates.contains(raw) else {
            throw .invalidValue(type, field: "rate", value: Int64(raw))
        }
        return Int(raw)
    }

    /// A volume: a finite float32 in 0...1 (linear amplitude).
    mutating func volume() throws(ProtocolError) -> Float {
        let value = try float32()
        guard value.isFinite, value >= 0, value <= 1 else {
            throw .invalidValue(type, field: "volume", value: Int64(value.bitPattern))
        }
        return value
    }

    /// The number of entries of a list, with the storage it may reserve.
    ///
    /// `minimumEntryBytes` is the smallest encoding of one entry: a count that could not fit in
    /// the bytes left is rejected before any array is reserved.
    mutating func count(minimumEntryBytes: Int) throws(ProtocolError) -> Int {
        let count = Int(try uint16())
        let needed = count * minimumEntryBytes
        guard needed <= remaining else { throw .truncated(type, needed: needed, available: remaining) }
        return count
    }

    /// Consumes and returns every byte left (the samples of an audio message).
    mutating func rest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }

    /// Throws if any byte is left: every payload has an exact shape.
    func finish() throws(ProtocolError) {
        guard remaining == 0 else { throw .trailingBytes(type, count: remaining) }
    }
}

/// Appends little-endian fields to a byte array that the caller reuses across messages.
///
/// Encoding into a reused array whose capacity already fits the largest message allocates nothing.
struct WireWriter {
    /// The bytes written so far (the caller's buffer, moved in and out).
    var bytes: [UInt8]
    /// The message type, named in any error.
    let type: MessageType

    init(into bytes: consuming [UInt8], type: MessageType) {
        self.bytes = bytes
        self.type = type
    }

    mutating func uint8(_ value: UInt8) { bytes.append(value) }

    mutating func uint16(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func uint32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func uint64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func float32(_ value: Float) { uint32(value.bitPattern) }

    mutating func bool(_ value: Bool) { uint8(value ? 1 : 0) }

    /// A `UInt16` length and the UTF-8 bytes; throws rather than truncating a string over `limit`.
    mutating func string(_ value: String, field: String, limit: Int) throws(ProtocolError) {
        let count = value.utf8.count
        guard count <= limit else { throw .invalidString(type, field: field) }
        uint16(UInt16(count))
        bytes.append(contentsOf: value.utf8)
    }

    /// A list count; throws if it cannot be represented.
    mutating func count(_ value: Int, field: String) throws(ProtocolError) {
        guard let count = UInt16(exactly: value) else {
            throw .invalidValue(type, field: field, value: Int64(value))
        }
        uint16(count)
    }

    /// Encodes a channel count, checking the same range the reader enforces.
    mutating func channels(_ value: Int) throws(ProtocolError) {
        guard value >= 1, value <= WireLimits.maxChannels else {
            throw .invalidValue(type, field: "channels", value: Int64(value))
        }
        uint16(UInt16(value))
    }

    /// Encodes a sample rate, checking the same range the reader enforces.
    mutating func sampleRate(_ value: Int) throws(ProtocolError) {
        guard let raw = UInt32(exactly: value), WireLimits.sampleRates.contains(raw) else {
            throw .invalidValue(type, field: "rate", value: Int64(value))
        }
        uint32(raw)
    }

    /// Encodes a volume, checking the same range the reader enforces.
    mutating func volume(_ value: Float) throws(ProtocolError) {
        guard value.isFinite, value >= 0, value <= 1 else {
            throw .invalidValue(type, field: "volume", value: Int64(value.bitPattern))
        }
        float32(value)
    }

    /// Encodes a frame count that must fit in 32 bits.
    mutating func frames(_ value: Int, field: String) throws(ProtocolError) {
        guard let raw = UInt32(exactly: value) else {
            throw .invalidValue(type, field: field, value: Int64(value))
        }
        uint32(raw)
    }
}
