// The client's half of a shared stream (its ring position, its wake threshold, its waiting flag)
// and the one rule the daemon applies to it: load each value once, then validate it before use.
//
// Everything in the control block is written by a process the daemon does not trust. A value
// loaded twice can differ between the check and the use, so the audio thread loads the client's
// position exactly once per period into a local and hands that local to SharedRingValidation,
// together with its own position, which it keeps privately and never reads back from memory.

internal import CPCMShm

/// What the daemon may do with the ring this period, given the client's position.
public enum SharedRingAvailability: Hashable, Sendable {
    /// The positions are consistent. For playback: frames the daemon may read. For capture:
    /// frames the daemon may write. Never more than the ring's size.
    case frames(UInt64)
    /// The client's position is impossible: it claims more frames between the two positions
    /// than the ring holds (including a position behind the daemon's, which wraps to a huge
    /// distance). The daemon moves nothing, counts it, and ends the stream.
    case violation(distance: UInt64)

    /// The frames available, with a violation counting as none.
    @inlinable public var frames: UInt64 {
        if case .frames(let count) = self { return count }
        return 0
    }
}

/// The validation the audio thread applies to a client's position. Pure arithmetic on
/// free-running `UInt64` frame counters: positions never wrap at the ring size, only at 2^64,
/// and wrapping subtraction gives the right distance across that wrap too.
public enum SharedRingValidation {
    /// Playback: how many frames the daemon may read.
    ///
    /// - Parameters:
    ///   - clientProduced: the client's W, loaded once this period.
    ///   - daemonConsumed: the daemon's own R (its private copy, not the header's).
    ///   - bufferFrames: the ring's size, from the daemon's own geometry.
    /// - Returns: `W − R` frames, or a violation when that exceeds the ring.
    @inlinable
    public static func readable(clientProduced: UInt64, daemonConsumed: UInt64, bufferFrames: UInt64) -> SharedRingAvailability {
        let filled = clientProduced &- daemonConsumed
        return filled > bufferFrames ? .violation(distance: filled) : .frames(filled)
    }

    /// Capture: how many frames the daemon may write.
    ///
    /// - Parameters:
    ///   - clientConsumed: the client's R, loaded once this period.
    ///   - daemonProduced: the daemon's own W (its private copy).
    ///   - bufferFrames: the ring's size, from the daemon's own geometry.
    /// - Returns: the free space `bufferFrames − (W − R)`, or a violation when `W − R` exceeds
    ///   the ring (the client claims to have read frames that were never written).
    @inlinable
    public static func writable(clientConsumed: UInt64, daemonProduced: UInt64, bufferFrames: UInt64) -> SharedRingAvailability {
        let filled = daemonProduced &- clientConsumed
        return filled > bufferFrames ? .violation(distance: filled) : .frames(bufferFrames - filled)
    }
}

extension SharedStreamMemory {
    // MARK: Client: publish (release stores)

    /// Publishes the client's position: frames produced (W) for playback, frames consumed (R)
    /// for capture. A release store, so the frames the client wrote (or finished reading)
    /// before it are visible to the daemon once it loads the new value.
    @inline(__always)
    public func publishClientPosition(_ frames: UInt64) {
        pcm_shm_store_client_position(control, frames)
    }

    /// Asks to be woken when this many frames are free (playback) or filled (capture).
    public func publishWakeThreshold(_ frames: UInt32) {
        pcm_shm_store_wake_threshold(control, frames)
    }

    /// Tells the daemon whether the client is about to sleep on its eventfd.
    public func publishWaiting(_ waiting: Bool) {
        pcm_shm_store_waiting(control, waiting ? 1 : 0)
    }

    // MARK: Client: how full the ring is

    /// Frames the ring holds between `clientPosition` and the daemon's position, clamped to the
    /// ring: a daemon position ahead of the client's (playback) or more than a ring behind it
    /// reads as an empty (or, for capture, a full) ring, so no region computed from it can leave
    /// the ring.
    public func filledFrames(clientPosition: UInt64) -> UInt64 {
        let daemon = daemonPosition()
        let ring = UInt64(geometry.bufferFrames.value)
        switch geometry.direction {
        case .playback:
            let filled = clientPosition &- daemon
            return filled > ring ? ring : filled
        case .capture:
            let filled = daemon &- clientPosition
            return filled > ring ? 0 : filled
        }
    }

    /// Playback: frames that may be written after `clientPosition`. Capture: frames that may be
    /// read.
    public func availableFrames(clientPosition: UInt64) -> UInt64 {
        let filled = filledFrames(clientPosition: clientPosition)
        return geometry.direction == .playback ? UInt64(geometry.bufferFrames.value) - filled : filled
    }

    // MARK: Daemon: load once (acquire loads), then validate

    /// The client's position, for ``SharedRingValidation``. Call it once per period and use
    /// only the returned value: the memory can change at any moment.
    @inline(__always)
    public func loadClientPosition() -> UInt64 {
        pcm_shm_load_client_position(control)
    }

    /// The client's wake threshold, clamped to `1...bufferFrames`, so any value a client
    /// writes means "wake at some fill level of this ring".
    @inline(__always)
    public func loadWakeThreshold() -> UInt64 {
        let threshold = UInt64(pcm_shm_load_wake_threshold(control))
        return min(max(threshold, 1), UInt64(geometry.bufferFrames.value))
    }

    /// Whether the client says it is waiting to be woken; any nonzero value counts.
    @inline(__always)
    public func loadWaiting() -> Bool {
        pcm_shm_load_waiting(control) != 0
    }
}
