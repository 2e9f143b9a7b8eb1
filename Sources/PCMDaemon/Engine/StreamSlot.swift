// A client stream's seat at a device: its shared memory (header, control block and ring, mapped
// in both processes), the controls the owner sets (state, volume), the counters listings read,
// and the private bookkeeping only the audio thread touches: its own ring position, the clock's
// sequence, the xrun counts and the drain target. The audio thread publishes those into the
// header and never reads them back, so a client scribbling on its header fools only itself.
#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import PCMDSP
import Synchronization

/// Where a slot is in its life. Transitions: free → prefilling or active (owner, at attach) →
/// (prefilling → active: audio thread, ring filled to the start threshold) → paused/active/
/// draining/prefilling (owner) → drained (audio thread, the drain target was reached) → closing
/// (owner) → detached (audio thread acknowledges) → free (owner, after releasing memory).
/// A stream moved to another device (`pcmctl move`) leaves its first slot `lent` (closing →
/// lent: it keeps the memory) and plays in a slot of the other device's table that adopted it.
public enum SlotState: UInt8, Sendable, AtomicRepresentable {
    /// Unused; the audio thread ignores it.
    case free = 0
    /// Streaming: playback is mixed, capture is copied in; a short ring is an underrun/overrun.
    case active = 1
    /// Held: the audio thread skips it without counting underruns.
    case paused = 2
    /// The client is done writing: mix up to the client position seen at the drain, then go to
    /// `drained`.
    case draining = 3
    /// The drain target was reached (set by the audio thread).
    case drained = 4
    /// The owner is closing it: the audio thread must stop touching the memory.
    case closing = 5
    /// The audio thread has let go of the memory (or was not streaming); it may be released.
    case detached = 6
    /// Playback waits for the ring to hold the start threshold (or for `resume`).
    case prefilling = 7
    /// The stream plays on another device: this slot keeps its memory and eventfd (it owns
    /// them) until the stream closes or comes back; no audio thread looks at it.
    case lent = 8
}

/// One client stream's seat at a device.
public final class StreamSlot: @unchecked Sendable {
    // Safety: `memory`, `wakeDescriptor` and `startThreshold` are written only by the owner
    // while the state is free (attach) or after detach returned, and read by the audio thread
    // only after it loads a streaming state with acquiring ordering, which the owner stores with
    // releasing (or stronger) ordering after writing them. The `period*` fields below are
    // touched only by the audio thread, except in `attach`, which runs while the audio thread
    // ignores the slot (state free) and publishes them with the state store.
    nonisolated(unsafe) private(set) var memory: SharedStreamMemory?
    nonisolated(unsafe) private(set) var wakeDescriptor: Int32 = -1
    nonisolated(unsafe) private(set) var startThreshold: UInt64 = 1
    /// The audio thread's ring position: R (playback) or W (capture). Never read from memory.
    nonisolated(unsafe) var periodPosition: UInt64 = 0
    /// The clock's private write count (see `SharedStreamMemory.publishClock`).
    nonisolated(unsafe) var periodClockSequence: UInt64 = 0
    /// Frames the ring held this period, from the client position validated this period.
    nonisolated(unsafe) var periodFilled: UInt64 = 0
    /// The client position seen when the drain began, once the audio thread has seen it.
    nonisolated(unsafe) var periodDrainTarget: UInt64?
    /// Once the drain target was mixed: device frames still to be written after it before its
    /// last frame has left the device buffer (and been heard).
    nonisolated(unsafe) var periodDrainTail: UInt64?
    /// The state last published in the header, so it is stored only when it changes.
    nonisolated(unsafe) var periodPublishedState: SharedStreamState = .setup

    /// The slot's index in its table (and its substream's subdevice number).
    public let index: Int
    /// Playback slots are mixed into the device; capture slots receive copies of its input.
    public let direction: StreamDirection
    /// The substream whose PCMBufferCore buffer backs the memory.
    public let substream: SubstreamID

    let stateValue = Atomic<SlotState>(.free)
    let gainBits = Atomic<UInt32>(Float(1).bitPattern)
    let mutedFlag = Atomic<Bool>(false)
    let framesMoved = Atomic<Int64>(0)
    let lastPeriodTime = Atomic<UInt64>(0)
    let underrunCount = Atomic<Int>(0)
    let overrunCount = Atomic<Int>(0)
    /// Set by the audio thread when the client wrote an impossible position; the slot is
    /// silent from then on and the owner ends the stream.
    let violationFlag = Atomic<Bool>(false)
    /// The latency its client asked for, in device frames, while the slot is claimed; 0 when
    /// it is free. The device's wake interval is chosen from it, not from the ring, which is
    /// never under the device buffer plus a period, whatever the client asked.
    let latencyFrames = Atomic<Int>(0)
    /// The peak level (0...1) of the frames the audio thread last took from (or gave to) the
    /// stream, while someone watches (`SlotTable.meteringUntil`).
    let peakBits = Atomic<UInt32>(0)

