// The seam between a device's audio thread (which owns the PCM, the loop and recovery) and
// what happens to each period's audio (mixing clients into playback, fanning capture out).

import ALSA
import PCMBufferCore

/// The work done with each stretch of the device's mmap buffer.
///
/// `process` runs on the real-time thread: it must not allocate, lock, log, await, or do
/// file or socket I/O. `deviceOpened` and `deviceClosed` run on the same thread but outside
/// the period loop, so they may allocate.
public protocol PeriodProcessor: AnyObject, Sendable {
    /// The device was opened (or reopened) with `hardware`; `staging` is the substream's
    /// PCMBufferCore buffer, sized to the device buffer, free for the processor's own use.
    func deviceOpened(_ hardware: HardwareConfiguration, staging: RuntimeBuffer)

    /// Playback: fill all `region.frames` frames of `region`. Capture: consume them.
    func process(_ region: MMapRegion)

    /// The device is being closed (lost, reopened or stopping).
    func deviceClosed()
}

/// Keeps a device that does not pace itself (alsa-lib's `null` and `file`, whose buffer is
/// always ready) moving at the real sample rate, so that "no card" runs like a card would.
struct PacingClock {
    private let rate: UInt64
    private let leadFrames: UInt64
    private var startTime: UInt64 = 0
    private var frames: UInt64 = 0

    /// `lead` frames may run ahead of real time (the device buffer: what a real card queues).
    init(rate: Int, lead: FrameCount) {
        self.rate = UInt64(rate)
        self.leadFrames = UInt64(lead.value)
    }

    mutating func restart() {
        startTime = MonotonicClock.nanoseconds()
        frames = 0
    }

    mutating func advance(by moved: FrameCount) { frames += UInt64(moved.value) }

    /// Milliseconds to wait before more frames are due (0 when they are due now).
    func millisecondsUntilDue() -> Int32 {
        guard frames > leadFrames else { return 0 }
        let dueAt = startTime + (frames - leadFrames) * 1_000_000_000 / rate
        let now = MonotonicClock.nanoseconds()
        guard dueAt > now else { return 0 }
        return Int32(min((dueAt - now + 999_999) / 1_000_000, 1000))
    }
}
