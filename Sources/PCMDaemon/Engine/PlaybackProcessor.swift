// What the playback audio thread does with each stretch of the device buffer: mix every active
// slot's ring (already in the device's layout) with its volume, saturating, straight into the
// mmap area. A slot that is short of frames contributes what it has plus silence and is
// counted as an underrun; nobody else notices.
import ALSA
import PCMBufferCore
import PCMDSP
import Synchronization

/// Mixes the playback slots into the device, on the audio thread.
public final class PlaybackProcessor: PeriodProcessor, @unchecked Sendable {
    // Safety: `mixer`, `wrapScratch` and `nonInterleavedStaging` are created in `deviceOpened` and used in `process`,
    // both called only on the device's audio thread; other threads touch only `slots` (whose
    // shared fields are atomics) and `masterGain` (an atomic).
    nonisolated(unsafe) private var mixer: Mixer?
    nonisolated(unsafe) private var nonInterleavedStaging: UnsafeMutableRawBufferPointer?
    nonisolated(unsafe) private var wrapScratch: UnsafeMutableRawBufferPointer?
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
        wrapScratch = .allocate(byteCount: hardware.layout.bytes(for: hardware.bufferFrames).value, alignment: 16)
        nonInterleavedStaging = hardware.access == .mmapInterleaved ? nil : staging.area
    }

    deinit { wrapScratch?.deallocate() }

    public func deviceClosed() {
        mixer = nil
        nonInterleavedStaging = nil
    }

    public func process(_ region: MMapRegion) {
        guard mixer != nil else { return }
        slots.insidePeriod.store(true, ordering: .sequentiallyConsistent)
        defer { slots.insidePeriod.store(false, ordering: .sequentiallyConsistent) }
        let frames = region.frames
        let now = MonotonicClock.nanoseconds()
        let master = masterVolume
        // One stream at full volume (the common case: one player) is a plain copy; silence is a
        // fill. Only a real mix of several streams, or a volume, goes through the mixer.
        var contributing = 0
        var attached = false
        var only: StreamSlot?
        for slot in slots.slots {
            guard let (_, state) = slot.ringForPeriod() else { continue }
            attached = true
            guard state == .active || state == .draining else { continue }
            contributing += 1
            only = slot
        }
        // Space freed in the rings: the socket server grants credits on this signal (one eventfd
        // write, never blocking; nothing at all while no stream is attached).
        defer { if attached { slots.progress.signal() } }
        let destination = nonInterleavedStaging.map { UnsafeMutableRawBufferPointer(rebasing: $0[..<(frames.value * slots.layout.bytesPerFrame)]) }
            ?? region.interleavedBytes
        if contributing == 1, let only, only.volume == .unity, master == .unity {
            copy(only, frames: frames, into: destination, at: now)
        } else if contributing == 0 {
            destination.initializeMemory(as: UInt8.self, repeating: 0)
        } else {
            mixer!.begin(frames: frames)
            mixer!.master = master
            for slot in slots.slots { mix(slot, frames: frames, at: now) }
            mixer!.finish(into: destination)
        }
        if nonInterleavedStaging != nil { scatter(from: UnsafeRawBufferPointer(destination), into: region) }
    }

    /// Copies one stream's frames into the device buffer, silence after a short ring.
    private func copy(_ slot: StreamSlot, frames: FrameCount, into destination: UnsafeMutableRawBufferPointer, at now: UInt64) {
        guard let (ring, state) = slot.ringForPeriod() else { return }
        let bytesPerFrame = slots.layout.bytesPerFrame
        let wanted = UnsafeMutableRawBufferPointer(rebasing: destination[..<(min(ring.readableFrames, frames).value * bytesPerFrame)])
        let taken = ring.read(into: wanted)
        if taken < frames {
            UnsafeMutableRawBufferPointer(rebasing: destination[(taken.value * bytesPerFrame)..<(frames.value * bytesPerFrame)])
                .initializeMemory(as: UInt8.self, repeating: 0)
        }
        account(slot, state: state, taken: taken, frames: frames, at: now)
    }

    /// Adds one stream's frames to the mix, straight from its ring unless they wrap.
    private func mix(_ slot: StreamSlot, frames: FrameCount, at now: UInt64) {
        guard let (ring, state) = slot.ringForPeriod(), state == .active || state == .draining else { return }
        let take = min(ring.readableFrames, frames)
        var taken = FrameCount.zero
        let available = ring.readableRegion(maxFrames: take)
        if available.frames == take {
            mixer!.add(UnsafeRawBufferPointer(available.bytes), frames: take, volume: slot.volume)
            try? ring.commitRead(take)  // cannot fail: the region came from the ring
            taken = take
        } else if let scratch = wrapScratch {
            // The stream's frames wrap around the end of its ring: gather them first.
            let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[..<(take.value * slots.layout.bytesPerFrame)])
            taken = ring.read(into: bytes)
            mixer!.add(UnsafeRawBufferPointer(bytes), frames: taken, volume: slot.volume)
        }
        account(slot, state: state, taken: taken, frames: frames, at: now)
    }

    /// Position, and an underrun when an active stream was short (a draining one is done).
    private func account(_ slot: StreamSlot, state: SlotState, taken: FrameCount, frames: FrameCount, at now: UInt64) {
        slot.record(moved: taken.value, at: now)
        guard taken < frames else { return }
        if state == .draining {
            slot.markDrained()
        } else {
            let count = slot.underrunCount.add(1, ordering: .relaxed).newValue
            events.report(.clientUnderrun, value: Int64(slot.index), position: Int64(count))
        }
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
