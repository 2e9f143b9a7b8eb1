// A lock-free single-producer single-consumer ring of audio frames over a buffer's memory,
// with ALSA's pointer model: hardware and application pointers count frames and wrap at a
// boundary (a power-of-two multiple of the buffer size), the ring offset is pointer % size.

import Synchronization

/// Why a ring could not be created or a commit was refused.
public enum RingBufferError: Error, Hashable, Sendable {
    /// The buffer size must be at least one frame.
    case invalidBufferSize(FrameCount)
    /// The period must be at least one frame and at most the buffer size.
    case invalidPeriodSize(period: FrameCount, buffer: FrameCount)
    /// The frames do not fit in the memory given.
    case memoryTooSmall(needed: ByteCount, available: ByteCount)
    /// The boundary must be the buffer size times a power of two, at least twice the size.
    case invalidBoundary(Int)
    /// A commit was negative or larger than the frames available to that side.
    case commitOutOfRange(requested: FrameCount, available: FrameCount)
}

/// A contiguous run of frames in a ring, handed out without copying (like `snd_pcm_mmap_begin`).
///
/// The pointer stays valid while the ring exists; the frames belong to the caller only until
/// it commits them.
public struct RingRegion {
    /// The ring offset of the first frame (`pointer % bufferFrames`).
    public let offset: FrameCount
    /// How many frames the region holds (0 when nothing is available).
    public let frames: FrameCount
    /// The region's memory: `frames × bytesPerFrame` bytes.
    public let bytes: UnsafeMutableRawBufferPointer
}

/// A ring of interleaved audio frames shared by one producer and one consumer thread.
///
/// The producer fills frames and publishes them with ``commitWrite(_:)``; the consumer reads
/// them and frees them with ``commitRead(_:)``. The producer methods (`writable*`,
/// `commitWrite`, `write`) must be called by one thread at a time, and the consumer methods
/// (`readable*`, `commitRead`, `read`) by one thread at a time; the two sides run concurrently
/// without locks, allocations or waits, so either may be a real-time thread.
///
/// In ALSA terms the ring has a ``direction``: for playback the application produces (its
/// `appl_ptr` is the write pointer) and the hardware consumes (`hw_ptr` is the read pointer);
/// for capture it is the other way round. ``avail`` and ``delay`` follow ALSA's definitions.
// Safety: the stored properties are immutable except the two atomics. The frame memory is
// shared, and ownership of each frame passes between the threads through them: the producer
// writes frames only in [write, read + size) and publishes them with a releasing store of
// `write`; the consumer reads only in [read, write) after an acquiring load, and returns
// frames to the producer with a releasing store of `read`.
public final class RingBuffer: @unchecked Sendable {
    /// How frames are laid out (format × channels).
    public let layout: FrameLayout
    /// Which side is the application (see the type's documentation).
    public let direction: StreamDirection
    /// The ring's size (`buffer_size`).
    public let bufferFrames: FrameCount
    /// The period size, the unit of wakeups (`period_size`).
    public let periodFrames: FrameCount
    /// Where pointers wrap to 0 (`boundary`): the largest `bufferFrames × 2^k` that is at most
    /// `Int.max - bufferFrames`, unless another was given at init.
    public let boundary: Int
    private let bytesPerFrame: Int
    private let base: UnsafeMutableRawPointer
    /// Keeps the memory mapped for as long as the ring exists.
    private let memory: RuntimeBuffer?
    private let standaloneMemory: DMABuffer?
    private let writePointer = PaddedAtomicInt(0)
    private let readPointer = PaddedAtomicInt(0)

