// What the capture audio thread does with each stretch of the device buffer: give every active
// capture slot its own copy. A slot whose reader fell behind loses this stretch (counted as an
// overrun for that slot alone); the device and the other readers are never held up.
import ALSA
import PCMBufferCore
import Synchronization

/// Fans captured frames out to the capture slots, on the audio thread.
public final class CaptureProcessor: PeriodProcessor, @unchecked Sendable {
    // Safety: `interleaved` is set in `deviceOpened` and read in `process`, both only on the
    // device's audio thread.
    nonisolated(unsafe) private var gatherStaging: UnsafeMutableRawBufferPointer?
    public let slots: SlotTable
    private let events: DeviceControl

    public init(slots: SlotTable, control: DeviceControl) {
        self.slots = slots
        self.events = control
    }

    public func deviceOpened(_ hardware: HardwareConfiguration, staging: RuntimeBuffer) {
        gatherStaging = hardware.access == .mmapInterleaved ? nil : staging.area
    }

    public func deviceClosed() { gatherStaging = nil }

    public func process(_ region: MMapRegion) {
        slots.insidePeriod.store(true, ordering: .sequentiallyConsistent)
        defer { slots.insidePeriod.store(false, ordering: .sequentiallyConsistent) }
        let frames = region.frames
        let frameBytes = slots.layout.bytesPerFrame
        let source: UnsafeRawBufferPointer
        if let staging = gatherStaging {
            gather(region, into: staging)
            source = UnsafeRawBufferPointer(rebasing: staging[..<(frames.value * frameBytes)])
        } else {
            source = UnsafeRawBufferPointer(region.interleavedBytes)
        }
        let now = MonotonicClock.nanoseconds()
        var attached = false
        // New frames in the rings: the socket server sends them on this signal.
        defer { if attached { slots.progress.signal() } }
        for slot in slots.slots {
            guard let (ring, state) = slot.ringForPeriod() else { continue }
            attached = true
            guard state == .active else { continue }
            guard ring.writableFrames >= frames else {
                let count = slot.overrunCount.add(1, ordering: .relaxed).newValue
                events.report(.clientOverrun, value: Int64(slot.index), position: Int64(count))
                continue
            }
            _ = ring.write(source)  // fits: checked above
            slot.record(moved: frames.value, at: now)
        }
    }

    /// Interleaves a non-interleaved region into `staging`.
    private func gather(_ region: MMapRegion, into staging: UnsafeMutableRawBufferPointer) {
        let bytes = slots.layout.format.bytesPerSample
        let frameBytes = slots.layout.bytesPerFrame
        for channel in 0..<region.channels {
            let area = region.channel(channel)
            for frame in 0..<region.frames.value {
                (staging.baseAddress! + frame * frameBytes + channel * bytes).copyMemory(from: area.sample(at: frame), byteCount: bytes)
            }
        }
    }
}
