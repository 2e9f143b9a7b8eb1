// The thread-safe façade of the substream buffer allocator: the kernel's PCM memory
// management API (pcm_memory.c) for userspace substreams, one lock (`Locked`) around AllocatorState.
// Not for the real-time thread: take the RuntimeBuffer once, then use it lock-free.

import Synchronization

/// Manages the buffers of PCM substreams with the Linux kernel's semantics.
///
/// The model, per substream: a *preallocation* made once at setup (``preallocate(substream:type:size:max:)``,
/// halving on lack of memory), a *runtime* that exists while the substream is open, and a
/// *runtime buffer* that hw_params obtains with ``allocate(substream:bytes:)`` (reusing the
/// preallocation when it fits) and hw_free gives back with ``release(substream:)``.
/// Every byte mapped is charged to the substream's card; a card may hold at most
/// ``cardLimit`` bytes (the kernel's `max_alloc_per_card`, 32 MiB by default).
///
/// All methods are thread-safe (they take an internal lock) and none is meant for a
/// real-time thread. A refused call throws a ``PCMMemoryError`` and changes nothing, except
/// where the kernel itself changes state before failing (documented on the method).
public final class SubstreamAllocator: Sendable {
    /// The kernel's default `max_alloc_per_card`: 32 MiB.
    public static let defaultCardLimit = ByteCount.mebibytes(32)

    private let state: Locked<AllocatorState>

    /// Creates an allocator with no PCMs.
    ///
    /// - Parameters:
    ///   - cardLimit: the most bytes one card may have allocated (`max_alloc_per_card`);
    ///     `nil` means no limit (the kernel's 0).
    ///   - maximumSubstreams: only subdevices numbered below this preallocate when a
    ///     preallocation has a fallback (`maximum_substreams`, default 4).
    ///   - preallocateDMA: whether fallback preallocations happen at all (`preallocate_dma`).
    ///   - backend: where the memory comes from; tests pass one that fails on purpose.
    public init(
        cardLimit: ByteCount? = SubstreamAllocator.defaultCardLimit,
        maximumSubstreams: Int = 4,
        preallocateDMA: Bool = true,
        backend: any MemoryBackend = SystemMemoryBackend()
    ) {
        state = Locked(
            AllocatorState(
                cardLimit: cardLimit?.value, maximumSubstreams: maximumSubstreams, preallocateDMA: preallocateDMA,
                backend: backend))
    }

    // MARK: PCMs and substreams

    /// The per-card accounting limit; `nil` means unlimited. Lowering it below what a card
    /// already holds frees nothing; it only refuses new allocations (as in the kernel, where
    /// the module parameter is writable at run time).
    public var cardLimit: ByteCount? {
        get { state.withLock { $0.cardLimit.map { ByteCount($0) } } }
        set { state.withLock { $0.cardLimit = newValue?.value } }
    }

    /// Adds a PCM device with the given numbers of playback and capture substreams
    /// (`snd_pcm_new`). Its substreams start closed and not preallocated.
    public func addPCM(card: Int, device: Int, playbackSubstreams: Int, captureSubstreams: Int) throws(PCMMemoryError) {
        let pcm = PCMID(card: card, device: device)
        try state.withLock { (state) throws(PCMMemoryError) in
            guard card >= 0, device >= 0 else { throw .invalidPCMNumber(card: card, device: device) }
            guard playbackSubstreams >= 0, captureSubstreams >= 0, playbackSubstreams + captureSubstreams > 0 else {
                throw .invalidSubstreamCount(playback: playbackSubstreams, capture: captureSubstreams)
            }
            guard state.pcms[pcm] == nil else { throw .pcmAlreadyExists(pcm) }
            state.pcms[pcm] = (playbackSubstreams, captureSubstreams)
            for id in try state.substreamIDs(of: pcm) { state.substreams[id] = SubstreamRecord() }
        }
    }

    /// Removes a PCM and frees all its memory (`snd_pcm_free`). Refused while any of its
    /// substreams is open.
    public func removePCM(card: Int, device: Int) throws(PCMMemoryError) {
        let pcm = PCMID(card: card, device: device)
        try state.withLock { (state) throws(PCMMemoryError) in
            let ids = try state.substreamIDs(of: pcm)
            if let open = ids.first(where: { state.substreams[$0]?.runtime != nil }) { throw .busy(open) }
            try state.freeAllPreallocated(pcm)
            for id in ids { state.substreams[id] = nil }
            state.pcms[pcm] = nil
        }
    }

