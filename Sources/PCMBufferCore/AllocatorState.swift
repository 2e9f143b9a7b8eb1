// The allocator's state and the kernel's pcm_memory.c logic over it, without locking:
// SubstreamAllocator holds one AllocatorState under a lock and calls these methods under it.
// Each method checks every argument before changing anything, so a refused call leaves the
// state as it was. The one exception is the kernel's own: allocate frees the old runtime
// buffer before it allocates the new one, so a failed allocation leaves the runtime empty.
// BufferType.sealedShared adds two rules the kernel has no need for, because its memory is
// handed to another process: it is never preallocated (so never reused), and a released buffer
// is punched out as well as uncharged.

/// A substream's preallocation (the kernel's `substream->dma_buffer`, `dma_max`, proc files).
struct Preallocation {
    /// `dma_buffer.dev.type`; set by the first (and only) preallocation call.
    var type: BufferType
    /// `dma_buffer.area`: the preallocated memory, `nil` when there is none or it was freed.
    var buffer: DMABuffer?
    /// `dma_buffer.bytes`: what `prealloc` reports. Freeing leaves it unchanged, as in the kernel.
    var bytes: Int
    /// `dma_max`: the largest size a `prealloc` write may ask for; 0 means fixed.
    var max: Int
    /// Whether the `prealloc`/`prealloc_max` proc files exist (only when `max > 0`).
    var hasProcEntry: Bool { max > 0 }
}

/// An open substream's runtime and the buffer it uses.
struct Runtime {
    /// `runtime->dma_buffer_p`: the buffer in use, `nil` before `allocate` and after `release`.
    var buffer: DMABuffer?
    /// Whether `buffer` is the preallocated one (released by detaching, not freeing).
    var isPreallocated = false
    /// `runtime->dma_bytes`: the requested size.
    var bytes = 0
}

/// One substream's whole state. A class, so that the allocator mutates it in place through
/// a dictionary lookup: mutating a struct value inside a Dictionary goes through a `_modify`
/// coroutine whose frame is heap-allocated, and allocate/release must not allocate.
// Safety: records live only in AllocatorState, which is only reached under the
// SubstreamAllocator's lock; no reference to a record escapes the lock.
final class SubstreamRecord: @unchecked Sendable {
    /// `nil` until a preallocation call (the kernel's `SNDRV_DMA_TYPE_UNKNOWN`).
    var preallocation: Preallocation?
    /// `nil` while the substream is closed.
    var runtime: Runtime?
    /// `substream->buffer_bytes_max`, the hw_params limit; `nil` is the kernel's `UINT_MAX`.
    var bufferBytesMax: Int?

    init() {}
}

/// A card's accounting (`card->total_pcm_alloc_bytes`); a class for the same reason.
// Safety: as for SubstreamRecord, only reached under the allocator's lock.
final class CardAccount: @unchecked Sendable {
    var bytes = 0
}

/// Everything the allocator knows, mutated only under its lock.
struct AllocatorState {
    /// The kernel's `snd_minimum_buffer`: the preallocation fallback stops below this size.
    static let minimumBuffer = 16384

    var substreams: [SubstreamID: SubstreamRecord] = [:]
    var pcms: [PCMID: (playback: Int, capture: Int)] = [:]
    /// `card->total_pcm_alloc_bytes` per card.
    var cardAccounts: [Int: CardAccount] = [:]
    /// `max_alloc_per_card`; `nil` (the kernel's 0) means no limit.
    var cardLimit: Int?
    /// `maximum_substreams`: only subdevices below this preallocate in fallback mode.
    var maximumSubstreams: Int
    /// `preallocate_dma`: whether fallback-mode preallocation happens at all.
    var preallocateDMA: Bool
    let backend: any MemoryBackend

    init(cardLimit: Int?, maximumSubstreams: Int, preallocateDMA: Bool, backend: any MemoryBackend) {
        self.cardLimit = cardLimit
        self.maximumSubstreams = maximumSubstreams
        self.preallocateDMA = preallocateDMA
        self.backend = backend
    }

    func record(_ id: SubstreamID) throws(PCMMemoryError) -> SubstreamRecord {
        guard let record = substreams[id] else { throw .unknownSubstream(id) }
        return record
    }

    // MARK: Accounting (do_alloc_pages / do_free_pages)

