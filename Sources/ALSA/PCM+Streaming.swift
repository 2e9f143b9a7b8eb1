// The period-loop calls other than mmap: position (avail_update, avail, delay), status and
// timestamps, recovery, and poll integration. None of them allocates: results are values,
// status reads into the snd_pcm_status_t the PCM allocated at open, and the PCM's descriptors
// go into a pollfd array the caller allocated once (sized by `pollDescriptorCount`), polled
// together with the caller's own descriptors (an eventfd to wake the audio thread).

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

    /// Why the stream stopped, read from its state, or nil when the state shows no
    /// interruption. For a PCM that `poll()` flagged with POLLERR or POLLHUP, or that stopped
    /// waking it: a vanished card shows no error anywhere else. The kernel marks the substream
    /// disconnected and wakes the poller, `avail` keeps returning the last position without an
    /// error, and every later poll returns at once, so the loop would spin and keep the card's
    /// file open (which is what its removal waits for). alsa-lib's own `snd_pcm_wait` asks the
    /// state the same way. With the status page mapped this is a memory read, no system call.
    public var stoppedBecause: StreamInterruption? {
        switch state {
        case .xrun: .xrun
        case .suspended: .suspended
        case .disconnected: .disconnected
        case .other: .failed(ALSAError(code: -EIO, function: "snd_pcm_state"))
        case .open, .setup, .prepared, .running, .draining, .paused: nil
        }
    }

    /// `recover(from:)` for a raw negative errno, e.g. one an alsa-lib call returned directly.
    public func recover(code: CInt) -> RecoveryOutcome {
        recover(from: StreamInterruption(code: code < 0 ? code : -code, function: "snd_pcm_recover"))
    }
}

/// What the PCM is ready for after `poll()`, as reduced by alsa-lib.
public struct PollEvents: OptionSet, Sendable, Hashable {
    /// The `poll()` event bits (POLLIN, POLLOUT, POLLERR, POLLHUP).
    public let rawValue: UInt16
    /// Wraps raw `poll()` event bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Captured frames can be read (avail ≥ avail_min).
    public static let readable = PollEvents(rawValue: UInt16(POLLIN))
    /// Playback space can be written (avail ≥ avail_min).
    public static let writable = PollEvents(rawValue: UInt16(POLLOUT))
    /// The stream stopped: xrun, suspended, not prepared, or disconnected. Check `state`.
    public static let error = PollEvents(rawValue: UInt16(POLLERR))
    /// The device hung up (disconnected).
    public static let hangup = PollEvents(rawValue: UInt16(POLLHUP))
}

extension PCM {
    /// How many descriptors the PCM polls on (1 for most devices, 2 with period events on `hw`).
    ///
    /// The corresponding ALSA function is `snd_pcm_poll_descriptors_count`.
    public func pollDescriptorCount() throws(ALSAError) -> Int {
        Int(try check(alsa_pcm_poll_descriptors_count(handle), "snd_pcm_poll_descriptors_count"))
    }

    /// Fills the start of `buffer` with the PCM's descriptors and returns how many it filled.
    /// - Throws: `-EINVAL` naming `snd_pcm_poll_descriptors` when `buffer` is smaller than
    ///   `pollDescriptorCount()`, rather than a silently partial set.
    ///
    /// The corresponding ALSA function is `snd_pcm_poll_descriptors`.
    public func fillPollDescriptors(into buffer: UnsafeMutableBufferPointer<pollfd>) throws(ALSAError) -> Int {
        let needed = try pollDescriptorCount()
        guard let base = buffer.baseAddress, buffer.count >= needed else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_poll_descriptors")
        }
        return Int(try check(alsa_pcm_poll_descriptors(handle, base, CUnsignedInt(needed)), "snd_pcm_poll_descriptors"))
    }

    /// Reduces the revents that `poll()` left in the PCM's descriptors (the first `count`
    /// entries of `buffer`) to what they mean for the PCM. Mandatory after every poll:
    /// plugins may report readiness on a descriptor that does not mean the PCM is ready.
    ///
    /// The corresponding ALSA function is `snd_pcm_poll_descriptors_revents`.
    public func pollEvents(_ buffer: UnsafeMutableBufferPointer<pollfd>, count: Int) throws(ALSAError) -> PollEvents {
        guard let base = buffer.baseAddress, count >= 0, count <= buffer.count else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_poll_descriptors_revents")
        }
        var revents: UInt16 = 0
        try check(
            alsa_pcm_poll_descriptors_revents(handle, base, CUnsignedInt(count), &revents),
            "snd_pcm_poll_descriptors_revents"
        )
        return PollEvents(rawValue: revents)
    }
}
