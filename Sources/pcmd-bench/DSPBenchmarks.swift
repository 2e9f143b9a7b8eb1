// Benchmarks of PCMDSP: the real-time mixer per 128-frame period at 48 kHz (1 and 8 stereo
// streams, unity and non-unity gain, three device formats) with heap allocations per period,
// which must be 0; sample conversion throughput; and the resampler's cost per frame and as a
// share of one core for a 48 kHz stereo stream, with libsoxr's allocations per call.

import PCMBufferCore
import PCMDSP
import PCMResample

extension BenchmarkRegistry {
    static let dsp: [Benchmark] = [
        Benchmark(name: "dsp/mix", run: dspMix),
        Benchmark(name: "dsp/convert", run: dspConvert),
        Benchmark(name: "dsp/resample", run: dspResample),
    ]

    /// One 128-frame period at 48 kHz lasts this long, in nanoseconds.
    private static let periodNanoseconds = 128.0 / 48000 * 1e9

    /// Pseudo-random bytes for integer streams, so sums overflow and saturate sometimes.
    private static func noise(bytes: Int, seed: UInt64) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 16)
        var state = seed
        for i in 0..<bytes {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buffer[i] = UInt8(truncatingIfNeeded: state >> 56)
        }
        return buffer
    }

    /// Pseudo-random floats in ±1 for float streams (random bytes would include NaNs).
    private static func floatNoise(samples: Int, seed: UInt64) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: samples * 4, alignment: 16)
        var state = seed
        for i in 0..<samples {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buffer.storeBytes(of: Float(Int32(truncatingIfNeeded: state >> 32)) / 2_147_483_648, toByteOffset: i * 4, as: Float.self)
        }
        return buffer
    }

    /// begin + add × N + finish for one 128-frame stereo period.
    static func dspMix(_ context: BenchmarkContext) throws -> [Measurement] {
        var results: [Measurement] = []
        let frames = FrameCount(128)
        for format in [SampleFormat.s16, .s32, .float32] {
            let layout = FrameLayout(format: format, channels: 2)
            let bytes = layout.bytes(for: frames).value
            let streams = (0..<8).map { index in
                format == .float32
                    ? floatNoise(samples: 256, seed: UInt64(index + 1)) : noise(bytes: bytes, seed: UInt64(index + 1))
            }
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 16)
            defer {
                streams.forEach { $0.deallocate() }
                output.deallocate()
            }
            var mixer = Mixer(layout: layout, maxFrames: frames)
            for (count, volume, label) in [
                (1, StreamVolume.unity, "1 stream"), (8, .unity, "8 streams"), (8, StreamVolume(gain: 0.7), "8 streams gain 0.7"),
            ] {
                let metric = "\(format.name) \(label)"
                let iterations = context.iterations(200_000)
                let time = context.nanosecondsPerIteration(iterations) {
                    mixer.begin(frames: frames)
                    for stream in streams.prefix(count) { mixer.add(UnsafeRawBufferPointer(stream), frames: frames, volume: volume) }
                    mixer.finish(into: output)
                }
                let mallocs = context.mallocsPerIteration(iterations) {
                    mixer.begin(frames: frames)
                    for stream in streams.prefix(count) { mixer.add(UnsafeRawBufferPointer(stream), frames: frames, volume: volume) }
                    mixer.finish(into: output)
                }
                results.append(Measurement(metric: metric, value: time, unit: "ns/period"))
                results.append(Measurement(metric: metric, value: time / periodNanoseconds * 100, unit: "% of a core"))
                results.append(Measurement(metric: metric, value: mallocs ?? .nan, unit: "mallocs/period"))
            }
        }
        return results
    }

    /// FormatConverter over 1024 stereo frames for common pairs, in ns per frame.
    static func dspConvert(_ context: BenchmarkContext) throws -> [Measurement] {
        var results: [Measurement] = []
        let frames = FrameCount(1024)
        let pairs: [(FrameLayout, FrameLayout)] = [
            (FrameLayout(format: .s16, channels: 2), FrameLayout(format: .s16, channels: 2)),
            (FrameLayout(format: .s16, channels: 2), FrameLayout(format: .float32, channels: 2)),
            (FrameLayout(format: .float32, channels: 2), FrameLayout(format: .s16, channels: 2)),
            (FrameLayout(format: .s32, channels: 2), FrameLayout(format: .s16, channels: 2)),
            (FrameLayout(format: .s24Packed, channels: 2), FrameLayout(format: .s32, channels: 2)),
            (FrameLayout(format: .s16, channels: 1), FrameLayout(format: .s16, channels: 2)),
            (FrameLayout(format: .s16, channels: 2), FrameLayout(format: .s16, channels: 1)),
            (FrameLayout(format: .s24, channels: 6), FrameLayout(format: .s32, channels: 2)),
        ]
        for (input, output) in pairs {
            let source =
                input.format == .float32
                ? floatNoise(samples: frames.value * input.channels, seed: 3)
                : noise(bytes: input.bytes(for: frames).value, seed: 3)
            let target = UnsafeMutableRawBufferPointer.allocate(byteCount: output.bytes(for: frames).value, alignment: 16)
            defer {
                source.deallocate()
                target.deallocate()
            }
            let converter = FormatConverter(from: input, to: output, maxFrames: frames)
            let iterations = context.iterations(20_000)
            let time = context.nanosecondsPerIteration(iterations) {
                converter.convert(UnsafeRawBufferPointer(source), into: target, frames: frames)
            }
            let mallocs = context.mallocsPerIteration(iterations) {
                converter.convert(UnsafeRawBufferPointer(source), into: target, frames: frames)
            }
            let metric = "\(input) → \(output)"
            results.append(Measurement(metric: metric, value: time / Double(frames.value), unit: "ns/frame"))
            results.append(Measurement(metric: metric, value: mallocs ?? .nan, unit: "mallocs/call"))
        }
        return results
    }

    /// A stereo float stream resampled in 10 ms chunks, per quality and rate pair; and the
    /// whole client path s16 stereo 44.1 kHz → s16 stereo 48 kHz through StreamConverter.
    static func dspResample(_ context: BenchmarkContext) throws -> [Measurement] {
        var results: [Measurement] = []
        let cases: [(Int, Int, Resampler.Quality, String)] = [
            (44100, 48000, .high, "HQ"), (48000, 44100, .high, "HQ"), (96000, 48000, .high, "HQ"),
            (44100, 48000, .medium, "MQ"), (44100, 48000, .veryHigh, "VHQ"),
        ]
        for (inputRate, outputRate, quality, label) in cases {
            let chunk = inputRate / 100
            let resampler = try Resampler(inputRate: inputRate, outputRate: outputRate, channels: 2, quality: quality)
            let source = floatNoise(samples: chunk * 2, seed: 9)
            let capacity = resampler.maxOutputFrames(forInput: FrameCount(chunk)).value * 2
            let target = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity)
            defer {
                source.deallocate()
                target.deallocate()
            }
            let input = UnsafeBufferPointer(source.bindMemory(to: Float.self))
            let iterations = context.iterations(2_000)
            let time = context.nanosecondsPerIteration(iterations) { _ = resampler.process(input, into: target) }
            let mallocs = context.mallocsPerIteration(iterations) { _ = resampler.process(input, into: target) }
            let outputFrames = Double(chunk) * Double(outputRate) / Double(inputRate)
            let nsPerFrame = time / outputFrames
            let metric = "\(label) \(inputRate)→\(outputRate) stereo"
            results.append(Measurement(metric: metric, value: nsPerFrame, unit: "ns/output frame"))
            results.append(Measurement(metric: metric, value: nsPerFrame * Double(outputRate) / 1e7, unit: "% of a core"))
            results.append(Measurement(metric: metric, value: mallocs ?? .nan, unit: "mallocs/call"))
            results.append(Measurement(metric: metric, value: resampler.delay, unit: "frames delay"))
        }

        let layout = FrameLayout(format: .s16, channels: 2)
        let converter = try StreamConverter(from: layout, rate: 44100, to: layout, rate: 48000, maxInputFrames: 441)
        let source = noise(bytes: layout.bytes(for: 441).value, seed: 5)
        let target = UnsafeMutableRawBufferPointer.allocate(
            byteCount: layout.bytes(for: converter.maxOutputFrames).value, alignment: 16)
        defer {
            source.deallocate()
            target.deallocate()
        }
        let iterations = context.iterations(2_000)
        let time = context.nanosecondsPerIteration(iterations) {
            _ = converter.process(UnsafeRawBufferPointer(source), frames: 441, into: target)
        }
        let mallocs = context.mallocsPerIteration(iterations) {
            _ = converter.process(UnsafeRawBufferPointer(source), frames: 441, into: target)
        }
        let metric = "StreamConverter s16×2 44100→48000 HQ"
        results.append(Measurement(metric: metric, value: time / 480, unit: "ns/output frame"))
        results.append(Measurement(metric: metric, value: time / 480 * 48000 / 1e7, unit: "% of a core"))
        results.append(Measurement(metric: metric, value: mallocs ?? .nan, unit: "mallocs/call"))
        return results
    }
}