    /// Allocates `size` bytes (rounded up to pages) after checking the card limit against the
    /// requested size, then charges the card the page-aligned size, as `do_alloc_pages` does.
    /// The account of a card, created on first use.
    mutating func account(_ card: Int) -> CardAccount {
        if let account = cardAccounts[card] { return account }
        let account = CardAccount()
        cardAccounts[card] = account
        return account
    }

    mutating func allocatePages(card: Int, type: BufferType, size: Int) throws(PCMMemoryError) -> DMABuffer {
        guard size > 0 else { throw .zeroSize }
        let account = account(card)
        let inUse = account.bytes
        // `size > limit - inUse` is `inUse + size > limit` without overflowing for absurd sizes.
        if let cardLimit, cardLimit > 0, size > cardLimit - inUse {
            throw .cardLimitExceeded(card: card, requested: ByteCount(size), inUse: ByteCount(inUse), limit: ByteCount(cardLimit))
        }
        // No machine has this much memory, and rounding it up to pages would overflow.
        guard size <= Int.max / 2 else { throw .outOfMemory(requested: ByteCount(size)) }
        let aligned = PageSize.align(size)
        let pages: MappedPages
        do {
            pages = try backend.map(type, bytes: aligned)
        } catch .outOfMemory {
            throw .outOfMemory(requested: ByteCount(size))
        } catch {
            throw .backendFailure(error)
        }
        let buffer = DMABuffer(type: type, pages: pages)
        account.bytes = inUse + buffer.bytes.value
        return buffer
    }

    /// Returns a buffer's bytes to its card (`do_free_pages`). The memory itself is unmapped
    /// when the last reference to the buffer goes away.
    mutating func freePages(card: Int, buffer: DMABuffer) {
        let account = account(card)
        assert(account.bytes >= buffer.bytes.value, "card accounting underflow")
        account.bytes = max(0, account.bytes - buffer.bytes.value)
    }

    /// Frees a runtime's dynamic buffer: `freePages`, and for memory a client may still map,
    /// the punch that frees its pages now (``DMABuffer/reclaim()``). The card is credited
    /// whether or not the punch succeeds; a failed punch is thrown after that.
    mutating func freeRuntimePages(_ id: SubstreamID, buffer: DMABuffer) throws(PCMMemoryError) {
        freePages(card: id.card, buffer: buffer)
        guard buffer.type.isExportedToClients else { return }
        do {
            try buffer.reclaim()
        } catch {
            throw .reclaimFailed(id, error)
        }
    }

    // MARK: Preallocation (preallocate_pages / preallocate_pcm_pages)

    /// `snd_pcm_set_managed_buffer` / `snd_pcm_lib_preallocate_pages` for one substream.
    /// Returns the bytes obtained (0 when nothing was preallocated).
    mutating func preallocate(_ id: SubstreamID, type: BufferType, size: Int, max: Int) throws(PCMMemoryError) -> Int {
        let record = try record(id)
        guard size >= 0 else { throw .negativeSize(size) }
        guard max >= 0 else { throw .negativeSize(max) }
        guard record.runtime == nil else { throw .busy(id) }
        guard record.preallocation == nil else { throw .alreadyPreallocated(id) }
        if max > 0, max < size { throw .maxBelowSize(size: ByteCount(size), max: ByteCount(max)) }
        // Exported memory is fresh for every stream, so there is nothing to preallocate, and no
        // `prealloc` proc file (max > 0) through which a preallocation could appear later.
        if type.isExportedToClients, size > 0 || max > 0 { throw .exportedMemoryPreallocated(id) }

        var preallocation = Preallocation(type: type, buffer: nil, bytes: 0, max: max)
        if size > 0 {
            if max == 0 {
                // Fixed: exactly this size or an error, whatever the module parameters say.
                let buffer = try allocatePages(card: id.card, type: type, size: size)
                preallocation.buffer = buffer
                preallocation.bytes = buffer.bytes.value
            } else if preallocateDMA, id.subdevice < maximumSubstreams {
                if let buffer = try allocateHalving(card: id.card, type: type, size: size) {
                    preallocation.buffer = buffer
                    preallocation.bytes = buffer.bytes.value
                }
            }
        }
        if preallocation.bytes > 0 { record.bufferBytesMax = preallocation.bytes }
        record.preallocation = preallocation
        return preallocation.bytes
    }