    /// Every substream of a PCM: playback ones first, then capture, each by subdevice.
    public func substreams(card: Int, device: Int) throws(PCMMemoryError) -> [SubstreamID] {
        try state.withLock { (state) throws(PCMMemoryError) in try state.substreamIDs(of: PCMID(card: card, device: device)) }
    }

    // MARK: Preallocation

    /// Preallocates a substream's buffer (`snd_pcm_set_managed_buffer`,
    /// `snd_pcm_lib_preallocate_pages`). Call it once per substream, while it is closed.
    ///
    /// - `size > 0, max > 0`: tries `size`; on lack of memory or the card limit, halves it
    ///   (a plain shift) and retries while it is at least 16 KiB. When every try fails the
    ///   substream is left without a preallocation (returns 0) and may still allocate
    ///   dynamically later. Subdevices at or above `maximumSubstreams`, or all when
    ///   `preallocateDMA` is off, skip this and return 0.
    /// - `size > 0, max == 0`: a *fixed* buffer: exactly `size` or an error, no fallback.
    /// - `size == 0`: nothing is preallocated; every buffer is allocated by `allocate`.
    ///   This (with `max == 0`) is the only form a ``BufferType/sealedShared`` substream accepts.
    ///
    /// On success the hw_params limit ``bufferBytesMax(substream:)`` becomes the obtained
    /// page-aligned size, and when `max > 0` the substream gets its `prealloc` proc file.
    ///
    /// - Returns: the bytes obtained, page-aligned (0 when nothing was preallocated).
    /// - Throws: `unknownSubstream`, `negativeSize`, `busy`, `alreadyPreallocated`,
    ///   `maxBelowSize` (`max > 0 && max < size`), `exportedMemoryPreallocated` (a
    ///   ``BufferType/sealedShared`` substream with a size or max); for a fixed buffer `cardLimitExceeded` or
    ///   `outOfMemory`; `backendFailure` for any other failure of the memory backend.
    @discardableResult
    public func preallocate(substream: SubstreamID, type: BufferType, size: ByteCount, max: ByteCount) throws(PCMMemoryError) -> ByteCount {
        try state.withLock { (state) throws(PCMMemoryError) in
            ByteCount(try state.preallocate(substream, type: type, size: size.value, max: max.value))
        }
    }

    /// Preallocates every substream of a PCM, playback then capture
    /// (`snd_pcm_set_managed_buffer_all`). Checks every substream first, so it either
    /// preallocates all of them or throws before changing any; a later failure of the
    /// memory backend (which cannot be checked in advance) stops there, as in the kernel.
    ///
    /// - Returns: the bytes obtained by each substream, in the order of ``substreams(card:device:)``.
    @discardableResult
    public func preallocateForAll(card: Int, device: Int, type: BufferType, size: ByteCount, max: ByteCount) throws(PCMMemoryError) -> [ByteCount] {
        try state.withLock { (state) throws(PCMMemoryError) in
            let ids = try state.substreamIDs(of: PCMID(card: card, device: device))
            guard size.value >= 0 else { throw .negativeSize(size.value) }
            guard max.value >= 0 else { throw .negativeSize(max.value) }
            for id in ids {
                let record = try state.record(id)
                guard record.runtime == nil else { throw .busy(id) }
                guard record.preallocation == nil else { throw .alreadyPreallocated(id) }
                if type.isExportedToClients, size.value > 0 || max.value > 0 { throw .exportedMemoryPreallocated(id) }
            }
            var obtained: [ByteCount] = []
            for id in ids { obtained.append(ByteCount(try state.preallocate(id, type: type, size: size.value, max: max.value))) }
            return obtained
        }
    }

    /// Frees every preallocated buffer of a PCM (`snd_pcm_lib_preallocate_free_for_all`).
    /// The recorded sizes, which `prealloc` reports, and the hw_params limits stay as they
    /// were, as in the kernel. A runtime that is using a preallocated buffer keeps its
    /// memory mapped until it releases it; the card is no longer charged for it.
    public func freeAllPreallocated(card: Int, device: Int) throws(PCMMemoryError) {
        try state.withLock { (state) throws(PCMMemoryError) in try state.freeAllPreallocated(PCMID(card: card, device: device)) }
    }

