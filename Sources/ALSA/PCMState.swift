// The PCM state machine as alsa-lib reports it, as a Swift enum.

import CALSA

/// Where a PCM is in its life cycle (`snd_pcm_state_t`).
public enum PCMState: Sendable, Hashable, CustomStringConvertible {
    /// Opened, not configured: hw_params must be installed first.
    case open
    /// hw_params installed but not prepared (after `drop`/`drain`, or `hw_params` on some plugins).
    case setup
    /// Ready to start: `start()` begins the transfer.
    case prepared
    /// Frames are moving.
    case running
    /// The buffer ran empty (playback) or full (capture); `recover` or `prepare` is needed.
    case xrun
    /// Playback is playing out what is left before stopping.
    case draining
    /// Stopped by `pause(true)`, position kept.
    case paused
    /// The system suspended the device; `resume` or `prepare` is needed.
    case suspended
    /// The device is gone (unplugged or driver removed); only closing helps.
    case disconnected
    /// A plugin-private state alsa-lib may report; carries the raw value.
    case other(UInt32)

    init(_ raw: snd_pcm_state_t) {
        switch raw {
        case SND_PCM_STATE_OPEN: self = .open
        case SND_PCM_STATE_SETUP: self = .setup
        case SND_PCM_STATE_PREPARED: self = .prepared
        case SND_PCM_STATE_RUNNING: self = .running
        case SND_PCM_STATE_XRUN: self = .xrun
        case SND_PCM_STATE_DRAINING: self = .draining
        case SND_PCM_STATE_PAUSED: self = .paused
        case SND_PCM_STATE_SUSPENDED: self = .suspended
        case SND_PCM_STATE_DISCONNECTED: self = .disconnected
        default: self = .other(raw.rawValue)
        }
    }

    public var description: String {
        switch self {
        case .open: "OPEN"
        case .setup: "SETUP"
        case .prepared: "PREPARED"
        case .running: "RUNNING"
        case .xrun: "XRUN"
        case .draining: "DRAINING"
        case .paused: "PAUSED"
        case .suspended: "SUSPENDED"
        case .disconnected: "DISCONNECTED"
        case .other(let raw): "STATE(\(raw))"
        }
    }
}
