// How often a device's audio thread wakes: every period only while some client needs it, and
// every few periods otherwise (issue 10, item 6). PipeWire wakes about 24 times a second for a
// 100 ms client at 48 kHz (a 2048-frame quantum); at pcmd's defaults (1024-frame periods, three
// per buffer) waking every period meant 47 times a second, half of it for nothing.
//
// The choice is avail_min, not the period size: the period is fixed when the device is opened,
// and reopening the device whenever a client comes or goes would glitch every other stream.
// avail_min moves with one ioctl while the stream runs (`WakeThreshold`), and the kernel still
// checks it at every period interrupt, so a wake is never later than the period after it is due.
//
// The interval is the largest whole number of periods that satisfies three rules:
// - margin: at least one period stays queued in the device when the thread wakes, so the
//   thread has a period's time to mix before the device runs dry (buffer − interval ≥ period);
// - clients: the smallest latency a client asked for covers two intervals, one the device is
//   taking while the client refills the other (a client that asks for low latency gets
//   wakeups every period, as before). The latency, not the ring: the daemon never makes a
//   ring smaller than the device buffer plus a period, whatever the client asked.
// - start-up: a newly opened stream waits at most about 50 ms for its first wake.
// A device with no clients wakes as seldom as the margin and start-up rules allow.

/// The wake-interval rule, a pure function so that it is tested without a device.
public enum WakeInterval {
    /// The longest a newly opened stream should wait before the device thread looks at it.
    public static let longestWaitNanoseconds: UInt64 = 50_000_000

    /// Frames between two wakeups of the audio thread: a whole number of periods, at least one.
    /// - Parameters:
    ///   - period: the device's period, in frames.
    ///   - buffer: the device's buffer, in frames.
    ///   - rate: the device's rate, in frames per second.
    ///   - smallestClientLatency: the smallest latency a client stream of the device asked for,
    ///     in device frames, or nil when it has none.
    public static func frames(period: Int, buffer: Int, rate: Int, smallestClientLatency: Int?) -> Int {
        guard period > 0, buffer >= period else { return max(period, 1) }
        let byMargin = buffer / period - 1
        let byStartup = Int(UInt64(max(rate, 0)) * longestWaitNanoseconds / 1_000_000_000) / period
        var periods = min(byMargin, byStartup)
        if let latency = smallestClientLatency { periods = min(periods, latency / (2 * period)) }
        return max(periods, 1) * period
    }
}
