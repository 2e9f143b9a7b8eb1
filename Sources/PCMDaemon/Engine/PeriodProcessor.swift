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
    ///
    /// `deviceQueued` is what the device holds beyond the region, measured when the thread woke:
    /// for playback the frames queued ahead of it (played before its first frame), for capture
    /// the frames captured after its last one. The streams' clocks publish it as their device
    /// delay, so that a client's `snd_pcm_delay` is what the device really holds, not the
    /// nominal buffer.
    func process(_ region: MMapRegion, deviceQueued: FrameCount)

    /// The device is being closed (lost, reopened or stopping).
    func deviceClosed()

    /// The device went away or came back (`DeviceControl.isLost` changed): the socket server
    /// must look, to move the device's streams elsewhere. Rare; may make one system call.
    func deviceAvailabilityChanged()

    /// How many frames the device may move between two wakeups of the audio thread: a whole
    /// number of periods, at least one, leaving at least one period of the buffer as margin.
    /// Read at the top of every loop iteration, so it must be cheap (atomics only).
    func wakeInterval(period: FrameCount, buffer: FrameCount, rate: Int) -> FrameCount
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

    /// Starts the clock now, with `queued` frames already in the device (a playback prefill).
    mutating func restart(queued: FrameCount = 0) {
        startTime = MonotonicClock.nanoseconds()
        frames = UInt64(max(queued.value, 0))
    }

    mutating func advance(by moved: FrameCount) { frames += UInt64(moved.value) }

    /// Frames moved ahead of real time now: what a card would still hold queued.
    func framesAhead() -> Int {
        let elapsed = MonotonicClock.nanoseconds() &- startTime
        let due = elapsed * rate / 1_000_000_000
        return frames > due ? Int(frames - due) : 0
    }

    /// Milliseconds to wait before the next `chunk` frames are due (0 when they are due now):
    /// like a card with a `lead`-frame buffer whose avail_min is `chunk`, they are due once
    /// they fit, when no more than `lead − chunk` frames are left ahead of real time.
    func millisecondsUntilDue(next chunk: FrameCount) -> Int32 {
        let fitting = frames + UInt64(max(chunk.value, 0))
        guard fitting > leadFrames else { return 0 }
        let dueAt = startTime + (fitting - leadFrames) * 1_000_000_000 / rate
        let now = MonotonicClock.nanoseconds()
        guard dueAt > now else { return 0 }
        return Int32(min((dueAt - now + 999_999) / 1_000_000, 1000))
    }
}
