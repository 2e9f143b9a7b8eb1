// Benchmarks of the ALSA layer's hot path on the null PCM (which does not pace itself, so the
// numbers are the cost of the calls, not of waiting): one playback period cycle as the audio
// thread runs it, and the timing calls beside it. Each reports heap allocations per cycle,
// counting alsa-lib's own mallocs too, which must be 0.

import ALSA
import Glibc
import PCMBufferCore

extension BenchmarkRegistry {
    static let alsa: [Benchmark] = [
        Benchmark(name: "alsa/period-cycle", run: alsaPeriodCycle),
        Benchmark(name: "alsa/status-timestamp-poll", run: alsaStatusTimestampPoll),
        Benchmark(name: "alsa/wake-threshold", run: alsaWakeThreshold),
    ]

    /// A null playback PCM configured like a daemon device: S16 stereo, 48 kHz, 128-frame
    /// periods in a 512-frame buffer, explicit start.
    private static func openBenchmarkPCM() throws -> PCM {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(
            HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 512, bufferFrames: 512, periodFrames: 128)
        )
        try pcm.configureSoftware()
        try pcm.start()
        return pcm
    }

    /// avail_update, mmap_begin, write one period of frames in place, mmap_commit.
    static func alsaPeriodCycle(_ context: BenchmarkContext) throws -> [Measurement] {
        let pcm = try openBenchmarkPCM()
        var next: Int16 = 0
        var failure: StreamInterruption?
        let cycle = {
            guard case .ok = pcm.availUpdate() else { failure = .xrun; return }
            let result = pcm.mmapTransfer(maxFrames: 128) { region in
                let samples = region.interleavedBytes.bindMemory(to: Int16.self)
                for index in samples.indices {
                    samples[index] = next
                    next &+= 1
                }
                return region.frames
            }
            if case .interrupted(let interruption) = result { failure = interruption }
        }
        let iterations = context.iterations(1_000_000)
        let time = context.nanosecondsPerIteration(iterations, cycle)
        let mallocs = context.mallocsPerIteration(iterations, cycle)
        if let failure { throw BenchmarkFailure("period cycle interrupted: \(failure)") }
        return [
            Measurement(metric: "avail_update+mmap 128 frames", value: time, unit: "ns/period"),
            Measurement(metric: "avail_update+mmap 128 frames", value: mallocs ?? .nan, unit: "mallocs/period"),
        ]
    }

    /// status, htimestamp, avail_delay and poll-revents reduction: what a loop reads beside
    /// the transfer for position reporting and wakeups.
    static func alsaStatusTimestampPoll(_ context: BenchmarkContext) throws -> [Measurement] {
        let pcm = try openBenchmarkPCM()
        let descriptors = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: 4)
        defer { descriptors.deallocate() }
        descriptors.initialize(repeating: pollfd(fd: -1, events: 0, revents: 0))
        let count = try pcm.fillPollDescriptors(into: descriptors)
        var failed = false
        let calls = {
            if pcm.status().value == nil { failed = true }
            if pcm.hardwareTimestamp().value == nil { failed = true }
            if pcm.availDelay().value == nil { failed = true }
            descriptors[0].revents = Int16(POLLOUT)
            do { _ = try pcm.pollEvents(descriptors, count: count) } catch { failed = true }
        }
        let iterations = context.iterations(500_000)
        let time = context.nanosecondsPerIteration(iterations, calls)
        let mallocs = context.mallocsPerIteration(iterations, calls)
        if failed { throw BenchmarkFailure("a status/timestamp/poll call failed") }
        return [
            Measurement(metric: "status+htimestamp+avail_delay+revents", value: time, unit: "ns/op"),
            Measurement(metric: "status+htimestamp+avail_delay+revents", value: mallocs ?? .nan, unit: "mallocs/op"),
        ]
    }

    /// Moving avail_min between one and two periods, as the audio thread does when a
    /// low-latency client comes and goes (`WakeThreshold.set`): must not allocate.
    static func alsaWakeThreshold(_ context: BenchmarkContext) throws -> [Measurement] {
        let pcm = try openBenchmarkPCM()
        var threshold = try WakeThreshold(pcm: pcm)
        var failure: ALSAError?
        var wide = false
        let iterations = context.iterations(200_000)
        // Closures written out at each call: a noncopyable value may only be captured by a
        // closure that does not escape.
        let time = context.nanosecondsPerIteration(iterations) {
            wide.toggle()
            do throws(ALSAError) { try threshold.set(wide ? 256 : 128, on: pcm) } catch { failure = error }
        }
        let mallocs = context.mallocsPerIteration(iterations) {
            wide.toggle()
            do throws(ALSAError) { try threshold.set(wide ? 256 : 128, on: pcm) } catch { failure = error }
        }
        if let failure { throw BenchmarkFailure("avail_min change refused: \(failure)") }
        return [
            Measurement(metric: "sw_params avail_min change", value: time, unit: "ns/op"),
            Measurement(metric: "sw_params avail_min change", value: mallocs ?? .nan, unit: "mallocs/op"),
        ]
    }
}
