// The producing or consuming end of a shared stream's ring as the *client* side runs it: its own
// position kept privately, the daemon's position loaded from the header, and contiguous regions
// of the ring to fill or empty in place before a commit publishes the new position.
//
// PCMClientCore uses it for every client stream; the daemon's built-in streams (a sine, a file,
// a WAV sink) use it too, from their helper threads, so the audio thread has one kind of stream
// to serve. The client trusts the daemon, but the header can still hold nonsense (the client
// itself, or a bug, may have scribbled on it): a daemon position that contradicts the client's
// own is read as "nothing to do", never as a region outside the ring.

/// A contiguous stretch of a shared ring: where to write (playback) or read (capture) in place.
public struct SharedRingRegion {
    /// The bytes of `frames` whole frames, inside the ring.
    public let bytes: UnsafeMutableRawBufferPointer
    /// How many frames `bytes` holds.
    public let frames: FrameCount
}

/// The client's end of one shared ring. Not thread-safe: one producer (playback) or one
/// consumer (capture) at a time, which is what the ring's single-producer design allows anyway.
public struct SharedRingCursor: ~Copyable {
    /// The stream's memory, kept mapped for as long as the cursor exists.
    public let memory: SharedStreamMemory
    /// The client's position: frames written (W, playback) or read (R, capture) since the
    /// stream opened. Published after every commit; never read back from the control block.
    public private(set) var position: UInt64 = 0
    private let bufferFrames: UInt64
    private let bytesPerFrame: Int

    /// A cursor at position 0, the position of every new stream.
    public init(memory: SharedStreamMemory) {
        self.memory = memory
        bufferFrames = UInt64(memory.geometry.bufferFrames.value)
        bytesPerFrame = memory.geometry.layout.bytesPerFrame
    }

    /// Frames the ring holds between the client's position and the daemon's, clamped to the
    /// ring (``SharedStreamMemory/filledFrames(clientPosition:)``).
    public var filledFrames: UInt64 { memory.filledFrames(clientPosition: position) }

    /// Playback: frames that may be written now. Capture: frames that may be read now.
    public var availableFrames: UInt64 { memory.availableFrames(clientPosition: position) }

    /// The next contiguous region to fill (playback) or empty (capture), at most `maxFrames`;
    /// empty when nothing is available. A region never wraps: call again after a commit to
    /// get the part at the start of the ring.
    public func region(maxFrames: Int = .max) -> SharedRingRegion {
        let offset = position % bufferFrames
        let contiguous = bufferFrames - offset
        let frames = Int(min(availableFrames, contiguous, UInt64(max(maxFrames, 0))))
        let start = memory.ringAddress(ofFrame: position)
        return SharedRingRegion(bytes: UnsafeMutableRawBufferPointer(start: start, count: frames * bytesPerFrame),
                                frames: FrameCount(frames))
    }

    /// Publishes `frames` more frames written (playback) or read (capture): a release store, so
    /// the daemon sees the bytes before the position. `frames` must not exceed what the last
    /// ``region(maxFrames:)`` returned; more is a programming error and traps, because it would
    /// publish frames the client never wrote (or hand the daemon a violation of its own making).
    public mutating func commit(_ frames: FrameCount) {
        precondition(frames.value >= 0 && UInt64(frames.value) <= availableFrames, "commit beyond the available frames")
        position &+= UInt64(frames.value)
        memory.publishClientPosition(position)
    }

    /// Copies `source` (whole frames, device layout) into the ring, as much as fits now.
    /// Returns the frames copied. Playback only.
    public mutating func write(_ source: UnsafeRawBufferPointer) -> FrameCount {
        var copied = 0
        let total = source.count / bytesPerFrame
        while copied < total {
            let region = region(maxFrames: total - copied)
            guard region.frames.value > 0 else { break }
            region.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(copied * bytesPerFrame)...].prefix(region.bytes.count)))
            commit(region.frames)
            copied += region.frames.value
        }
        return FrameCount(copied)
    }

    /// Copies frames out of the ring into `destination`, as many as are there and fit.
    /// Returns the frames copied. Capture only.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> FrameCount {
        var copied = 0
        let total = destination.count / bytesPerFrame
        while copied < total {
            let region = region(maxFrames: total - copied)
            guard region.frames.value > 0 else { break }
            UnsafeMutableRawBufferPointer(rebasing: destination[(copied * bytesPerFrame)...])
                .copyMemory(from: UnsafeRawBufferPointer(region.bytes))
            commit(region.frames)
            copied += region.frames.value
        }
        return FrameCount(copied)
    }
}
