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

/// A snapshot of the allocator: every card with a PCM, every substream, the card limit.
public struct AllocatorReport: Hashable, Sendable {
    /// The per-card limit (`max_alloc_per_card`); nil: none.
    public var cardLimit: ByteCount?
    public var cards: [CardUsage]
    /// Every substream, ordered by card, device, direction and subdevice.
    public var substreams: [(id: SubstreamID, status: SubstreamStatus)]

    public static func == (a: Self, b: Self) -> Bool {
        a.cardLimit == b.cardLimit && a.cards == b.cards && a.substreams.elementsEqual(b.substreams) { $0.id == $1.id && $0.status == $1.status }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(cardLimit)
        hasher.combine(cards)
        for entry in substreams {
            hasher.combine(entry.id)
            hasher.combine(entry.status)
        }
    }
}

extension SubstreamAllocator {
    /// Everything the allocator manages. Each substream is read under the allocator's lock; one
    /// that goes away meanwhile is left out (a listing, not a transaction).
    public func report() -> AllocatorReport {
        let ids = (try? withState { state in Array(state.substreams.keys) }) ?? []
        let sorted = ids.sorted {
            ($0.card, $0.device, $0.direction.rawValue, $0.subdevice) < ($1.card, $1.device, $1.direction.rawValue, $1.subdevice)
        }
        var substreams: [(id: SubstreamID, status: SubstreamStatus)] = []
        for id in sorted {
            if let status = try? status(substream: id) { substreams.append((id, status)) }
        }
        let cards = Set(sorted.map(\.card)).sorted().map { CardUsage(card: $0, bytesInUse: bytesInUse(card: $0)) }
        return AllocatorReport(cardLimit: cardLimit, cards: cards, substreams: substreams)
    }
}