    // MARK: Runtime

    /// Opens a substream: it gets a runtime, which makes it busy for preallocation changes.
    public func open(substream: SubstreamID) throws(PCMMemoryError) {
        try state.withLock { (state) throws(PCMMemoryError) in
            let record = try state.record(substream)
            guard record.runtime == nil else { throw .alreadyOpen(substream) }
            try state.record(substream).runtime = Runtime()
        }
    }

    /// Closes a substream, releasing its runtime buffer first (what hw_free does for a
    /// managed buffer when the device is closed).
    ///
    /// - Throws: `unknownSubstream`; `reclaimFailed` after the substream has been closed and
    ///   its card credited (see ``release(substream:)``).
    public func close(substream: SubstreamID) throws(PCMMemoryError) {
        try state.withLock { (state) throws(PCMMemoryError) in
            var reclaimFailure: PCMMemoryError? = nil
            do throws(PCMMemoryError) {
                try state.release(substream)
            } catch {
                guard case .reclaimFailed = error else { throw error }
                reclaimFailure = error
            }
            try state.record(substream).runtime = nil
            if let reclaimFailure { throw reclaimFailure }
        }
    }

    /// Gives an open substream a runtime buffer of at least `bytes` bytes
    /// (`snd_pcm_lib_malloc_pages`, called by hw_params with the buffer's byte size).
    ///
    /// - If the current runtime buffer holds `bytes`, it is kept: returns `.unchanged`.
    /// - Otherwise the current buffer is released (a dynamic one freed); then the
    ///   preallocated buffer is used if it holds `bytes`; otherwise, unless the preallocation
    ///   is fixed, a new buffer of exactly `bytes` (page-aligned) is allocated, with no
    ///   halving. Returns `.changed`.
    ///
    /// The size in use becomes `bytes` in every case. This does not check
    /// ``bufferBytesMax(substream:)``; that limit belongs to hw_params (see ``HardwareSizing``).
    ///
    /// A ``BufferType/sealedShared`` substream is the exception to keeping: every call maps a
    /// new, zeroed memfd and frees (and punches) the old one, so memory that went to one client
    /// never reaches another.
    ///
    /// - Throws: `unknownSubstream`, `notOpen`, `notPreallocated` (no preallocation call
    ///   was made), `negativeSize`, `zeroSize`; and after the old buffer has been released,
    ///   `reclaimFailed` (the old buffer's punch failed; nothing new was allocated),
    ///   `fixedBufferTooSmall`, `cardLimitExceeded`, `outOfMemory` or `backendFailure`.
    @discardableResult
    public func allocate(substream: SubstreamID, bytes: ByteCount) throws(PCMMemoryError) -> AllocationChange {
        try state.withLock { (state) throws(PCMMemoryError) in try state.allocate(substream, bytes: bytes.value) }
    }

    /// Releases an open substream's runtime buffer (`snd_pcm_lib_free_pages`): a dynamic
    /// buffer is freed, the preallocated one only detached. Releasing twice is harmless.
    ///
    /// A ``BufferType/sealedShared`` buffer is also punched out (``DMABuffer/reclaim()``): its
    /// pages are freed at once, even if a client still maps them, and every mapping (the
    /// daemon's and the client's) reads zeros from then on. Detach the audio thread from the
    /// stream before releasing, so that it does not fault fresh pages back in.
    ///
    /// - Throws: `unknownSubstream`, `notOpen`; `reclaimFailed` when the punch failed, after
    ///   the buffer was released and its card credited.
    public func release(substream: SubstreamID) throws(PCMMemoryError) {
        try state.withLock { (state) throws(PCMMemoryError) in try state.release(substream) }
    }

