// What the playback audio thread does with each stretch of the device buffer: for every slot,
// load its client's W once, validate it against the audio thread's own R, and mix (or, for a
// lone stream at unity gain, copy) what the ring holds straight from the shared memory into the
// mmap area; then publish R, the clock and the state in the header and wake the client if it
// asked to be woken. A slot that is short of frames contributes what it has plus silence and
// is counted as an underrun; a slot whose client wrote an impossible W is silenced and flagged
// for the socket server to end. Nobody else notices either.
//
// No allocation, lock, log or file access happens here: the only system call is the eventfd
// write that wakes a waiting client (at most one per stream per period), plus the progress
// eventfd for the rare events (a drain completed, a violation).
import ALSA
import PCMBufferCore
import PCMDSP
import Synchronization

/// Mixes the playback slots into the device, on the audio thread.
public final class PlaybackProcessor: PeriodProcessor, @unchecked Sendable {
    // Safety: `mixer`, `wrapScratch`, `nonInterleavedStaging`, `periodQueuedAhead`, `metering` and
    // `periodDeviceDelay` are set in `deviceOpened`/`deviceClosed`/`process` and used in
    // `process`, all called only on the device's audio thread; other threads touch only `slots`
    // (whose shared fields are atomics) and the master volume (atomics).
    nonisolated(unsafe) private var mixer: Mixer?
    nonisolated(unsafe) private var nonInterleavedStaging: UnsafeMutableRawBufferPointer?
    nonisolated(unsafe) private var wrapScratch: UnsafeMutableRawBufferPointer?
    /// The device delay the clocks publish this period (see `process`).
    nonisolated(unsafe) private var periodDeviceDelay: UInt64 = 0
    /// What the device held ahead of this region when the thread woke.
    nonisolated(unsafe) private var periodQueuedAhead: UInt64 = 0
    /// Whether peak levels are measured this period (someone is watching).
    nonisolated(unsafe) private var metering = false
    public let slots: SlotTable
    private let master = Atomic<UInt32>(Float(1).bitPattern)
    private let masterMuted = Atomic<Bool>(false)
    private let events: DeviceControl

    public init(slots: SlotTable, control: DeviceControl) {
        self.slots = slots
        self.events = control
    }

    /// The master volume applied to the whole mix.
    public var masterVolume: StreamVolume {
        get { StreamVolume(gain: Float(bitPattern: master.load(ordering: .relaxed)), muted: masterMuted.load(ordering: .relaxed)) }
        set {
            master.store(newValue.gain.bitPattern, ordering: .relaxed)
            masterMuted.store(newValue.muted, ordering: .relaxed)
        }
    }