    /// Creates an empty ring over a substream's runtime buffer.
    ///
    /// - Parameter boundary: where pointers wrap; by default ALSA's (see ``boundary``). Tests
    ///   pass a small one to exercise the wrap.
    /// - Throws: ``RingBufferError`` when the sizes are invalid or the frames do not fit in
    ///   `buffer.bytes`.
    public init(
        buffer: RuntimeBuffer, layout: FrameLayout, bufferFrames: FrameCount, periodFrames: FrameCount,
        direction: StreamDirection, boundary: Int? = nil
    ) throws(RingBufferError) {
        try Self.validate(bytes: buffer.bytes, layout: layout, bufferFrames: bufferFrames, periodFrames: periodFrames)
        self.boundary = try Self.boundary(bufferFrames: bufferFrames, requested: boundary)
        self.layout = layout
        self.direction = direction
        self.bufferFrames = bufferFrames
        self.periodFrames = periodFrames
        self.bytesPerFrame = layout.bytesPerFrame
        self.base = buffer.baseAddress
        self.memory = buffer
        self.standaloneMemory = nil
    }

    /// Creates an empty ring with its own memory from `backend` (by default a memfd, so the
    /// memory can be shared with another process through ``memoryBuffer``).
    ///
    /// - Throws: `RingBufferError` for invalid sizes, `MemoryBackendError` when the memory
    ///   cannot be mapped, both wrapped in ``RingCreationError``.
    public init(
        layout: FrameLayout, bufferFrames: FrameCount, periodFrames: FrameCount, direction: StreamDirection,
        type: BufferType = .virtuallyContiguous, backend: any MemoryBackend = SystemMemoryBackend(), boundary: Int? = nil
    ) throws(RingCreationError) {
        let needed = bufferFrames.value > 0 ? layout.bytes(for: bufferFrames) : .zero
        do {
            try Self.validate(bytes: needed, layout: layout, bufferFrames: bufferFrames, periodFrames: periodFrames)
            self.boundary = try Self.boundary(bufferFrames: bufferFrames, requested: boundary)
        } catch {
            throw .ring(error)
        }
        let memory: DMABuffer
        do {
            memory = DMABuffer(type: type, pages: try backend.map(type, bytes: PageSize.align(needed.value)))
        } catch {
            throw .memory(error)
        }
        self.layout = layout
        self.direction = direction
        self.bufferFrames = bufferFrames
        self.periodFrames = periodFrames
        self.bytesPerFrame = layout.bytesPerFrame
        self.base = memory.baseAddress
        self.memory = nil
        self.standaloneMemory = memory
    }

    private static func validate(bytes: ByteCount, layout: FrameLayout, bufferFrames: FrameCount, periodFrames: FrameCount) throws(RingBufferError) {
        guard bufferFrames.value > 0, bufferFrames.value <= Int.max / 4 / layout.bytesPerFrame else {
            throw .invalidBufferSize(bufferFrames)
        }
        guard periodFrames.value > 0, periodFrames <= bufferFrames else {
            throw .invalidPeriodSize(period: periodFrames, buffer: bufferFrames)
        }
        let needed = layout.bytes(for: bufferFrames)
        guard needed <= bytes else { throw .memoryTooSmall(needed: needed, available: bytes) }
    }

    private static func boundary(bufferFrames: FrameCount, requested: Int?) throws(RingBufferError) -> Int {
        let size = bufferFrames.value
        guard let requested else {
            // ALSA's rule (snd_pcm_hw_params): double while twice the boundary stays at most
            // LONG_MAX - buffer_size.
            var boundary = size
            while boundary <= (Int.max - size) / 2 { boundary *= 2 }
            return boundary
        }
        guard requested >= 2 * size, requested % size == 0, (requested / size) & (requested / size - 1) == 0,
            requested <= Int.max - size
        else { throw .invalidBoundary(requested) }
        return requested
    }

    /// The memory of a ring created with its own memory (`nil` for a ring over a
    /// ``RuntimeBuffer``, whose memory the caller already has).
    public var memoryBuffer: DMABuffer? { standaloneMemory ?? memory?.buffer }

    // MARK: Pointers (ALSA's view)

