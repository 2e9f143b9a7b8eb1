// A client stream's seat at a device: a lock-free ring of frames in the device's layout, plus
// the controls the audio thread reads each period (state, volume) and the counters it writes
// (position, underruns). The socket side fills (playback) or drains (capture) the ring and never
// waits for the audio thread except, briefly, when a stream closes.
#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import PCMDSP
import Synchronization

/// Where a slot is in its life. Transitions: free → active (owner, after attaching a ring) →
/// paused/active/draining (owner) → drained (audio thread, draining ring ran empty) →
/// closing (owner) → detached (audio thread acknowledges) → free (owner, after releasing memory).
public enum SlotState: UInt8, Sendable, AtomicRepresentable {
    /// Unused; the audio thread ignores it.
    case free = 0
    /// Streaming: playback is mixed, capture is copied in; a short ring is an underrun/overrun.
    case active = 1
    /// Held: the audio thread skips it without counting underruns.
    case paused = 2
    /// The client is done writing: mix what is left, then go to `drained`.
    case draining = 3
    /// The ring ran empty while draining (set by the audio thread).
    case drained = 4
    /// The owner is closing it: the audio thread must stop touching the ring.
    case closing = 5
    /// The audio thread has let go of the ring (or was not streaming); memory may be freed.
    case detached = 6
}

/// One client stream's seat at a device.
public final class StreamSlot: @unchecked Sendable {
    // Safety: `ring` is written only by the owner while the state is free, detached or closing
    // with the audio thread outside its period (see `detach`), and read by the audio thread only
    // after it loads an active/paused/draining state with acquiring ordering, which the owner
    // stores with releasing ordering after writing `ring`.
    nonisolated(unsafe) private(set) var ring: RingBuffer?

    /// The slot's index in its table (and its substream's subdevice number).
    public let index: Int
    /// Playback slots are mixed into the device; capture slots receive copies of its input.
    public let direction: StreamDirection
    /// The substream whose PCMBufferCore buffer backs the ring.
    public let substream: SubstreamID

    let stateValue = Atomic<SlotState>(.free)
    let gainBits = Atomic<UInt32>(Float(1).bitPattern)
    let mutedFlag = Atomic<Bool>(false)
    let framesMoved = Atomic<Int64>(0)
    let lastPeriodTime = Atomic<UInt64>(0)
    let underrunCount = Atomic<Int>(0)
    let overrunCount = Atomic<Int>(0)

    init(index: Int, direction: StreamDirection, substream: SubstreamID) {
        self.index = index
        self.direction = direction
        self.substream = substream
    }

    // MARK: owner side

    /// The current state.
    public var state: SlotState { stateValue.load(ordering: .acquiring) }

    /// The ring the owner writes (playback) or reads (capture); nil when the slot is free.
    public var attachedRing: RingBuffer? { ring }

    /// Volume and mute, applied by the mixer from the next period.
    public var volume: StreamVolume {
        get { StreamVolume(gain: Float(bitPattern: gainBits.load(ordering: .relaxed)), muted: mutedFlag.load(ordering: .relaxed)) }
        set {
            gainBits.store(newValue.gain.bitPattern, ordering: .relaxed)
            mutedFlag.store(newValue.muted, ordering: .relaxed)
        }
    }

    /// Frames the device has consumed from (playback) or delivered to (capture) this stream.
    public var position: Int64 { framesMoved.load(ordering: .relaxed) }
    /// CLOCK_MONOTONIC ns of the period that last moved this stream's frames.
    public var positionTime: UInt64 { lastPeriodTime.load(ordering: .relaxed) }
    /// Periods a playback stream had too few frames for (mixed as silence).
    public var underruns: Int { underrunCount.load(ordering: .relaxed) }
    /// Periods a capture stream's ring had no room for (frames dropped for it alone).
    public var overruns: Int { overrunCount.load(ordering: .relaxed) }

    /// Moves between the owner's states: active, paused and draining.
    public func setState(_ newState: SlotState) {
        precondition([.active, .paused, .draining].contains(newState), "owner may only set active, paused or draining")
        stateValue.store(newState, ordering: .releasing)
    }

    func attach(_ newRing: RingBuffer) {
        precondition(state == .free, "attaching a ring to a slot in use")
        ring = newRing
        framesMoved.store(0, ordering: .relaxed)
        underrunCount.store(0, ordering: .relaxed)
        overrunCount.store(0, ordering: .relaxed)
        volume = .unity
        stateValue.store(.active, ordering: .sequentiallyConsistent)
    }

    /// Takes the ring away from the audio thread: returns once the thread has acknowledged or
    /// is provably outside its period (at most about one period).
    func detach(isInsidePeriod: () -> Bool) -> RingBuffer? {
        stateValue.store(.closing, ordering: .sequentiallyConsistent)
        while stateValue.load(ordering: .sequentiallyConsistent) == .closing && isInsidePeriod() {
            usleep(200)
        }
        let released = ring
        ring = nil
        stateValue.store(.free, ordering: .sequentiallyConsistent)
        return released
    }

    // MARK: audio thread side

    /// The ring, if the audio thread may touch it now; acknowledges a close.
    @inline(__always) func ringForPeriod() -> (RingBuffer, SlotState)? {
        let current = stateValue.load(ordering: .acquiring)
        switch current {
        case .active, .paused, .draining:
            guard let ring else { return nil }
            return (ring, current)
        case .closing:
            _ = stateValue.compareExchange(expected: .closing, desired: .detached, ordering: .sequentiallyConsistent)
            return nil
        case .free, .drained, .detached:
            return nil
        }
    }

    @inline(__always) func markDrained() {
        _ = stateValue.compareExchange(expected: .draining, desired: .drained, ordering: .releasing)
    }

    @inline(__always) func record(moved frames: Int, at time: UInt64) {
        framesMoved.add(Int64(frames), ordering: .relaxed)
        lastPeriodTime.store(time, ordering: .relaxed)
    }
}
