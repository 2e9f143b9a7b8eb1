// The allocator on the wire: `listMemory` → `memoryList` (what `pcmctl memory` shows: every card's
// total against its limit and every substream's /proc/asound view) and `setPreallocation` (what
// `pcmctl prealloc` asks: a write to a substream's `prealloc` file, with the kernel's rules).
// docs/protocol.md §4 gives the byte layouts.

import PCMBufferCore

/// Names a substream as /proc/asound does: card, device, direction, subdevice.
///
/// On the wire: card `u32`, device `u32`, direction `u8` (0 playback, 1 capture), subdevice `u32`.
public struct SubstreamName: Hashable, Sendable {
    public var id: SubstreamID

    public init(_ id: SubstreamID) { self.id = id }

    static let bytes = 13
}

extension SubstreamName: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        let card = Int(try reader.uint32())
        let device = Int(try reader.uint32())
        let rawDirection = try reader.uint8()
        guard let direction = StreamDirection(rawValue: Int(rawDirection)) else {
            throw .invalidValue(reader.type, field: "direction", value: Int64(rawDirection))
        }
        let subdevice = Int(try reader.uint32())
        id = SubstreamID(card: card, device: device, direction: direction, subdevice: subdevice)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        for (field, value) in [("card", id.card), ("device", id.device)] {
            guard let raw = UInt32(exactly: value) else { throw .invalidValue(writer.type, field: field, value: Int64(value)) }
            writer.uint32(raw)
        }
        writer.uint8(UInt8(id.direction.rawValue))
        guard let subdevice = UInt32(exactly: id.subdevice) else { throw .invalidValue(writer.type, field: "subdevice", value: Int64(id.subdevice)) }
        writer.uint32(subdevice)
    }
}

/// One substream in a ``MemoryListing``.
///
/// On the wire: ``SubstreamName`` (13 bytes), buffer type `u8` (0 none yet; otherwise the
/// allocator's BufferType number), flags `u8` (bit 0 open, bit 1 has `prealloc` files, bit 2
/// the preallocated memory exists), prealloc bytes `u64`, prealloc max bytes `u64`, runtime
/// buffer bytes `u64` (`u64::MAX`: none) — 44 bytes.
public struct SubstreamMemory: Hashable, Sendable {
    public var substream: SubstreamID
    public var status: SubstreamStatus

    public init(substream: SubstreamID, status: SubstreamStatus) {
        self.substream = substream
        self.status = status
    }

    static let bytes = SubstreamName.bytes + 2 + 3 * 8
}

extension SubstreamMemory: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        substream = try SubstreamName(from: &reader).id
        let rawType = try reader.uint8()
        let type: BufferType?
        if rawType == 0 {
            type = nil
        } else {
            guard let known = BufferType(rawValue: Int(rawType)) else { throw .invalidValue(reader.type, field: "bufferType", value: Int64(rawType)) }
            type = known
        }
        let flags = try reader.uint8()
        guard flags & ~0b111 == 0 else { throw .invalidValue(reader.type, field: "flags", value: Int64(flags)) }
        let prealloc = try reader.uint64()
        let max = try reader.uint64()
        let runtime = try reader.uint64()
        // u64::MAX means "none" for the runtime size only: prealloc and max of u64::MAX are out
        // of range like any value above Int.max. (Exempting them too decoded u64::MAX as Int.max,
        // which re-encodes as other bytes: fuzz-protocol found the non-canonical decode.)
        for (field, value) in [("prealloc", prealloc), ("max", max), ("runtime", runtime)]
        where value > UInt64(Int.max) && !(field == "runtime" && value == .max) {
            throw .invalidValue(reader.type, field: field, value: Int64(bitPattern: value))
        }
        status = SubstreamStatus(
            bufferType: type, preallocatedBytes: ByteCount(Int(prealloc)), hasPreallocatedBuffer: flags & 0b100 != 0,
            preallocationMax: ByteCount(Int(max)), hasProcEntry: flags & 0b010 != 0, isOpen: flags & 0b001 != 0,
            runtimeBytes: runtime == .max ? nil : ByteCount(Int(runtime)), bufferBytesMax: nil)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        try SubstreamName(substream).encode(to: &writer)
        writer.uint8(UInt8(clamping: status.bufferType?.rawValue ?? 0))
        writer.uint8((status.isOpen ? 0b001 : 0) | (status.hasProcEntry ? 0b010 : 0) | (status.hasPreallocatedBuffer ? 0b100 : 0))
        writer.uint64(UInt64(max(status.preallocatedBytes.value, 0)))
        writer.uint64(UInt64(max(status.preallocationMax.value, 0)))
        writer.uint64(status.runtimeBytes.map { UInt64(max($0.value, 0)) } ?? .max)
    }
}

/// Daemon → client: the answer to `listMemory`.
///
/// On the wire: card limit `u64` (0: none), a `u16` count of cards, each card `u32` and bytes
/// in use `u64`, then a `u16` count of ``SubstreamMemory`` entries. The daemon lists its device
/// substreams and the client substreams that are open (closed client slots hold nothing).
public struct MemoryListing: Hashable, Sendable {
    public var cardLimit: ByteCount?
    public var cards: [CardUsage]
    public var substreams: [SubstreamMemory]

    public init(cardLimit: ByteCount?, cards: [CardUsage], substreams: [SubstreamMemory]) {
        self.cardLimit = cardLimit
        self.cards = cards
        self.substreams = substreams
    }
}

extension MemoryListing: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        let limit = try reader.uint64()
        guard limit <= UInt64(Int.max) else { throw .invalidValue(reader.type, field: "cardLimit", value: Int64(bitPattern: limit)) }
        cardLimit = limit == 0 ? nil : ByteCount(Int(limit))
        let cardCount = try reader.count(minimumEntryBytes: 12)
        var cards: [CardUsage] = []
        for _ in 0..<cardCount {
            let card = Int(try reader.uint32())
            let used = try reader.uint64()
            guard used <= UInt64(Int.max) else { throw .invalidValue(reader.type, field: "bytesInUse", value: Int64(bitPattern: used)) }
            cards.append(CardUsage(card: card, bytesInUse: ByteCount(Int(used))))
        }
        self.cards = cards
        substreams = try reader.list(of: SubstreamMemory.self, minimumEntryBytes: SubstreamMemory.bytes)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint64(UInt64(max(cardLimit?.value ?? 0, 0)))
        try writer.count(cards.count, field: "cards")
        for card in cards {
            guard let number = UInt32(exactly: card.card) else { throw .invalidValue(writer.type, field: "card", value: Int64(card.card)) }
            writer.uint32(number)
            writer.uint64(UInt64(max(card.bytesInUse.value, 0)))
        }
        try writer.list(substreams, field: "substreams")
    }
}

/// Client → daemon: write `kibibytes` to a substream's `prealloc` file (the kernel's unit).
///
/// On the wire: ``SubstreamName`` (13 bytes), kibibytes `u64`. Reply: `ok`, or
/// `error(memoryRefused)` with the kernel's reason (busy, below 8 KiB, above `prealloc_max`, the
/// card limit), or `error(accessDenied)` for a peer that is not the daemon's own user or root.
public struct SetPreallocation: Hashable, Sendable {
    public var substream: SubstreamID
    public var kibibytes: UInt64

    public init(substream: SubstreamID, kibibytes: UInt64) {
        self.substream = substream
        self.kibibytes = kibibytes
    }
}

extension SetPreallocation: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        substream = try SubstreamName(from: &reader).id
        kibibytes = try reader.uint64()
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        try SubstreamName(substream).encode(to: &writer)
        writer.uint64(kibibytes)
    }
}
