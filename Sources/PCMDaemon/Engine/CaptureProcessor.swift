// What the capture audio thread does with each stretch of the device buffer: give every running
// capture slot its own copy, written straight into the client's shared ring at the audio
// thread's own W. The client's R is loaded once and validated first: a reader that fell behind
// loses this stretch (an overrun for that stream alone), a client whose R is impossible is
// silenced and flagged for the socket server to end. The device and the other readers are
// never held up, and nothing here allocates, locks or logs.
import ALSA
import PCMBufferCore
import PCMDSP
import Synchronization

/// Fans captured frames out to the capture slots, on the audio thread.
public final class CaptureProcessor: PeriodProcessor, @unchecked Sendable {
    // Safety: `gatherStaging` is set in `deviceOpened`/`deviceClosed` and
    // read in `process`, all only on the device's audio thread.
    nonisolated(unsafe) private var gatherStaging: UnsafeMutableRawBufferPointer?
    public let slots: SlotTable
    private let events: DeviceControl

    public init(slots: SlotTable, control: DeviceControl) {
        self.slots = slots
        self.events = control
    }

    public func deviceOpened(_ hardware: HardwareConfiguration, staging: RuntimeBuffer) {
        gatherStaging = hardware.access == .mmapInterleaved ? nil : staging.area
        slots.negotiatedPeriodFrames.store(hardware.periodFrames.value, ordering: .relaxed)
        slots.negotiatedBufferFrames.store(hardware.bufferFrames.value, ordering: .relaxed)
    }

    public func deviceAvailabilityChanged() { slots.progress.signal() }

    public func wakeInterval(period: FrameCount, buffer: FrameCount, rate: Int) -> FrameCount {
        slots.wakeInterval(period: period, buffer: buffer, rate: rate)
    }

    public func deviceClosed() { gatherStaging = nil }

    public func process(_ region: MMapRegion, deviceQueued: FrameCount) {
        slots.insidePeriod.store(true, ordering: .sequentiallyConsistent)
        defer { slots.insidePeriod.store(false, ordering: .sequentiallyConsistent) }
        let frames = UInt64(region.frames.value)
        let frameBytes = slots.layout.bytesPerFrame
        let source: UnsafeRawBufferPointer
        if let staging = gatherStaging {
            gather(region, into: staging)
            source = UnsafeRawBufferPointer(rebasing: staging[..<(region.frames.value * frameBytes)])
        } else {
            source = UnsafeRawBufferPointer(region.interleavedBytes)
        }
        let now = MonotonicClock.nanoseconds()
        // Peak levels only while someone watches (`SlotTable.meteringUntil`): every capture
        // stream gets the same frames, so one measurement serves the device and its streams.
        let metering = now < slots.meteringUntil.load(ordering: .relaxed)
        let peak: Float = metering ? PeakMeter.peak(source, format: slots.layout.format) : 0
        if metering { events.setPeak(peak) }
        var rare = false
        for slot in slots.slots {
            guard let (memory, state) = slot.memoryForPeriod(), !slot.violated else { continue }
            guard let free = slot.clientSpan(in: memory) else {
                rare = true
                continue
            }
            var written: UInt64 = 0
            if state == .active {
                if free >= frames {
                    copy(source, into: memory, at: slot.periodPosition)
                    written = frames
                    slot.periodPosition &+= frames
                    memory.publishDaemonPosition(slot.periodPosition)
                    slot.record(moved: Int(frames), at: now)
                } else {
                    let count = slot.overrunCount.add(1, ordering: .relaxed).newValue
                    memory.publishOverruns(UInt64(count))
                    events.report(.clientOverrun, value: Int64(slot.index), position: Int64(count))
                }
            }
            if metering { slot.setPeak(written > 0 ? peak : 0) }
            slot.publish(state.shared, in: memory)
            memory.publishClock(SharedStreamClock(framesPlayed: slot.periodPosition, monotonicNanoseconds: now, deviceDelay: UInt64(deviceQueued.value)),
                                sequence: &slot.periodClockSequence)
            // Wake a waiting reader once the frames it asked for are there (pa_fdsem's rule).
            guard memory.loadWaiting() else { continue }
            let filled = UInt64(memory.geometry.bufferFrames.value) - free + written
            if filled >= memory.loadWakeThreshold() { slot.wakeClient() }
        }
        if rare { slots.progress.signal() }
    }

    /// Writes one period at the daemon's W: one part, or two across the ring's end. The address
    /// comes from the daemon's own position, the size from the device's period, which the
    /// validation above showed fits.
    @inline(__always)
    private func copy(_ source: UnsafeRawBufferPointer, into memory: SharedStreamMemory, at position: UInt64) {
        let bufferFrames = UInt64(memory.geometry.bufferFrames.value)
        let bytesPerFrame = memory.geometry.layout.bytesPerFrame
        let frames = UInt64(source.count / bytesPerFrame)
        let head = min(frames, bufferFrames - position % bufferFrames)
        let headBytes = Int(head) * bytesPerFrame
        memory.ringAddress(ofFrame: position).copyMemory(from: source.baseAddress!, byteCount: headBytes)
        if head < frames {
            memory.ringAddress(ofFrame: position &+ head).copyMemory(from: source.baseAddress! + headBytes, byteCount: source.count - headBytes)
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
