// The arithmetic behind the ALSA plugin's hardware pointer, avail, wake thresholds and delay
// (BufferMapping): alsa-lib trusts these numbers blindly, so every property it relies on is
// pinned here. The invariants: the pointer never goes backwards; avail never exceeds the ring's
// free space (a transfer must always take what alsa-lib offers); avail reaches avail_min exactly
// when the daemon's wake threshold says so; nothing overflows on a long stream.

import Testing
@testable import PCMALSAPlugin

@Suite struct BufferMappingTests {
    /// Plays a stream through `mapping` with a consumer taking `period` device frames per step
    /// and a writer filling whatever avail offers, checking the invariants at every step.
    /// The hardware pointer ExternalPCM derives: the application's position minus what is queued.
    func position(_ mapping: BufferMapping, transferred: UInt64, consumed: UInt64) -> Int64 {
        Int64(transferred) - Int64(mapping.playbackQueued(transferred: transferred, consumed: consumed))
    }

    func simulate(_ mapping: BufferMapping, steps: Int, period: UInt64) {
        var transferred: UInt64 = 0
        var consumed: UInt64 = 0
        var lastPosition = position(mapping, transferred: 0, consumed: 0)
        for step in 0..<steps {
            let avail = mapping.playbackAvailable(transferred: transferred, consumed: consumed)
            let inFlightDevice = mapping.deviceFrames(fromApplication: UInt64(mapping.playbackInFlight(transferred: transferred, consumed: consumed)))
            let ringFree = UInt64(mapping.ringFrames) - min(inFlightDevice, UInt64(mapping.ringFrames))
            #expect(avail >= 0 && avail <= mapping.bufferFrames, "step \(step): avail \(avail) outside 0...B")
            #expect(mapping.deviceFrames(fromApplication: UInt64(avail)) <= ringFree, "step \(step): avail \(avail) exceeds the ring's free \(ringFree)")
            transferred += UInt64(avail)
            let written = position(mapping, transferred: transferred, consumed: consumed)
            #expect(written >= lastPosition, "step \(step): the pointer went back from \(lastPosition) to \(written)")
            lastPosition = written
            // The daemon consumes what the ring holds, one period at most.
            let produced = mapping.deviceFrames(fromApplication: transferred)
            consumed = min(consumed + period, produced)
            let after = position(mapping, transferred: transferred, consumed: consumed)
            #expect(after >= lastPosition)
            lastPosition = after
        }
    }

    @Test("equal rates: the pointer is the daemon's position, avail is the ring's free space")
    func equalRates() {
        let mapping = BufferMapping(applicationRate: 48_000, deviceRate: 48_000, ringFrames: 4096, bufferFrames: 4096, converts: false)
        #expect(mapping.capacity == 4096)
        #expect(position(mapping, transferred: 3000, consumed: 1000) == 1000)
        #expect(mapping.playbackAvailable(transferred: 3000, consumed: 1000) == 2096)
        #expect(mapping.playbackInFlight(transferred: 3000, consumed: 1000) == 2000)
        simulate(mapping, steps: 500, period: 1024)
    }

    @Test("a ring larger than the buffer: avail is the buffer's own, frames never leave faster than the device takes them")
    func ringLargerThanBuffer() {
        // GStreamer's alsasink: 200 ms of buffer on a daemon whose ring floor is larger.
        let mapping = BufferMapping(applicationRate: 48_000, deviceRate: 48_000, ringFrames: 20_480, bufferFrames: 9600, converts: false)
        #expect(mapping.capacity == 9600)
        #expect(mapping.playbackAvailable(transferred: 0, consumed: 0) == 9600)
        #expect(mapping.playbackAvailable(transferred: 9600, consumed: 0) == 0, "a full buffer, though the ring has room")
        #expect(mapping.playbackAvailable(transferred: 9600, consumed: 1024) == 1024, "room only as the daemon consumes")
        simulate(mapping, steps: 500, period: 1024)
    }

    @Test("a buffer too small to feed the device: the hidden queue tops it up, delay still counts it")
    func hiddenQueue() {
        // 5 ms of buffer against 1024-frame device periods: 1808 frames stay out of sight.
        let mapping = BufferMapping(applicationRate: 48_000, deviceRate: 48_000, ringFrames: 3072, bufferFrames: 240, converts: false,
                                    hiddenFrames: 2 * 1024 - 240)
        #expect(mapping.capacity == 2048)
        #expect(mapping.playbackVisibleFill(inFlight: 1808) == 0)
        #expect(mapping.playbackAvailable(transferred: 1808, consumed: 0) == 240)
        #expect(mapping.playbackAvailable(transferred: 2000, consumed: 0) == 48)
        #expect(mapping.playbackAvailable(transferred: 2048, consumed: 0) == 0, "never more than the hidden queue plus the buffer")
        #expect(mapping.playbackInFlight(transferred: 2048, consumed: 0) == 2048, "the delay counts every queued frame")
        simulate(mapping, steps: 500, period: 1024)
    }

