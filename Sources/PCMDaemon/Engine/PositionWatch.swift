// Catches a device whose position skips or repeats most of a buffer without the driver
// reporting an xrun (issue 12: in the VM, one run shifted the whole mix 3072 frames late with
// no xrun seen by pcmd, pcmplay or the kernel). At every wake the audio thread compares how far
// the device's hardware position moved with how much time passed. The hardware position is
// only as fine as the driver updates it (a period, for drivers that update it at interrupts),
// and a late thread sees both the time and the position move on together, so an honest device
// stays within about a period; a buffer lost or played twice is off by a whole buffer. The
// tolerance sits between the two: three quarters of the buffer.
//
// Only the difference between consecutive wakes is judged, so the slow drift between the
// device's crystal and the system clock (a few frames a second) never adds up to an alarm.

/// The hardware position against the monotonic clock, from one wake to the next.
public struct PositionWatch: Sendable {
    private let rate: UInt64
    private let tolerance: Int
    private var reference: (time: UInt64, position: Int)?

    /// - Parameters:
    ///   - rate: the device's frames per second.
    ///   - bufferFrames: the device buffer; a jump of more than three quarters of it is reported.
    public init(rate: Int, bufferFrames: Int) {
        self.rate = UInt64(max(rate, 0))
        self.tolerance = max(bufferFrames * 3 / 4, 1)
    }

    /// Forgets the reference: after a start, a prepare or a recovery the position restarts.
    public mutating func reset() { reference = nil }

    /// Takes the device's position (frames it has played or recorded, counted by the caller
    /// from a fixed origin) at monotonic time `now`. Returns how many frames the position moved
    /// beyond (positive) or short of (negative) what the time since the last call explains,
    /// when that is more than the tolerance; nil otherwise.
    public mutating func observe(position: Int, at now: UInt64) -> Int? {
        defer { reference = (now, position) }
        guard let reference, now >= reference.time else { return nil }
        let (scaled, overflow) = (now - reference.time).multipliedReportingOverflow(by: rate)
        guard !overflow else { return nil }  // centuries apart: nothing to compare
        let jump = position - reference.position - Int(scaled / 1_000_000_000)
        return abs(jump) > tolerance ? jump : nil
    }
}