    /// The fallback loop: try `size`, and on out-of-memory (or the card limit) halve it with
    /// a plain shift while it stays at or above 16 KiB. Returns `nil` when every try failed;
    /// any other error is thrown at once.
    private mutating func allocateHalving(card: Int, type: BufferType, size: Int) throws(PCMMemoryError) -> DMABuffer? {
        var size = size
        repeat {
            do {
                return try allocatePages(card: card, type: type, size: size)
            } catch let error where error.isOutOfMemory {
                size >>= 1
            }
        } while size >= Self.minimumBuffer
        return nil
    }

    /// `snd_pcm_lib_preallocate_free_for_all`: frees every preallocated buffer of the PCM,
    /// keeping the recorded sizes (and `buffer_bytes_max`) as the kernel does.
    mutating func freeAllPreallocated(_ pcm: PCMID) throws(PCMMemoryError) {
        let ids = try substreamIDs(of: pcm)
        for id in ids {
            guard let record = substreams[id], let buffer = record.preallocation?.buffer else { continue }
            freePages(card: id.card, buffer: buffer)
            record.preallocation?.buffer = nil
        }
    }

    func substreamIDs(of pcm: PCMID) throws(PCMMemoryError) -> [SubstreamID] {
        guard let counts = pcms[pcm] else { throw .unknownPCM(pcm) }
        let playback = (0..<counts.playback).map {
            SubstreamID(card: pcm.card, device: pcm.device, direction: .playback, subdevice: $0)
        }
        let capture = (0..<counts.capture).map {
            SubstreamID(card: pcm.card, device: pcm.device, direction: .capture, subdevice: $0)
        }
        return playback + capture
    }

    // MARK: Runtime buffers (snd_pcm_lib_malloc_pages / snd_pcm_lib_free_pages)

    /// `snd_pcm_lib_malloc_pages`.
    mutating func allocate(_ id: SubstreamID, bytes: Int) throws(PCMMemoryError) -> AllocationChange {
        let record = try record(id)
        guard var runtime = record.runtime else { throw .notOpen(id) }
        guard let preallocation = record.preallocation else { throw .notPreallocated(id) }
        guard bytes >= 0 else { throw .negativeSize(bytes) }
        guard bytes > 0 else { throw .zeroSize }

        // Exported memory is never kept: the caller may be setting up another stream, and the
        // old buffer may still be mapped by the client it was given to.
        if let current = runtime.buffer, current.bytes.value >= bytes, !current.type.isExportedToClients {
            runtime.bytes = bytes
            record.runtime = runtime
            return .unchanged
        }
        // As in the kernel, the old buffer goes first, so after a failure below the runtime
        // has no buffer (and a dynamic old buffer's bytes count as free for the new one).
        let old = runtime
        runtime = Runtime()
        record.runtime = runtime
        if let oldBuffer = old.buffer, !old.isPreallocated { try freeRuntimePages(id, buffer: oldBuffer) }
        if let preallocated = preallocation.buffer, preallocated.bytes.value >= bytes {
            runtime = Runtime(buffer: preallocated, isPreallocated: true, bytes: bytes)
        } else if let preallocated = preallocation.buffer, preallocation.max == 0 {
            throw .fixedBufferTooSmall(fixed: preallocated.bytes, requested: ByteCount(bytes))
        } else {
            let buffer = try allocatePages(card: id.card, type: preallocation.type, size: bytes)
            runtime = Runtime(buffer: buffer, isPreallocated: false, bytes: bytes)
        }
        record.runtime = runtime
        return .changed
    }

    /// `snd_pcm_lib_free_pages`: idempotent; detaches a preallocated buffer and frees a
    /// dynamic one (punching exported memory out). The runtime is empty afterwards even when
    /// the punch fails and `reclaimFailed` is thrown.
    mutating func release(_ id: SubstreamID) throws(PCMMemoryError) {
        let record = try record(id)
        guard let runtime = record.runtime else { throw .notOpen(id) }
        guard let buffer = runtime.buffer else { return }
        record.runtime = Runtime()
        if !runtime.isPreallocated { try freeRuntimePages(id, buffer: buffer) }
    }
}

/// What ``SubstreamAllocator/allocate(substream:bytes:)`` did (the kernel's return of 1 or 0).
public enum AllocationChange: Hashable, Sendable {
    /// The runtime has a different buffer than before: remap it (the kernel returns 1 and
    /// sets `runtime->buffer_changed`).
    case changed
    /// The current buffer was already large enough and was kept; only the size in use changed.
    case unchanged
}
