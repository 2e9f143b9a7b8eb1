// What hot-path calls return. On the audio thread an xrun, a suspend, a would-block or a
// vanished device are ordinary events to handle, not exceptions: they come back as values the
// period loop switches over, and nothing here allocates or boxes.

import Glibc
import PCMBufferCore

/// Why a hot-path call did not deliver its value.
public enum StreamInterruption: Sendable, CustomStringConvertible {
    /// `-EPIPE`: the buffer ran empty (playback) or full (capture). Recover, prefill, start.
    case xrun
    /// `-ESTRPIPE`: the system suspended the device. Recover (resume or prepare).
    case suspended
    /// `-ENODEV`: the device is gone. Close the PCM and reopen it later.
    case disconnected
    /// `-EAGAIN`: a nonblocking call had nothing to do yet. Poll and try again.
    case wouldBlock
    /// Anything else, for example `-EBADFD` when the PCM is not set up.
    case failed(ALSAError)

    /// Classifies a negative alsa-lib return value.
    public init(code: CInt, function: StaticString) {
        switch code {
        case -EPIPE: self = .xrun
        case -ESTRPIPE: self = .suspended
        case -ENODEV: self = .disconnected
        case -EAGAIN: self = .wouldBlock
        default: self = .failed(ALSAError(code: code, function: function))
        }
    }

    /// The negative errno this interruption stands for (what `snd_pcm_recover` expects).
    public var code: CInt {
        switch self {
        case .xrun: -EPIPE
        case .suspended: -ESTRPIPE
        case .disconnected: -ENODEV
        case .wouldBlock: -EAGAIN
        case .failed(let error): error.code
        }
    }

    public var description: String {
        switch self {
        case .xrun: "xrun"
        case .suspended: "suspended"
        case .disconnected: "disconnected"
        case .wouldBlock: "would block"
        case .failed(let error): error.description
        }
    }
}

/// A hot-path result: the value, or why there is none.
public enum StreamResult<Value> {
    /// The call succeeded.
    case ok(Value)
    /// The call hit an xrun, suspend, would-block, disconnect or other failure.
    case interrupted(StreamInterruption)

    /// The value, or `nil` when interrupted.
    @inlinable public var value: Value? {
        if case .ok(let value) = self { return value }
        return nil
    }

    /// The interruption, or `nil` on success.
    @inlinable public var interruption: StreamInterruption? {
        if case .interrupted(let interruption) = self { return interruption }
        return nil
    }
}

extension StreamResult: Sendable where Value: Sendable {}

/// Frames the application can write (playback) or read (capture) now.
public typealias AvailResult = StreamResult<FrameCount>
/// Frames committed to the ring buffer by one mmap begin/commit pair.
public typealias TransferResult = StreamResult<FrameCount>
/// A region of the ring buffer lent by `mmap_begin`.
public typealias MMapBeginResult = StreamResult<MMapRegion>
/// avail and delay measured together.
public typealias AvailDelayResult = StreamResult<AvailDelay>
/// avail together with the time of the last hardware position update.
public typealias TimestampResult = StreamResult<HardwareTimestamp>

/// avail and delay from one synchronised read (`snd_pcm_avail_delay`).
public struct AvailDelay: Sendable, Hashable {
    /// Frames that can be written/read now.
    public var avail: FrameCount
    /// Frames until a newly written frame is heard (playback), or since a read frame was
    /// captured (capture). Can be negative after an underrun on some drivers.
    public var delay: FrameCount
}

/// avail at the moment of the last hardware pointer update, and that moment.
public struct HardwareTimestamp: Sendable, Hashable {
    /// Frames available when the hardware pointer last moved.
    public var avail: FrameCount
    /// When the pointer moved, on CLOCK_MONOTONIC (as configured by `configureSoftware`).
    public var time: Duration
}

/// What `PCM.recover` did.
public enum RecoveryOutcome: Sendable, CustomStringConvertible {
    /// Nothing needed doing (`-EINTR`, `-EAGAIN`); carry on.
    case nothingToRecover
    /// The stream was prepared again (after an xrun, or a suspend the device could not resume
    /// from): it is PREPARED and empty, so prefill playback and call `start()`.
    case prepared
    /// The stream resumed where it was suspended.
    case resumed
    /// The device is still waking from suspend (`-EAGAIN` from resume). Try again later;
    /// recovery never waits here so that the audio thread does not block.
    case resumePending
    /// The device is gone (`-ENODEV`): close the PCM and reopen it with backoff.
    case deviceGone(ALSAError)
    /// Recovery itself failed, or the error is not one recovery handles.
    case failed(ALSAError)

    public var description: String {
        switch self {
        case .nothingToRecover: "nothing to recover"
        case .prepared: "prepared"
        case .resumed: "resumed"
        case .resumePending: "resume pending"
        case .deviceGone(let error): "device gone: \(error)"
        case .failed(let error): "recovery failed: \(error)"
        }
    }
}

extension timespec {
    /// The timestamp as a duration since the clock's epoch.
    var duration: Duration { .seconds(tv_sec) + .nanoseconds(tv_nsec) }
}