    init(index: Int, direction: StreamDirection, substream: SubstreamID) {
        self.index = index
        self.direction = direction
        self.substream = substream
    }

    // MARK: owner side

    /// The current state.
    public var state: SlotState { stateValue.load(ordering: .acquiring) }

    /// The shared memory; nil when the slot is free.
    public var attachedMemory: SharedStreamMemory? { memory }

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
    /// Whether the audio thread caught the client writing an impossible position.
    public var violated: Bool { violationFlag.load(ordering: .acquiring) }
    /// The stream's peak level at the last wake someone was watching (`pcmctl top`), 0...1.
    public var peak: Float { Float(bitPattern: peakBits.load(ordering: .relaxed)) }

    /// Moves between the owner's states: prefilling, active, paused and draining.
    public func setState(_ newState: SlotState) {
        precondition([.prefilling, .active, .paused, .draining].contains(newState), "owner may only set prefilling, active, paused or draining")
        stateValue.store(newState, ordering: .releasing)
    }

    /// Hands the slot its memory and wake eventfd and starts it in `initialState`, so that no
    /// period sees it in a state it was never meant to have.
    func attach(_ newMemory: SharedStreamMemory, wakeDescriptor: Int32, startThreshold: Int, latencyFrames: Int, initialState: SlotState) {
        precondition(state == .free, "attaching memory to a slot in use")
        memory = newMemory
        self.wakeDescriptor = wakeDescriptor
        self.startThreshold = UInt64(max(1, startThreshold))
        periodPosition = 0
        periodClockSequence = 0
        periodDrainTarget = nil
        periodDrainTail = nil
        periodPublishedState = .setup
        framesMoved.store(0, ordering: .relaxed)
        underrunCount.store(0, ordering: .relaxed)
        overrunCount.store(0, ordering: .relaxed)
        violationFlag.store(false, ordering: .relaxed)
        volume = .unity
        peakBits.store(0, ordering: .relaxed)
        self.latencyFrames.store(latencyFrames, ordering: .relaxed)
        stateValue.store(initialState, ordering: .sequentiallyConsistent)
    }

    /// Takes the memory away from the audio thread: returns once the thread has acknowledged
    /// or is provably outside its period (at most about one period). The caller then owns the
    /// memory and the eventfd again and releases them.
    func detach(isInsidePeriod: () -> Bool) -> (SharedStreamMemory?, Int32) {
        stateValue.store(.closing, ordering: .sequentiallyConsistent)
        while stateValue.load(ordering: .sequentiallyConsistent) == .closing && isInsidePeriod() {
            usleep(200)
        }
        let released = (memory, wakeDescriptor)
        memory = nil
        wakeDescriptor = -1
        latencyFrames.store(0, ordering: .relaxed)
        stateValue.store(.free, ordering: .sequentiallyConsistent)
        return released
    }

    /// Takes the slot away from its audio thread for a move, as `detach` does, but keeps the
    /// memory and eventfd: the slot is `lent` afterwards. Returns the state the stream was in
    /// (exchanged atomically, so a start or a drain the audio thread completes meanwhile is not
    /// lost: its compare-and-exchange fails and the adopting slot carries the state on).
    func lend(isInsidePeriod: () -> Bool) -> SlotState {
        let previous = stateValue.exchange(.closing, ordering: .sequentiallyConsistent)
        while stateValue.load(ordering: .sequentiallyConsistent) == .closing && isInsidePeriod() {
            usleep(200)
        }
        stateValue.store(.lent, ordering: .sequentiallyConsistent)
        return previous == .closing || previous == .detached ? .paused : previous
    }

    /// Gives a slot lent for a move that found no place back to its audio thread, as it was.
    func unlend(state: SlotState) {
        precondition(self.state == .lent, "only a lent slot can be given back")
        stateValue.store(state, ordering: .sequentiallyConsistent)
    }