    /// The producer's pointer in frames, in `0..<boundary`.
    public var writePosition: FrameCount { FrameCount(writePointer.atomic.load(ordering: .acquiring)) }
    /// The consumer's pointer in frames, in `0..<boundary`.
    public var readPosition: FrameCount { FrameCount(readPointer.atomic.load(ordering: .acquiring)) }

    /// ALSA's `hw_ptr`: the read pointer for playback, the write pointer for capture.
    public var hardwarePointer: FrameCount { direction == .playback ? readPosition : writePosition }
    /// ALSA's `appl_ptr`: the write pointer for playback, the read pointer for capture.
    public var applicationPointer: FrameCount { direction == .playback ? writePosition : readPosition }

    /// Frames the application can process now (ALSA's `avail`): free space for playback,
    /// captured frames for capture.
    public var avail: FrameCount { direction == .playback ? writableFrames : readableFrames }

    /// Frames between the two pointers (ALSA's `delay` without the hardware's own latency):
    /// frames queued for the device for playback, captured frames not yet read for capture.
    public var delay: FrameCount { readableFrames }

    /// Frames the consumer may read now.
    public var readableFrames: FrameCount {
        let read = readPointer.atomic.load(ordering: .acquiring)
        let write = writePointer.atomic.load(ordering: .acquiring)
        return FrameCount(distance(from: read, to: write))
    }

    /// Frames the producer may write now.
    public var writableFrames: FrameCount {
        let write = writePointer.atomic.load(ordering: .acquiring)
        let read = readPointer.atomic.load(ordering: .acquiring)
        return FrameCount(bufferFrames.value - distance(from: read, to: write))
    }

    /// `to - from` modulo the boundary.
    @inline(__always) private func distance(from: Int, to: Int) -> Int {
        let difference = to - from
        return difference < 0 ? difference + boundary : difference
    }

    /// `position + frames` modulo the boundary.
    @inline(__always) private func advance(_ position: Int, by frames: Int) -> Int {
        let next = position + frames
        return next >= boundary ? next - boundary : next
    }

    // MARK: Periods

    /// The period a pointer is in, counted from the start of the ring (`0..<periodsPerBuffer`
    /// when the buffer is a whole number of periods).
    public func periodIndex(of position: FrameCount) -> Int {
        (position.value % bufferFrames.value) / periodFrames.value
    }

    /// Frames from `position` to the next period boundary of the ring (a full period when it
    /// is on one). Period boundaries are at multiples of the period size from the ring start,
    /// and at the end of the ring.
    public func framesToPeriodBoundary(from position: FrameCount) -> FrameCount {
        let offset = position.value % bufferFrames.value
        let toPeriod = periodFrames.value - offset % periodFrames.value
        return FrameCount(min(toPeriod, bufferFrames.value - offset))
    }

    /// Whether a pointer sits on a period boundary.
    public func isPeriodBoundary(_ position: FrameCount) -> Bool {
        let offset = position.value % bufferFrames.value
        return offset % periodFrames.value == 0
    }

    // MARK: Producer

    /// The contiguous free frames at the write pointer, at most `maxFrames` (like
    /// `snd_pcm_mmap_begin`): fewer than ``writableFrames`` when the free space wraps.
    public func writableRegion(maxFrames: FrameCount? = nil) -> RingRegion {
        let write = writePointer.atomic.load(ordering: .relaxed)
        let read = readPointer.atomic.load(ordering: .acquiring)
        let free = bufferFrames.value - distance(from: read, to: write)
        return region(at: write, available: free, maxFrames: maxFrames)
    }

    /// Publishes `frames` frames written at the write pointer to the consumer.
    ///
    /// - Throws: `commitOutOfRange` when `frames` is negative or more than are free; nothing moves.
    public func commitWrite(_ frames: FrameCount) throws(RingBufferError) {
        let write = writePointer.atomic.load(ordering: .relaxed)
        let read = readPointer.atomic.load(ordering: .acquiring)
        let free = bufferFrames.value - distance(from: read, to: write)
        guard frames.value >= 0, frames.value <= free else {
            throw .commitOutOfRange(requested: frames, available: FrameCount(free))
        }
        writePointer.atomic.store(advance(write, by: frames.value), ordering: .releasing)
    }

