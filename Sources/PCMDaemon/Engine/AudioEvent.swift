// What an audio thread has to tell the rest of the daemon. The thread may not log, so it
// pushes these fixed-size records into a preallocated lock-free queue; a normal thread drains
// them into the log and the counters that status reports show.

/// Which of a device's two streams an event concerns.
public enum DeviceStreamKind: UInt8, Sendable, BitwiseCopyable, CustomStringConvertible {
    case playback
    case capture

    public var description: String { self == .playback ? "playback" : "capture" }
}

extension AudioEvent.Kind {
    /// Whether this kind can be reported at every period for as long as a condition lasts (a
    /// client that stopped writing, a reader that stopped reading, a device whose clock runs
    /// wrong), rather than once per change.
    var canRepeatEveryPeriod: Bool {
        switch self {
        case .clientUnderrun, .clientOverrun, .positionJump: true
        case .opened, .started, .xrun, .suspendRecovered, .deviceLost, .reopenFailed, .deviceReturned, .recoveryFailed,
             .wakeIntervalChanged, .drained, .stopped: false
        }
    }
}

/// One thing that happened on an audio thread. Plain data: copying one never allocates.
public struct AudioEvent: Sendable, Equatable, BitwiseCopyable {
    /// What happened.
    public enum Kind: UInt8, Sendable, Equatable, BitwiseCopyable {
        /// The device was opened and configured; `value` is the period in frames.
        case opened
        /// The stream started running (after prefill).
        case started
        /// An xrun (-EPIPE) was detected and recovered; `value` is the total xrun count.
        case xrun
        /// The device was suspended (-ESTRPIPE) and resumed or re-prepared.
        case suspendRecovered
        /// The device went away (-ENODEV or a failed open); the thread retries with backoff.
        /// `value` is the negative errno.
        case deviceLost
        /// A retry to reopen the device failed; `value` is the negative errno, `position` the attempt.
        case reopenFailed
        /// The device came back after `deviceLost`; `value` is the number of attempts it took.
        case deviceReturned
        /// A recovery step itself failed; `value` is the negative errno.
        case recoveryFailed
        /// A client stream had too little data for a period and was mixed as silence;
        /// `value` is the slot index, `position` its underrun count.
        case clientUnderrun
        /// A capture client did not read in time and lost frames; `value` is the slot index.
        case clientOverrun
        /// The audio thread now wakes every `value` frames (avail_min), because clients came or
        /// went; `position` is 0, or the negative errno when the device refused the change.
        case wakeIntervalChanged
        /// The device's position moved `value` frames more (positive) or fewer (negative)
        /// than the time since the last wake explains: a buffer skipped or played twice that the
        /// driver did not report as an xrun (`PositionWatch`).
        case positionJump
        /// Playback finished draining after a stop request.
        case drained
        /// The thread stopped its loop.
        case stopped
    }

    public var kind: Kind
    public var stream: DeviceStreamKind
    /// Kind-specific number (see each kind).
    public var value: Int64
    /// Frames the device had processed when the event happened (hardware position).
    public var position: Int64
    /// CLOCK_MONOTONIC nanoseconds when the event happened.
    public var time: UInt64

    public init(_ kind: Kind, stream: DeviceStreamKind, value: Int64 = 0, position: Int64 = 0, time: UInt64) {
        self.kind = kind
        self.stream = stream
        self.value = value
        self.position = position
        self.time = time
    }
}
