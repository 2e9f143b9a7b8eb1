// Everything the allocator manages, in one snapshot: what `pcmctl memory` shows. For each card,
// the bytes charged against the limit (`card->total_pcm_alloc_bytes`); for each substream, what
// /proc/asound/cardN/pcmDx/subS shows (`prealloc`, `prealloc_max`, the buffer in use).

/// One card's account.
public struct CardUsage: Hashable, Sendable {
    public var card: Int
    /// Bytes charged to the card now: preallocations plus runtime buffers allocated beside them.
    public var bytesInUse: ByteCount

    public init(card: Int, bytesInUse: ByteCount) {
        self.card = card
        self.bytesInUse = bytesInUse
    }
}

/// One substream in an ``AllocatorReport``.
public struct SubstreamReport: Hashable, Sendable {
    public var id: SubstreamID
    public var status: SubstreamStatus

    public init(id: SubstreamID, status: SubstreamStatus) {
        self.id = id
        self.status = status
    }
}

/// A snapshot of the allocator: every card with a PCM, every substream, the card limit.
public struct AllocatorReport: Hashable, Sendable {
    /// The per-card limit (`max_alloc_per_card`); nil: none.
    public var cardLimit: ByteCount?
    public var cards: [CardUsage]
    /// Every substream, ordered by card, device, direction and subdevice.
    public var substreams: [SubstreamReport]
}

extension SubstreamAllocator {
    /// Everything the allocator manages. Each substream is read under the allocator's lock; one
    /// that goes away meanwhile is left out (a listing, not a transaction).
    public func report() -> AllocatorReport {
        let ids = (try? withState { state in Array(state.substreams.keys) }) ?? []
        let sorted = ids.sorted()
        let substreams = sorted.compactMap { id in (try? status(substream: id)).map { SubstreamReport(id: id, status: $0) } }
        let cards = Set(sorted.map(\.card)).sorted().map { CardUsage(card: $0, bytesInUse: bytesInUse(card: $0)) }
        return AllocatorReport(cardLimit: cardLimit, cards: cards, substreams: substreams)
    }
}