    /// Seats here the stream `source` played (its slot now lent or stopped, so no audio thread
    /// touches it): the same memory and eventfd, the audio thread's own position, clock
    /// sequence, drain target and counters carried on, so the stream continues at the frame
    /// the other device stopped at and its clock never goes back. This slot owns nothing it
    /// did not own before: the memory stays the lender's.
    func adopt(from source: StreamSlot, state newState: SlotState) {
        precondition(state == .free || state == .lent, "adopting into a slot in use")
        memory = source.memory
        wakeDescriptor = source.wakeDescriptor
        startThreshold = source.startThreshold
        periodPosition = source.periodPosition
        periodClockSequence = source.periodClockSequence
        periodFilled = 0
        periodDrainTarget = source.periodDrainTarget
        periodDrainTail = source.periodDrainTail
        periodPublishedState = source.periodPublishedState
        framesMoved.store(source.framesMoved.load(ordering: .relaxed), ordering: .relaxed)
        lastPeriodTime.store(source.lastPeriodTime.load(ordering: .relaxed), ordering: .relaxed)
        underrunCount.store(source.underrunCount.load(ordering: .relaxed), ordering: .relaxed)
        overrunCount.store(source.overrunCount.load(ordering: .relaxed), ordering: .relaxed)
        violationFlag.store(source.violationFlag.load(ordering: .relaxed), ordering: .relaxed)
        volume = source.volume
        latencyFrames.store(source.latencyFrames.load(ordering: .relaxed), ordering: .relaxed)
        stateValue.store(newState, ordering: .sequentiallyConsistent)
    }

    // MARK: audio thread side

    /// The memory and state, if the audio thread may touch the memory now; acknowledges a close.
    /// A sequentially consistent load: with the owner's SC store of `closing` and the table's
    /// SC `insidePeriod` flag it forms the store-buffering handshake `detach` relies on, which
    /// acquire/release alone does not order on every architecture.
    @inline(__always) func memoryForPeriod() -> (SharedStreamMemory, SlotState)? {
        let current = stateValue.load(ordering: .sequentiallyConsistent)
        switch current {
        case .active, .paused, .draining, .prefilling, .drained:
            guard let memory else { return nil }
            return (memory, current)
        case .closing:
            _ = stateValue.compareExchange(expected: .closing, desired: .detached, ordering: .sequentiallyConsistent)
            return nil
        case .free, .detached, .lent:
            return nil
        }
    }

    /// Prefilling → active, unless the owner changed the state meanwhile.
    @inline(__always) func markStarted() -> Bool {
        stateValue.compareExchange(expected: .prefilling, desired: .active, ordering: .releasing).exchanged
    }

    @inline(__always) func markDrained() -> Bool {
        stateValue.compareExchange(expected: .draining, desired: .drained, ordering: .releasing).exchanged
    }

    @inline(__always) func markViolation() {
        violationFlag.store(true, ordering: .releasing)
    }

    @inline(__always) func setPeak(_ peak: Float) { peakBits.store(peak.bitPattern, ordering: .relaxed) }

    @inline(__always) func record(moved frames: Int, at time: UInt64) {
        framesMoved.add(Int64(frames), ordering: .relaxed)
        lastPeriodTime.store(time, ordering: .relaxed)
    }

    /// The client's side of the ring this period, from its position loaded once: frames written
    /// and not yet played (playback) or room left to write into (capture). A position that claims
    /// more than the ring holds is a violation: the slot is flagged for the server, the header
    /// says stopped, and nil comes back, so no client value ever reaches an address.
    @inline(__always) func clientSpan(in memory: SharedStreamMemory) -> UInt64? {
        let bufferFrames = UInt64(memory.geometry.bufferFrames.value)
        let client = memory.loadClientPosition()
        let span = direction == .playback
            ? SharedRingValidation.readable(clientProduced: client, daemonConsumed: periodPosition, bufferFrames: bufferFrames)
            : SharedRingValidation.writable(clientConsumed: client, daemonProduced: periodPosition, bufferFrames: bufferFrames)
        switch span {
        case .violation:
            markViolation()
            publish(.stopped, in: memory)
            return nil
        case .frames(let count):
            return count
        }
    }

    /// Publishes the state into the header if it changed since the last period.
    @inline(__always) func publish(_ state: SharedStreamState, in memory: SharedStreamMemory) {
        guard state != periodPublishedState else { return }
        periodPublishedState = state
        memory.publishState(state)
    }

    /// Wakes the client through its eventfd: one non-blocking write, the only system call the
    /// audio thread makes for a stream. A full counter (EAGAIN) means it is already awake.
    @inline(__always) func wakeClient() {
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, 8)
    }
}

extension SlotState {
    /// The state a client reads in the header.
    var shared: SharedStreamState {
        switch self {
        case .prefilling: .prefilling
        case .active: .running
        case .paused: .paused
        case .draining: .draining
        case .drained: .drained
        case .free, .closing, .detached, .lent: .stopped
        }
    }
}
