// The audio thread's check of the device position against the clock (issue 12): an honest
// device, late wakes, period-sized jitter and clock drift pass; a buffer skipped or played twice
// is reported with its size; a restart forgets the reference.
import PCMDaemon
import Testing

@Suite("PositionWatch: a device position that skips a buffer is caught")
struct PositionWatchTests {
    /// 48 kHz, 1024 x 3: the tolerance is 2304 frames.
    func watch() -> PositionWatch { PositionWatch(rate: 48_000, bufferFrames: 3072) }

    /// Nanoseconds for `frames` at 48 kHz (rounded down, so a judged jump may be off by one).
    func time(_ frames: Int) -> UInt64 { UInt64(frames) * 1_000_000_000 / 48_000 }

    @Test("an honest device, woken every two periods and sometimes late, is never reported")
    func honestDevice() {
        var watch = watch()
        var position = 0
        var now: UInt64 = 5_000_000_000
        #expect(watch.observe(position: position, at: now) == nil, "the first look only takes a reference")
        for wake in 0..<1000 {
            // Late by up to a period now and then; the position moves with the time.
            let interval = 2048 + (wake % 7 == 0 ? 1000 : 0)
            position += interval
            now += time(interval)
            #expect(watch.observe(position: position, at: now) == nil, "wake \(wake)")
        }
    }

    @Test("a position updated only at period interrupts (a period of jitter) is never reported")
    func periodGranularity() {
        var watch = watch()
        var now: UInt64 = 0
        _ = watch.observe(position: 0, at: now)
        for wake in 1...500 {
            now += time(2048)
            // The driver's position lags the truth by up to a period, differently each time.
            let truth = wake * 2048
            let seen = truth - (wake % 3) * 512
            #expect(watch.observe(position: seen, at: now) == nil, "wake \(wake)")
        }
    }

    @Test("a crystal 500 ppm off the system clock never adds up to an alarm")
    func drift() {
        var watch = watch()
        var now: UInt64 = 0
        var position = 0.0
        _ = watch.observe(position: 0, at: now)
        for _ in 0..<20_000 {  // a quarter of an hour of 2048-frame wakes
            now += time(2048)
            position += 2048 * 1.0005
            #expect(watch.observe(position: Int(position), at: now) == nil)
        }
    }

    @Test("a buffer skipped or played twice is reported with its size, once")
    func skippedBuffer() {
        var watch = watch()
        var now: UInt64 = 0
        _ = watch.observe(position: 0, at: now)
        now += time(2048)
        #expect(watch.observe(position: 2048, at: now) == nil)
        // The hardware pointer wrapped twice while the driver saw one wrap: 3072 frames short.
        now += time(2048 + 3072)
        let short = watch.observe(position: 4096, at: now)
        #expect(short.map { abs($0 + 3072) <= 1 } == true, "reported \(String(describing: short)), not about -3072")
        // Judged from the new reference: the next honest wake is fine again.
        now += time(2048)
        #expect(watch.observe(position: 6144, at: now) == nil)
        // A buffer played twice: the position runs a buffer ahead of the time.
        now += time(2048)
        let ahead = watch.observe(position: 6144 + 2048 + 3072, at: now)
        #expect(ahead.map { abs($0 - 3072) <= 1 } == true, "reported \(String(describing: ahead)), not about 3072")
    }

    @Test("a device that stops moving is reported; after reset the reference starts over")
    func stalledAndReset() {
        var watch = watch()
        _ = watch.observe(position: 1000, at: 0)
        // Two seconds without the position moving: 96000 frames short.
        #expect(watch.observe(position: 1000, at: 2_000_000_000) == -96_000)
        watch.reset()
        #expect(watch.observe(position: 0, at: 3_000_000_000) == nil, "after a reset the first look only takes a reference")
        #expect(watch.observe(position: 2048, at: 3_000_000_000 + time(2048)) == nil)
    }

    @Test("nonsense input: time going backwards or centuries apart is not judged, nothing traps")
    func nonsense() {
        var watch = watch()
        _ = watch.observe(position: 0, at: 10_000_000_000)
        #expect(watch.observe(position: 5000, at: 1_000_000_000) == nil, "time went backwards")
        _ = watch.observe(position: 0, at: 0)
        #expect(watch.observe(position: 0, at: .max) == nil, "an interval whose frames overflow")
        var tiny = PositionWatch(rate: 0, bufferFrames: 0)
        _ = tiny.observe(position: 0, at: 0)
        #expect(tiny.observe(position: 5, at: 1000) == 5, "a zero-sized buffer tolerates nothing")
    }
}