    /// Copies as many whole frames of `source` as fit and commits them; returns how many.
    public func write(_ source: UnsafeRawBufferPointer) -> FrameCount {
        var remaining = source.count / bytesPerFrame
        var copied = 0
        while remaining > 0 {
            let region = writableRegion(maxFrames: FrameCount(remaining))
            guard region.frames.value > 0 else { break }
            region.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(copied * bytesPerFrame)...].prefix(region.bytes.count)))
            let frames = region.frames.value
            // Cannot fail: the region never exceeds the free frames.
            writePointer.atomic.store(advance(writePointer.atomic.load(ordering: .relaxed), by: frames), ordering: .releasing)
            copied += frames
            remaining -= frames
        }
        return FrameCount(copied)
    }

    // MARK: Consumer

    /// The contiguous filled frames at the read pointer, at most `maxFrames`: fewer than
    /// ``readableFrames`` when the filled part wraps.
    public func readableRegion(maxFrames: FrameCount? = nil) -> RingRegion {
        let read = readPointer.atomic.load(ordering: .relaxed)
        let write = writePointer.atomic.load(ordering: .acquiring)
        return region(at: read, available: distance(from: read, to: write), maxFrames: maxFrames)
    }

    /// Returns `frames` frames at the read pointer to the producer.
    ///
    /// - Throws: `commitOutOfRange` when `frames` is negative or more than are readable.
    public func commitRead(_ frames: FrameCount) throws(RingBufferError) {
        let read = readPointer.atomic.load(ordering: .relaxed)
        let write = writePointer.atomic.load(ordering: .acquiring)
        let filled = distance(from: read, to: write)
        guard frames.value >= 0, frames.value <= filled else {
            throw .commitOutOfRange(requested: frames, available: FrameCount(filled))
        }
        readPointer.atomic.store(advance(read, by: frames.value), ordering: .releasing)
    }

    /// Copies as many whole frames as are readable and fit in `destination`, and commits
    /// them; returns how many.
    public func read(into destination: UnsafeMutableRawBufferPointer) -> FrameCount {
        var remaining = destination.count / bytesPerFrame
        var copied = 0
        while remaining > 0 {
            let region = readableRegion(maxFrames: FrameCount(remaining))
            guard region.frames.value > 0 else { break }
            UnsafeMutableRawBufferPointer(rebasing: destination[(copied * bytesPerFrame)...]).copyMemory(
                from: UnsafeRawBufferPointer(region.bytes))
            let frames = region.frames.value
            readPointer.atomic.store(advance(readPointer.atomic.load(ordering: .relaxed), by: frames), ordering: .releasing)
            copied += frames
            remaining -= frames
        }
        return FrameCount(copied)
    }

    /// Empties the ring and moves both pointers to 0. Only call it while neither side is
    /// running (for example after an xrun, before restarting), like ALSA's prepare.
    public func reset() {
        readPointer.atomic.store(0, ordering: .releasing)
        writePointer.atomic.store(0, ordering: .releasing)
    }

    private func region(at position: Int, available: Int, maxFrames: FrameCount?) -> RingRegion {
        let offset = position % bufferFrames.value
        var frames = min(available, bufferFrames.value - offset)
        if let maxFrames { frames = max(0, min(frames, maxFrames.value)) }
        let start = base + offset * bytesPerFrame
        return RingRegion(
            offset: FrameCount(offset), frames: FrameCount(frames),
            bytes: UnsafeMutableRawBufferPointer(start: start, count: frames * bytesPerFrame))
    }
}

/// Why a ring with its own memory could not be created.
public enum RingCreationError: Error, Hashable, Sendable {
    /// The sizes or boundary were invalid.
    case ring(RingBufferError)
    /// The memory could not be mapped.
    case memory(MemoryBackendError)
}
