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
        mixer!.begin(frames: frames)
        mixer!.master = masterVolume
        for slot in slots.slots {
            guard let (ring, state) = slot.ringForPeriod(), state != .paused else { continue }
            let take = min(ring.readableFrames, frames)
            var taken = FrameCount.zero
            let region = ring.readableRegion(maxFrames: take)
            if region.frames == take {
                // The usual case: mix straight out of the ring, no copy.
                mixer!.add(UnsafeRawBufferPointer(region.bytes), frames: take, volume: slot.volume)
                try? ring.commitRead(take)  // cannot fail: the region came from the ring
                taken = take
            } else if let scratch = wrapScratch {
                // The stream's frames wrap around the end of its ring: gather them first.
                let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[..<(take.value * slots.layout.bytesPerFrame)])
                taken = ring.read(into: bytes)
                mixer!.add(UnsafeRawBufferPointer(bytes), frames: taken, volume: slot.volume)
            }
            slot.record(moved: taken.value, at: now)
            if taken < frames {
                if state == .draining {
                    slot.markDrained()
                } else if state == .active {
                    let count = slot.underrunCount.add(1, ordering: .relaxed).newValue
                    events.report(.clientUnderrun, value: Int64(slot.index), position: Int64(count))
                }
            }
        }
        if let staging = nonInterleavedStaging {
            mixer!.finish(into: staging)
            scatter(from: UnsafeRawBufferPointer(staging), into: region)
        } else {
            mixer!.finish(into: region.interleavedBytes)
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