    public func deviceOpened(_ hardware: HardwareConfiguration, staging: RuntimeBuffer) {
        mixer = Mixer(layout: hardware.layout, maxFrames: hardware.bufferFrames)
        wrapScratch?.deallocate()
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: hardware.layout.bytes(for: hardware.bufferFrames).value, alignment: 16)
        wrapScratch = scratch
        // Pages in the mixing code now, before the device starts: until two clients play, the
        // periods are copies or silence and never run it (Mixer.warmUp).
        mixer!.warmUp(scratch: scratch)
        nonInterleavedStaging = hardware.access == .mmapInterleaved ? nil : staging.area
        slots.negotiatedPeriodFrames.store(hardware.periodFrames.value, ordering: .relaxed)
        slots.negotiatedBufferFrames.store(hardware.bufferFrames.value, ordering: .relaxed)
    }

    deinit { wrapScratch?.deallocate() }

    public func deviceAvailabilityChanged() { slots.progress.signal() }

    public func wakeInterval(period: FrameCount, buffer: FrameCount, rate: Int) -> FrameCount {
        slots.wakeInterval(period: period, buffer: buffer, rate: rate)
    }

    public func deviceClosed() {
        mixer = nil
        nonInterleavedStaging = nil
    }

    public func process(_ region: MMapRegion, deviceQueued: FrameCount) {
        guard mixer != nil else { return }
        slots.insidePeriod.store(true, ordering: .sequentiallyConsistent)
        defer { slots.insidePeriod.store(false, ordering: .sequentiallyConsistent) }
        let frames = region.frames
        let now = MonotonicClock.nanoseconds()
        metering = now < slots.meteringUntil.load(ordering: .relaxed)
        // Once this region is written, the last frame taken from a ring is heard after
        // everything queued ahead of it and the region itself.
        periodQueuedAhead = UInt64(deviceQueued.value)
        periodDeviceDelay = periodQueuedAhead + UInt64(frames.value)
        let master = masterVolume
        let destination = nonInterleavedStaging.map { UnsafeMutableRawBufferPointer(rebasing: $0[..<(frames.value * slots.layout.bytesPerFrame)]) }
            ?? region.interleavedBytes
        // First pass: decide what each slot gives this period (each client's W loaded once).
        // One stream at full volume (the common case: one player) is a plain copy; silence is
        // a fill. Only a real mix of several streams, or a volume, goes through the mixer.
        var contributing = 0
        var only: StreamSlot?
        var onlyTake: UInt64 = 0
        var rare = false
        mixer!.begin(frames: frames)
        mixer!.master = master
        for slot in slots.slots {
            guard let (memory, state) = slot.memoryForPeriod() else { continue }
            let take = plan(slot, memory: memory, state: state, frames: UInt64(frames.value), rare: &rare)
            guard take > 0 else {
                if metering { slot.setPeak(0) }
                finishPeriod(slot, memory: memory, taken: 0, frames: frames, at: now, rare: &rare)
                continue
            }
            contributing += 1
            if contributing == 1 {
                only = slot
                onlyTake = take
            } else {
                if contributing == 2, let first = only { mixSlot(first, take: onlyTake, frames: frames, at: now, rare: &rare) }
                mixSlot(slot, take: take, frames: frames, at: now, rare: &rare)
            }
        }
        if contributing == 1, let only {
            if only.volume == .unity, master == .unity {
                copySlot(only, take: onlyTake, frames: frames, into: destination, at: now, rare: &rare)
            } else {
                mixSlot(only, take: onlyTake, frames: frames, at: now, rare: &rare)
                mixer!.finish(into: destination)
            }
        } else if contributing == 0 {
            destination.initializeMemory(as: UInt8.self, repeating: 0)
        } else {
            mixer!.finish(into: destination)
        }
        if metering { events.setPeak(PeakMeter.peak(UnsafeRawBufferPointer(destination), format: slots.layout.format)) }
        if nonInterleavedStaging != nil { scatter(from: UnsafeRawBufferPointer(destination), into: region) }
        if rare { slots.progress.signal() }
    }

    /// Validates the client's W (loaded once), runs the prefill/drain state machine and returns
    /// how many frames the slot gives this period. Stores the slot's `periodDrainTarget`.
    private func plan(_ slot: StreamSlot, memory: SharedStreamMemory, state: SlotState, frames: UInt64, rare: inout Bool) -> UInt64 {
        slot.periodFilled = 0
        guard !slot.violated else { return 0 }
        guard let filled = slot.clientSpan(in: memory) else {
            rare = true
            return 0
        }
        slot.periodFilled = filled
        var current = state
        if current == .prefilling, filled >= slot.startThreshold, slot.markStarted() { current = .active }
        if current != .draining {
            slot.periodDrainTarget = nil
            slot.periodDrainTail = nil
        }
        switch current {
        case .active:
            return min(filled, frames)
        case .draining:
            // The drain ends at the W seen when the period first met the drain; frames the
            // client writes after it are for the next run.
            if slot.periodDrainTarget == nil { slot.periodDrainTarget = slot.periodPosition &+ filled }  // the client's W
            let target = slot.periodDrainTarget!
            return min(filled, target &- slot.periodPosition, frames)
        default:
            return 0
        }
    }

    /// Copies the one stream's frames into the device buffer, silence after a short ring.
    private func copySlot(_ slot: StreamSlot, take: UInt64, frames: FrameCount, into destination: UnsafeMutableRawBufferPointer,
                          at now: UInt64, rare: inout Bool) {
        guard let memory = slot.attachedMemory else { return }
        let bytesPerFrame = slots.layout.bytesPerFrame
        let (first, second) = ringParts(memory, from: slot.periodPosition, frames: take)
        destination.baseAddress!.copyMemory(from: first.baseAddress!, byteCount: first.count)
        if second.count > 0 { (destination.baseAddress! + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
        if metering { slot.setPeak(max(PeakMeter.peak(first, format: slots.layout.format), PeakMeter.peak(second, format: slots.layout.format))) }
        let takenBytes = Int(take) * bytesPerFrame
        if takenBytes < destination.count {
            UnsafeMutableRawBufferPointer(rebasing: destination[takenBytes...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        finishPeriod(slot, memory: memory, taken: take, frames: frames, at: now, rare: &rare)
    }

    /// Adds one stream's frames to the mix, straight from its ring unless they wrap.
    private func mixSlot(_ slot: StreamSlot, take: UInt64, frames: FrameCount, at now: UInt64, rare: inout Bool) {
        guard let memory = slot.attachedMemory else { return }
        let (first, second) = ringParts(memory, from: slot.periodPosition, frames: take)
        if metering { slot.setPeak(max(PeakMeter.peak(first, format: slots.layout.format), PeakMeter.peak(second, format: slots.layout.format))) }
        if second.count == 0 {
            mixer!.add(first, frames: FrameCount(Int(take)), volume: slot.volume)
        } else if let scratch = wrapScratch {
            // The frames wrap around the end of the ring: gather them first.
            scratch.baseAddress!.copyMemory(from: first.baseAddress!, byteCount: first.count)
            (scratch.baseAddress! + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count)
            mixer!.add(UnsafeRawBufferPointer(rebasing: scratch[..<(first.count + second.count)]), frames: FrameCount(Int(take)),
                       volume: slot.volume)
        }
        finishPeriod(slot, memory: memory, taken: take, frames: frames, at: now, rare: &rare)
    }

    /// The ring's bytes for `frames` frames from `position`: one part, or two across the wrap.
    /// Addresses come from the daemon's own position and a count already clamped to the ring.
    @inline(__always)
    private func ringParts(_ memory: SharedStreamMemory, from position: UInt64, frames: UInt64) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let bufferFrames = UInt64(memory.geometry.bufferFrames.value)
        let bytesPerFrame = memory.geometry.layout.bytesPerFrame
        let offset = position % bufferFrames
        let head = min(frames, bufferFrames - offset)
        let first = UnsafeRawBufferPointer(start: memory.ringAddress(ofFrame: position), count: Int(head) * bytesPerFrame)
        let second = UnsafeRawBufferPointer(start: memory.ringAddress(ofFrame: position &+ head), count: Int(frames - head) * bytesPerFrame)
        return (first, second)
    }

    /// Publishes R, the clock, the state and the counters; counts an underrun, completes a
    /// drain, and wakes the client when it waits and enough space is free.
    private func finishPeriod(_ slot: StreamSlot, memory: SharedStreamMemory, taken: UInt64, frames: FrameCount, at now: UInt64,
                              rare: inout Bool) {
        if slot.violated { return }
        let state = slot.stateValue.load(ordering: .acquiring)
        if taken > 0 {
            slot.periodPosition &+= taken
            memory.publishDaemonPosition(slot.periodPosition)
            slot.record(moved: Int(taken), at: now)
        }
        if state == .draining, let target = slot.periodDrainTarget, slot.periodPosition == target {
            // The last frame is in the device buffer behind what was queued ahead of this region
            // and the frames taken before it in the region: the drain is complete once the device
            // has played that many more, measured by the frames written at later wakes (each
            // refills what the device played). Issue 12: `drained` came a device buffer before
            // the end was heard; judged from the measured queue it is never early, however many
            // periods a wake moves.
            if let tail = slot.periodDrainTail {
                slot.periodDrainTail = tail > UInt64(frames.value) ? tail - UInt64(frames.value) : 0
            } else {
                slot.periodDrainTail = periodQueuedAhead + taken
            }
            if slot.periodDrainTail == 0, slot.markDrained() { rare = true }
        } else if state == .active, taken < UInt64(frames.value) {
            let count = slot.underrunCount.add(1, ordering: .relaxed).newValue
            memory.publishUnderruns(UInt64(count))
            events.report(.clientUnderrun, value: Int64(slot.index), position: Int64(count))
        }
        slot.publish(slot.stateValue.load(ordering: .acquiring).shared, in: memory)
        memory.publishClock(SharedStreamClock(framesPlayed: slot.periodPosition, monotonicNanoseconds: now, deviceDelay: periodDeviceDelay),
                            sequence: &slot.periodClockSequence)
        // pa_fdsem's rule: only a client that says it waits is woken, and only once the space
        // it asked for is free. The free space comes from the W validated this period (not a
        // second load); the threshold is clamped to the ring, so any value a client writes
        // costs at most this one write per period.
        guard memory.loadWaiting() else { return }
        let bufferFrames = UInt64(memory.geometry.bufferFrames.value)
        let free = bufferFrames - (slot.periodFilled - taken)
        if free >= memory.loadWakeThreshold() || state == .drained { slot.wakeClient() }
    }

    /// Copies interleaved frames into a non-interleaved region, channel by channel.
    private func scatter(from source: UnsafeRawBufferPointer, into region: MMapRegion) {
        let bytes = slots.layout.format.bytesPerSample
        let frameBytes = slots.layout.bytesPerFrame
        for channel in 0..<region.channels {
            let area = region.channel(channel)
            for frame in 0..<region.frames.value {
                area.sample(at: frame).copyMemory(from: source.baseAddress! + frame * frameBytes + channel * bytes, byteCount: bytes)
            }
        }
    }
}
