// The daemon's half of a shared stream: the header fields it publishes every period (its own
// ring position, the stream's state, the xrun counters, the clock) and the client's reads of
// them. The daemon only ever stores here; it keeps the values it publishes in its own memory,
// because the client can write anything it likes over the header.

internal import CPCMShm

/// A shared stream's state as the daemon publishes it. The raw values are part of the layout:
/// never renumber a case.
public enum SharedStreamState: UInt32, CaseIterable, Hashable, Sendable {
    /// The stream exists but the daemon has not started it.
    case setup = 0
    /// The daemon waits for the ring to reach the start threshold.
    case prefilling = 1
    /// Frames move every period.
    case running = 2
    /// The client asked for a pause.
    case paused = 3
    /// The client asked for a drain; the daemon plays out what the ring holds.
    case draining = 4
    /// The drain finished.
    case drained = 5
    /// The stream ended: closed, failed, or stopped for a violation. The memory is about to be
    /// reclaimed.
    case stopped = 6
}

/// One reading of a shared stream's clock: how far the device had got, and when.
public struct SharedStreamClock: Hashable, Sendable {
    /// Frames the device had played (playback) or captured (capture) since the stream started.
    public var framesPlayed: UInt64
    /// `CLOCK_MONOTONIC` in nanoseconds at the moment `framesPlayed` was true.
    public var monotonicNanoseconds: UInt64
    /// Frames between the ring and the speaker (or the microphone) at that moment: the
    /// device's queue plus its own latency.
    public var deviceDelay: UInt64

    /// Describes a clock reading.
    public init(framesPlayed: UInt64, monotonicNanoseconds: UInt64, deviceDelay: UInt64) {
        self.framesPlayed = framesPlayed
        self.monotonicNanoseconds = monotonicNanoseconds
        self.deviceDelay = deviceDelay
    }
}

extension SharedStreamMemory {
    // MARK: Daemon: publish (release stores, no loads)

    /// Publishes the daemon's position: frames consumed (R) for playback, frames produced (W)
    /// for capture. A release store: the frames the daemon read (or wrote) before it are done.
    @inline(__always)
    public func publishDaemonPosition(_ frames: UInt64) {
        pcm_shm_store_daemon_position(header, frames)
    }

    /// Publishes the stream's state.
    @inline(__always)
    public func publishState(_ state: SharedStreamState) {
        pcm_shm_store_state(header, state.rawValue)
    }

    /// Publishes the number of periods the daemon found the ring short of a period (playback).
    @inline(__always)
    public func publishUnderruns(_ count: UInt64) {
        pcm_shm_store_underruns(header, count)
    }

    /// Publishes the number of periods the daemon found the ring too full to take a period
    /// (capture).
    @inline(__always)
    public func publishOverruns(_ count: UInt64) {
        pcm_shm_store_overruns(header, count)
    }

    /// Publishes a clock reading under the header's sequence lock.
    ///
    /// `sequence` is the daemon's own count of clock writes for this stream, starting at 0 and
    /// advanced by this call; it is never read back from the header, where the client could
    /// have changed it. Only one thread (the audio thread) may publish the clock of a stream.
    @inline(__always)
    public func publishClock(_ clock: SharedStreamClock, sequence: inout UInt64) {
        pcm_shm_clock_write(header, sequence, clock.framesPlayed, clock.monotonicNanoseconds, clock.deviceDelay)
        sequence &+= 1
    }

    // MARK: Client: read (acquire loads)

    /// Whether the daemon reclaimed this memory: a closed stream's pages are punched out, and the
    /// client's mapping then reads zeros, whose positions would say "an empty ring". A client
    /// must not take that for room to write or frames to read; the socket says why it closed.
    @inline(__always)
    public var isReclaimed: Bool {
        pcm_shm_load_magic(header) != SharedStreamLayout.magic
    }

    /// The daemon's last published position (R for playback, W for capture).
    @inline(__always)
    public func daemonPosition() -> UInt64 {
        pcm_shm_load_daemon_position(header)
    }

    /// The stream's state, or `nil` for a value this build does not know (a newer daemon's, or
    /// one the client itself scribbled).
    public func state() -> SharedStreamState? {
        SharedStreamState(rawValue: pcm_shm_load_state(header))
    }

    /// Periods the daemon found the playback ring short.
    public func underruns() -> UInt64 {
        pcm_shm_load_underruns(header)
    }

    /// Periods the daemon found the capture ring full.
    public func overruns() -> UInt64 {
        pcm_shm_load_overruns(header)
    }

    /// The latest clock reading, or `nil` when `attempts` tries all overlapped a write.
    ///
    /// The daemon writes the clock once a period and a write takes nanoseconds, so the first
    /// or second try succeeds unless the daemon died in the middle of a write (the sequence
    /// then stays odd for good), which is why the tries are bounded.
    public func readClock(attempts: Int = 64) -> SharedStreamClock? {
        var frames: UInt64 = 0
        var time: UInt64 = 0
        var delay: UInt64 = 0
        for _ in 0..<max(attempts, 1) where pcm_shm_clock_read(header, &frames, &time, &delay) != 0 {
            return SharedStreamClock(framesPlayed: frames, monotonicNanoseconds: time, deviceDelay: delay)
        }
        return nil
    }
}
