// The period-loop calls other than mmap: position (avail_update, avail, delay), status and
// timestamps, and recovery. None of them allocates: results are values, status reads into the
// snd_pcm_status_t the PCM allocated at open.

import CALSA
import Glibc
import PCMBufferCore

/// A snapshot of the stream from `snd_pcm_status`.
public struct PCMStatus: Sendable, Hashable {
    /// The state at the time of the snapshot.
    public var state: PCMState
    /// Frames between the application and the hardware (0 unless running).
    public var delay: FrameCount
    /// Frames available to write/read.
    public var avail: FrameCount
    /// The largest avail since the previous status call (reset by each call): an xrun
    /// early warning.
    public var availMax: FrameCount
    /// When this status was taken, on the configured timestamp clock (CLOCK_MONOTONIC).
    public var timestamp: Duration
    /// When the stream was last started, stopped or paused; zero if the driver never set it
    /// (the null PCM does not).
    public var triggerTimestamp: Duration
}

extension PCM {
    /// The frames available now, as far as alsa-lib last saw the hardware pointer. Must precede
    /// `mmapBegin`. Returns `.interrupted(.xrun)` when the stream has xrun.
    ///
    /// The corresponding ALSA function is `snd_pcm_avail_update`.
    @inline(__always)
    public func availUpdate() -> AvailResult {
        let result = alsa_pcm_avail_update(handle)
        if result < 0 { return .interrupted(StreamInterruption(code: CInt(truncatingIfNeeded: result), function: "snd_pcm_avail_update")) }
        return .ok(FrameCount(result))
    }

    /// The frames available now, synchronised with the hardware (an ioctl: dearer than
    /// `availUpdate`).
    ///
    /// The corresponding ALSA function is `snd_pcm_avail`.
    public func avail() -> AvailResult {
        let result = alsa_pcm_avail(handle)
        if result < 0 { return .interrupted(StreamInterruption(code: CInt(truncatingIfNeeded: result), function: "snd_pcm_avail")) }
        return .ok(FrameCount(result))
    }

    /// The delay in frames (see `AvailDelay.delay`).
    ///
    /// The corresponding ALSA function is `snd_pcm_delay`.
    public func delay() -> StreamResult<FrameCount> {
        var delay = 0
        let result = alsa_pcm_delay(handle, &delay)
        if result < 0 { return .interrupted(StreamInterruption(code: result, function: "snd_pcm_delay")) }
        return .ok(FrameCount(delay))
    }

    /// avail and delay read together, consistent with each other.
    ///
    /// The corresponding ALSA function is `snd_pcm_avail_delay`.
    public func availDelay() -> AvailDelayResult {
        var avail = 0
        var delay = 0
        let result = alsa_pcm_avail_delay(handle, &avail, &delay)
        if result < 0 { return .interrupted(StreamInterruption(code: result, function: "snd_pcm_avail_delay")) }
        return .ok(AvailDelay(avail: FrameCount(avail), delay: FrameCount(delay)))
    }

    /// avail at the last hardware pointer update, with the time of that update. Requires
    /// timestamps on (`configureSoftware` turns them on).
    ///
    /// The corresponding ALSA function is `snd_pcm_htimestamp`.
    public func hardwareTimestamp() -> TimestampResult {
        var avail: UInt = 0
        var time = timespec()
        let result = alsa_pcm_htimestamp(handle, &avail, &time)
        if result < 0 { return .interrupted(StreamInterruption(code: result, function: "snd_pcm_htimestamp")) }
        return .ok(HardwareTimestamp(avail: FrameCount(clamping: avail), time: time.duration))
    }

    /// A status snapshot: state, delay, avail, avail_max, timestamps.
    ///
    /// The corresponding ALSA function is `snd_pcm_status`.
    public func status() -> StreamResult<PCMStatus> {
        let result = alsa_pcm_status(handle, statusObject)
        if result < 0 { return .interrupted(StreamInterruption(code: result, function: "snd_pcm_status")) }
        var now = timespec()
        var trigger = timespec()
        alsa_pcm_status_get_htstamp(statusObject, &now)
        alsa_pcm_status_get_trigger_htstamp(statusObject, &trigger)
        return .ok(
            PCMStatus(
                state: PCMState(alsa_pcm_status_get_state(statusObject)),
                delay: FrameCount(alsa_pcm_status_get_delay(statusObject)),
                avail: FrameCount(clamping: alsa_pcm_status_get_avail(statusObject)),
                availMax: FrameCount(clamping: alsa_pcm_status_get_avail_max(statusObject)),
                timestamp: now.duration,
                triggerTimestamp: trigger.duration
            )
        )
    }

    /// Brings the stream back after an interruption, without ever waiting.
    ///
    /// - xrun → prepare → `.prepared` (prefill playback, then `start()`).
    /// - suspended → resume → `.resumed`; if the device cannot resume, prepare → `.prepared`;
    ///   if it is still waking (`-EAGAIN`) → `.resumePending` (call again later).
    /// - disconnected → `.deviceGone` (close and reopen).
    /// - would-block or `-EINTR` → `.nothingToRecover`.
    /// - anything else → `.failed`.
    ///
    /// This follows `snd_pcm_recover` except that it never sleeps waiting for a resume, and it
    /// says what it did.
    public func recover(from interruption: StreamInterruption) -> RecoveryOutcome {
        switch interruption {
        case .xrun:
            let result = alsa_pcm_prepare(handle)
            if result < 0 { return .failed(ALSAError(code: result, function: "snd_pcm_prepare")) }
            return .prepared
        case .suspended:
            let resumed = alsa_pcm_resume(handle)
            if resumed == 0 { return .resumed }
            if resumed == -EAGAIN { return .resumePending }
            if resumed == -ENODEV { return .deviceGone(ALSAError(code: resumed, function: "snd_pcm_resume")) }
            let prepared = alsa_pcm_prepare(handle)
            if prepared < 0 { return .failed(ALSAError(code: prepared, function: "snd_pcm_prepare")) }
            return .prepared
        case .disconnected:
            return .deviceGone(ALSAError(code: -ENODEV, function: "snd_pcm_recover"))
        case .wouldBlock:
            return .nothingToRecover
        case .failed(let error):
            if error.code == -EINTR { return .nothingToRecover }
            if error.isDisconnected { return .deviceGone(error) }
            return .failed(error)
        }
    }

    /// `recover(from:)` for a raw negative errno, e.g. one an alsa-lib call returned directly.
    public func recover(code: CInt) -> RecoveryOutcome {
        recover(from: StreamInterruption(code: code < 0 ? code : -code, function: "snd_pcm_recover"))
    }
}
