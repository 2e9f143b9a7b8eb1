// The fixed set of client stream slots of one device direction, and their memory. Every slot
// is a substream of a virtual "clients" PCM in PCMBufferCore whose buffers are preallocated at
// startup, so opening a stream reuses memory that already exists and closing one keeps it for
// the next: the audio thread only ever sees rings that were built before it looks at them.
#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import Synchronization

/// Why a client stream could not get a slot.
public enum SlotError: Error, Equatable, CustomStringConvertible {
    /// Every slot is in use; `limit` is the configured maximum.
    case noFreeSlot(limit: Int)
    /// The requested ring does not fit the slot's preallocated memory.
    case bufferTooLarge(frames: Int, maximum: Int)
    /// A ring of this size is not usable (zero, or period larger than buffer).
    case invalidBuffer(frames: Int, period: Int)
    /// The allocator refused.
    case memory(String)
    /// A system call failed while building the table.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .noFreeSlot(let limit): "all \(limit) streams are in use; close one or raise max-streams"
        case .bufferTooLarge(let frames, let maximum): "a \(frames)-frame buffer is larger than the \(maximum)-frame maximum"
        case .invalidBuffer(let frames, let period): "invalid buffer of \(frames) frames with \(period)-frame periods"
        case .memory(let text): "stream memory: \(text)"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// The client slots of one device direction.
public final class SlotTable: Sendable {
    /// The slots, fixed at startup; the audio thread iterates over them every period.
    public let slots: [StreamSlot]
    /// The frame layout of every ring (the device's).
    public let layout: FrameLayout
    /// Largest ring, in frames, a slot's preallocation holds.
    public let maximumFrames: Int
    public let direction: StreamDirection
    private let allocator: SubstreamAllocator
    /// Serialises claims among socket-side threads (never taken by the audio thread).
    private let claims = Mutex<Void>(())
    /// Set by the audio thread around each period's processing, so a closing owner knows
    /// whether it may be looking at a ring.
    let insidePeriod = Atomic<Bool>(false)
    /// Rung by the audio thread after every period in which a stream was attached. The socket
    /// server grants credits and moves capture audio when it rings, so its pace is the device's
    /// own: a timer of its own drifted against the device and granted credits up to a period late.
    public let progress: Wakeup

    /// Registers `count` substreams on `card` (a virtual card for clients) and preallocates
    /// `maximumFrames` frames of `layout` for each.
    public init(allocator: SubstreamAllocator, card: Int, direction: StreamDirection, count: Int,
                layout: FrameLayout, maximumFrames: Int) throws(SlotError) {
        self.allocator = allocator
        self.layout = layout
        self.maximumFrames = maximumFrames
        self.direction = direction
        do throws(DaemonError) {
            progress = try Wakeup()
        } catch {
            if case .system(let call, let code) = error { throw .system(call: call, errno: code) }
            throw .memory("\(error)")
        }
        let bytes = layout.bytes(for: FrameCount(maximumFrames))
        do {
            try allocator.addPCM(card: card, device: 0,
                                 playbackSubstreams: direction == .playback ? count : 0,
                                 captureSubstreams: direction == .capture ? count : 0)
            _ = try allocator.preallocateForAll(card: card, device: 0, type: .virtuallyContiguous, size: bytes, max: bytes)
            let ids = try allocator.substreams(card: card, device: 0)
            slots = ids.enumerated().map { StreamSlot(index: $0.offset, direction: direction, substream: $0.element) }
        } catch {
            throw .memory("\(error)")
        }
    }

    /// Claims a free slot with a ring of `bufferFrames` frames in `periodFrames` periods.
    public func claim(bufferFrames: Int, periodFrames: Int) throws(SlotError) -> StreamSlot {
        guard bufferFrames > 0, periodFrames > 0, periodFrames <= bufferFrames else {
            throw .invalidBuffer(frames: bufferFrames, period: periodFrames)
        }
        guard bufferFrames <= maximumFrames else { throw .bufferTooLarge(frames: bufferFrames, maximum: maximumFrames) }
        return try claims.withLock { _ throws(SlotError) -> StreamSlot in
            guard let slot = slots.first(where: { $0.state == .free }) else { throw .noFreeSlot(limit: slots.count) }
            do {
                try allocator.open(substream: slot.substream)
                _ = try allocator.allocate(substream: slot.substream, bytes: layout.bytes(for: FrameCount(bufferFrames)))
                guard let buffer = try allocator.runtimeBuffer(substream: slot.substream) else {
                    throw SlotError.memory("no runtime buffer after allocate")
                }
                let ring = try RingBuffer(buffer: buffer, layout: layout, bufferFrames: FrameCount(bufferFrames),
                                          periodFrames: FrameCount(periodFrames), direction: direction)
                slot.attach(ring)
                return slot
            } catch {
                _ = try? allocator.release(substream: slot.substream)  // undo a half-made claim
                _ = try? allocator.close(substream: slot.substream)
                if let error = error as? SlotError { throw error }
                throw .memory("\(error)")
            }
        }
    }

    /// Returns a slot: waits (about a period at most) for the audio thread to let go of its
    /// ring, then gives the memory back to the substream's preallocation.
    public func release(_ slot: StreamSlot) {
        _ = slot.detach { insidePeriod.load(ordering: .sequentiallyConsistent) }
        claims.withLock { _ in
            // The preallocated buffer is detached, never freed (snd_pcm_lib_free_pages).
            _ = try? allocator.release(substream: slot.substream)
            _ = try? allocator.close(substream: slot.substream)
        }
    }

    /// Slots in use.
    public var activeCount: Int { slots.reduce(0) { $0 + ($1.state == .free ? 0 : 1) } }
}
