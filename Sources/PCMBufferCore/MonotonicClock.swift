// CLOCK_MONOTONIC in nanoseconds, the clock of every timestamp pcmd shares: the audio thread's
// event stamps and pacing, and the shared stream clock that clients (the ALSA plugin's delay)
// read against their own reading of it. One vDSO call, no allocation.

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC without allocation, for event timestamps, pacing and stream clocks.
public enum MonotonicClock {
    @inline(__always) public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