    /// The runtime buffer of an open substream, or `nil` when it has none (before
    /// `allocate`, after `release`). The returned value keeps the memory mapped for as long
    /// as it is held, even after a later `release`; the daemon should drop it then.
    ///
    /// - Throws: `unknownSubstream`, `notOpen`.
    public func runtimeBuffer(substream: SubstreamID) throws(PCMMemoryError) -> RuntimeBuffer? {
        try state.withLock { (state) throws(PCMMemoryError) in
            guard let runtime = try state.record(substream).runtime else { throw .notOpen(substream) }
            guard let buffer = runtime.buffer else { return nil }
            return RuntimeBuffer(buffer: buffer, bytes: ByteCount(runtime.bytes), isPreallocated: runtime.isPreallocated)
        }
    }

    /// Runs `body` with the state locked; for the extensions in other files.
    func withState<Result>(_ body: (inout AllocatorState) throws(PCMMemoryError) -> Result) throws(PCMMemoryError) -> Result {
        try state.withLock { (state) throws(PCMMemoryError) in try body(&state) }
    }

    // MARK: Limits and accounting

    /// The largest buffer hw_params may ask for (`substream->buffer_bytes_max`): the
    /// preallocated size, or the last size written to `prealloc`; `nil` means unlimited (the
    /// kernel's `UINT_MAX`: no preallocation, so only the hardware's own limit applies).
    public func bufferBytesMax(substream: SubstreamID) throws(PCMMemoryError) -> ByteCount? {
        try state.withLock { (state) throws(PCMMemoryError) in try state.record(substream).bufferBytesMax.map { ByteCount($0) } }
    }

    /// The bytes currently charged to a card (`card->total_pcm_alloc_bytes`).
    public func bytesInUse(card: Int) -> ByteCount {
        state.withLock { ByteCount($0.cardAccounts[card]?.bytes ?? 0) }
    }

    /// A snapshot of everything the allocator knows about one substream.
    public func status(substream: SubstreamID) throws(PCMMemoryError) -> SubstreamStatus {
        try state.withLock { (state) throws(PCMMemoryError) in
            let record = try state.record(substream)
            return SubstreamStatus(
                bufferType: record.preallocation?.type,
                preallocatedBytes: ByteCount(record.preallocation?.bytes ?? 0),
                hasPreallocatedBuffer: record.preallocation?.buffer != nil,
                preallocationMax: ByteCount(record.preallocation?.max ?? 0),
                hasProcEntry: record.preallocation?.hasProcEntry ?? false,
                isOpen: record.runtime != nil,
                runtimeBytes: record.runtime?.buffer == nil ? nil : ByteCount(record.runtime?.bytes ?? 0),
                bufferBytesMax: record.bufferBytesMax.map { ByteCount($0) })
        }
    }
}

/// What ``SubstreamAllocator/status(substream:)`` reports about a substream.
public struct SubstreamStatus: Hashable, Sendable {
    /// The buffer type given at preallocation; `nil` before any preallocation call.
    public var bufferType: BufferType?
    /// The recorded preallocation size (`dma_buffer.bytes`), what `prealloc` shows. It stays
    /// after ``SubstreamAllocator/freeAllPreallocated(card:device:)``, as in the kernel.
    public var preallocatedBytes: ByteCount
    /// Whether the preallocated memory currently exists.
    public var hasPreallocatedBuffer: Bool
    /// The preallocation's `max` (`dma_max`); 0 for a fixed buffer or none.
    public var preallocationMax: ByteCount
    /// Whether the substream has `prealloc`/`prealloc_max` proc files.
    public var hasProcEntry: Bool
    /// Whether the substream is open.
    public var isOpen: Bool
    /// The runtime buffer's size in use, `nil` when there is no runtime buffer.
    public var runtimeBytes: ByteCount?
    /// The hw_params buffer limit; `nil` is unlimited.
    public var bufferBytesMax: ByteCount?

    public init(bufferType: BufferType?, preallocatedBytes: ByteCount, hasPreallocatedBuffer: Bool, preallocationMax: ByteCount,
                hasProcEntry: Bool, isOpen: Bool, runtimeBytes: ByteCount?, bufferBytesMax: ByteCount?) {
        self.bufferType = bufferType
        self.preallocatedBytes = preallocatedBytes
        self.hasPreallocatedBuffer = hasPreallocatedBuffer
        self.preallocationMax = preallocationMax
        self.hasProcEntry = hasProcEntry
        self.isOpen = isOpen
        self.runtimeBytes = runtimeBytes
        self.bufferBytesMax = bufferBytesMax
    }
}