    @Test("a buffer larger than the ring: the excess reads as queued from the start, avail never exceeds the ring")
    func largeBuffer() {
        let mapping = BufferMapping(applicationRate: 48_000, deviceRate: 48_000, ringFrames: 4096, bufferFrames: 65_536, converts: false)
        #expect(mapping.largestAvailable == 4096)
        #expect(position(mapping, transferred: 0, consumed: 0) == -(65_536 - 4096))
        #expect(mapping.playbackAvailable(transferred: 0, consumed: 0) == 4096)
        #expect(mapping.playbackAvailable(transferred: 4096, consumed: 0) == 0)
        simulate(mapping, steps: 500, period: 1024)
    }

    @Test("44.1 kHz on a 48 kHz ring: avail never exceeds what the converted ring can take", arguments: [256, 4410, 22_050, 200_000])
    func converted(bufferFrames: Int) {
        let mapping = BufferMapping(applicationRate: 44_100, deviceRate: 48_000, ringFrames: 24_576, bufferFrames: bufferFrames, converts: true)
        #expect(mapping.capacity == min(bufferFrames, 24_576 * 44_100 / 48_000 - BufferMapping.conversionSlack))
        simulate(mapping, steps: 2000, period: 1024)
    }

    @Test("the wake threshold is the free space at which avail reaches avail_min", arguments: [false, true])
    func wakeThreshold(converts: Bool) {
        let rate = converts ? 44_100 : 48_000
        let mapping = BufferMapping(applicationRate: rate, deviceRate: 48_000, ringFrames: 9600, bufferFrames: 4800, converts: converts)
        for availMin in [1, 480, 1200, 4800] {
            let threshold = mapping.playbackWakeThreshold(availMin: availMin)
            #expect((1...mapping.ringFrames).contains(threshold))
            // With the ring exactly that free, avail has reached avail_min (within a frame of
            // rounding when converting).
            let filledDevice = UInt64(mapping.ringFrames - threshold)
            let inFlight = UInt64(mapping.applicationFrames(fromDevice: filledDevice))
            let avail = mapping.playbackAvailable(transferred: inFlight, consumed: 0)
            #expect(avail >= availMin - (converts ? 1 : 0), "avail_min \(availMin): threshold \(threshold) gives avail \(avail)")
            // One device frame less free: not yet (unless the threshold is the whole ring).
            if threshold > 1, !converts {
                let avail = mapping.playbackAvailable(transferred: filledDevice + 1, consumed: 0)
                #expect(avail < availMin)
            }
        }
    }

    @Test("capture: readable frames, held-back conversion frames excluded, the pointer at most a buffer ahead")
    func capture() {
        let plain = BufferMapping(applicationRate: 48_000, deviceRate: 48_000, ringFrames: 4096, bufferFrames: 2048, converts: false)
        #expect(plain.captureReadable(produced: 3000, transferred: 1000, held: 0) == 2000)
        #expect(plain.captureQueued(produced: 5000, transferred: 1000, held: 0) == 2048, "at most a buffer readable")
        #expect(plain.captureReadable(produced: 1000, transferred: 1000, held: 0) == 0)
        #expect(plain.captureWakeThreshold(availMin: 512, held: 0) == 512)
        let converted = BufferMapping(applicationRate: 44_100, deviceRate: 48_000, ringFrames: 4096, bufferFrames: 2048, converts: true)
        // 4800 device frames are 4410 application frames; 20 are still in the resampler.
        #expect(converted.captureReadable(produced: 4800, transferred: 0, held: 20) == 4410 - 20 - BufferMapping.conversionSlack)
        #expect(converted.captureReadable(produced: 10, transferred: 0, held: 20) == 0)
    }

    @Test("positions near the end of UInt64 do not overflow")
    func largePositions() {
        let mapping = BufferMapping(applicationRate: 44_100, deviceRate: 768_000, ringFrames: 1 << 20, bufferFrames: 4096, converts: true)
        let huge = UInt64(1) << 62
        #expect(BufferMapping.scale(huge, by: 768_000, over: 44_100) == .max)  // saturates instead of trapping
        #expect(mapping.applicationFrames(fromDevice: huge) == BufferMapping.scale(huge, by: 44_100, over: 768_000))
        #expect((0...mapping.bufferFrames).contains(mapping.playbackQueued(transferred: huge, consumed: huge)))
    }
}
