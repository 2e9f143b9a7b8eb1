// The libsoxr resampler and the StreamConverter built on it: sine frequency and amplitude kept,
// THD+N, passband flatness, rejection of tones above the new Nyquist, output length, chunking
// independence, and bad parameters. The bounds asserted here are the ones docs/dsp.md states.

import Foundation
import PCMBufferCore
@testable import PCMDSP
@testable import PCMResample
import Testing

/// Resamples all of `input` (interleaved, `channels`) in chunks of `chunk` frames, then drains.
func resampleAll(
    _ input: [Float], channels: Int = 1, from inputRate: Int, to outputRate: Int, chunk: Int = 480,
    quality: Resampler.Quality = .high
) throws -> [Float] {
    let resampler = try Resampler(inputRate: inputRate, outputRate: outputRate, channels: channels, quality: quality)
    let capacity = resampler.maxOutputFrames(forInput: FrameCount(chunk)).value * channels
    var scratch = [Float](repeating: 0, count: capacity)
    var output: [Float] = []
    var position = 0
    while position < input.count {
        let end = min(position + chunk * channels, input.count)
        let produced = input[position..<end].withUnsafeBufferPointer { source in
            scratch.withUnsafeMutableBufferPointer { target in
                let (consumed, produced) = resampler.process(source, into: target)
                #expect(consumed.value * channels == end - position)
                return produced.value
            }
        }
        output += scratch[0..<(produced * channels)]
        position = end
    }
    while true {
        let produced = scratch.withUnsafeMutableBufferPointer { resampler.drain(into: $0).value }
        if produced == 0 { break }
        output += scratch[0..<(produced * channels)]
    }
    return output
}

@Suite("Resampler")
struct ResamplerTests {
    /// The middle of a signal, away from the filter's start-up and end transients.
    static func middle(_ signal: [Float], trim: Int = 2000) -> ArraySlice<Double> {
        signal.map(Double.init)[trim..<(signal.count - trim)]
    }

    @Test("44.1 → 48 kHz keeps a 1 kHz sine's frequency and amplitude; THD+N below -110 dB")
    func sineThroughHighQuality() throws {
        let input = SignalAnalysis.sine(frequency: 1000, rate: 44100, amplitude: 0.5, frames: 44100)
        let output = try resampleAll(input, from: 44100, to: 48000)
        let signal = Self.middle(output)
        let frequency = SignalAnalysis.peakFrequency(signal, near: 1000, rate: 48000)
        #expect(abs(frequency - 1000) < 0.01)
        let fit = SignalAnalysis.fit(signal, frequency: 1000, rate: 48000)
        #expect(abs(20 * log10(fit.amplitude / 0.5)) < 0.01)
        #expect(fit.thdPlusNoiseDecibels < -110, "THD+N \(fit.thdPlusNoiseDecibels) dB")
    }

    @Test("output length after draining is input × ratio (within one frame)", arguments: [
        (44100, 48000), (48000, 44100), (8000, 48000), (96000, 48000), (22050, 44100),
    ])
    func outputLength(inputRate: Int, outputRate: Int) throws {
        let frames = 12345
        let input = [Float](repeating: 0.1, count: frames)
        let output = try resampleAll(input, from: inputRate, to: outputRate, chunk: 333)
        let expected = Double(frames) * Double(outputRate) / Double(inputRate)
        #expect(abs(Double(output.count) - expected) <= 1, "\(output.count) vs \(expected)")
    }

    @Test("passband is flat within ±0.02 dB up to 20 kHz for 44.1 → 48 kHz",
          arguments: [50.0, 1000, 5000, 10000, 15000, 18000, 20000])
    func passband(frequency: Double) throws {
        let input = SignalAnalysis.sine(frequency: frequency, rate: 44100, amplitude: 0.5, frames: 22050)
        let output = try resampleAll(input, from: 44100, to: 48000)
        let fit = SignalAnalysis.fit(Self.middle(output), frequency: frequency, rate: 48000)
        let gain = 20 * log10(fit.amplitude / 0.5)
        #expect(abs(gain) < 0.02, "\(frequency) Hz: \(gain) dB")
    }

    @Test("a tone above the new Nyquist is rejected by at least 110 dB (48 → 44.1 kHz)",
          arguments: [22500.0, 23000, 23900])
    func stopband(frequency: Double) throws {
        let input = SignalAnalysis.sine(frequency: frequency, rate: 48000, amplitude: 0.9, frames: 24000)
        let output = try resampleAll(input, from: 48000, to: 44100)
        let level = SignalAnalysis.rms(Self.middle(output))
        let rejection = 20 * log10(level / (0.9 / 2.0.squareRoot()))
        #expect(rejection < -110, "\(frequency) Hz leaks at \(rejection) dB")
    }

    @Test("chunk sizes do not change the output")
    func chunkingIndependent() throws {
        let input = SignalAnalysis.sine(frequency: 440, rate: 44100, amplitude: 0.3, frames: 10000)
        let whole = try resampleAll(input, from: 44100, to: 48000, chunk: 10000)
        let small = try resampleAll(input, from: 44100, to: 48000, chunk: 37)
        #expect(whole.count == small.count)
        let difference = zip(whole, small).map { abs($0 - $1) }.max() ?? 0
        #expect(difference < 1e-6)
    }

    @Test("stereo channels are resampled independently")
    func stereoIndependent() throws {
        let left = SignalAnalysis.sine(frequency: 1000, rate: 48000, amplitude: 0.5, frames: 24000)
        let right = SignalAnalysis.sine(frequency: 3000, rate: 48000, amplitude: 0.25, frames: 24000)
        let interleaved = zip(left, right).flatMap { [$0, $1] }
        let output = try resampleAll(interleaved, channels: 2, from: 48000, to: 32000)
        let outLeft = stride(from: 0, to: output.count, by: 2).map { output[$0] }
        let outRight = stride(from: 1, to: output.count, by: 2).map { output[$0] }
        let fitLeft = SignalAnalysis.fit(Self.middle(outLeft), frequency: 1000, rate: 32000)
        let fitRight = SignalAnalysis.fit(Self.middle(outRight), frequency: 3000, rate: 32000)
        #expect(abs(fitLeft.amplitude - 0.5) < 1e-3)
        #expect(abs(fitRight.amplitude - 0.25) < 1e-3)
        #expect(fitLeft.thdPlusNoiseDecibels < -100)
        #expect(fitRight.thdPlusNoiseDecibels < -100)
    }

    @Test("the resampler reports a latency and forgets its input on reset")
    func delayAndReset() throws {
        let resampler = try Resampler(inputRate: 44100, outputRate: 48000, channels: 1)
        let input = [Float](repeating: 0.5, count: 4410)
        var output = [Float](repeating: 0, count: resampler.maxOutputFrames(forInput: 4410).value)
        _ = input.withUnsafeBufferPointer { source in output.withUnsafeMutableBufferPointer { resampler.process(source, into: $0) } }
        #expect(resampler.delay > 0)
        resampler.reset()
        let drained = output.withUnsafeMutableBufferPointer { resampler.drain(into: $0) }
        #expect(drained == .zero)
    }

    @Test("bad rates and channel counts are typed errors")
    func badParameters() {
        #expect(throws: ResamplerError.self) { _ = try Resampler(inputRate: 0, outputRate: 48000, channels: 2) }
        #expect(throws: ResamplerError.self) { _ = try Resampler(inputRate: 48000, outputRate: 10_000_000, channels: 2) }
        #expect(throws: ResamplerError.invalidParameters("0 channels outside 1...64")) {
            _ = try Resampler(inputRate: 44100, outputRate: 48000, channels: 0)
        }
    }
}

@Suite("Stream converter")
struct StreamConverterTests {
    @Test("equal rates and layouts pass frames through bit-exactly", arguments: SampleFormat.allCases)
    func passThrough(format: SampleFormat) throws {
        let layout = FrameLayout(format: format, channels: 2)
        let converter = try StreamConverter(from: layout, rate: 48000, to: layout, rate: 48000, maxInputFrames: 256)
        let resamples = converter.resamples
        #expect(!resamples)
        var random = TestRandom(seed: 1)
        var input = Samples(format: format, count: 512)
        if format == .float32 {
            input = Samples(floats: (0..<512).map { _ in random.unit() })
        } else {
            input = Samples(format: format, integers: (0..<512).map { _ in random.sample(format) })
        }
        var output = Samples(format: format, count: 512)
        let produced = input.bytes.withUnsafeBytes { source in
            output.bytes.withUnsafeMutableBytes { converter.process(source, frames: 256, into: $0) }
        }
        #expect(produced == 256)
        #expect(output == input)
    }

    @Test("s16 mono 44.1 kHz → s32 stereo 48 kHz: both channels carry the same clean sine")
    func monoToStereoWithRate() throws {
        let converter = try StreamConverter(
            from: FrameLayout(format: .s16, channels: 1), rate: 44100,
            to: FrameLayout(format: .s32, channels: 2), rate: 48000, maxInputFrames: 441)
        let sine = SignalAnalysis.sine(frequency: 997, rate: 44100, amplitude: 0.5, frames: 44100)
        let input = Samples(format: .s16, integers: sine.map { Int64(($0 * 32768).rounded()) })
        var collected: [Int64] = []
        var output = Samples(format: .s32, count: converter.maxOutputFrames.value * 2)
        for start in stride(from: 0, to: 44100, by: 441) {
            let produced = Array(input.bytes[(start * 2)..<((start + 441) * 2)]).withUnsafeBytes { source in
                output.bytes.withUnsafeMutableBytes { converter.process(source, frames: 441, into: $0) }
            }
            collected += output.integers.prefix(produced.value * 2)
        }
        let left = stride(from: 0, to: collected.count, by: 2).map { Double(collected[$0]) / 2_147_483_648 }
        let right = stride(from: 1, to: collected.count, by: 2).map { Double(collected[$0]) / 2_147_483_648 }
        #expect(left == right)
        let fit = SignalAnalysis.fit(left[2000..<(left.count - 2000)], frequency: 997, rate: 48000)
        #expect(abs(fit.amplitude - 0.5) < 1e-3)
        // s16 input limits this to about -98 dB (16-bit quantisation of a half-scale sine).
        #expect(fit.thdPlusNoiseDecibels < -90, "THD+N \(fit.thdPlusNoiseDecibels) dB")
    }

    @Test("6 channels 96 kHz → stereo 48 kHz downmixes before resampling")
    func downmixThenResample() throws {
        let converter = try StreamConverter(
            from: FrameLayout(format: .float32, channels: 6), rate: 96000,
            to: FrameLayout(format: .float32, channels: 2), rate: 48000, maxInputFrames: 960)
        let capacity = converter.maxOutputFrames.value
        #expect(capacity >= 480)
        // Only front-left carries a tone; it must come out on the left only.
        let tone = SignalAnalysis.sine(frequency: 1000, rate: 96000, amplitude: 0.5, frames: 96000)
        var input = [Float](repeating: 0, count: 96000 * 6)
        for frame in 0..<96000 { input[frame * 6] = tone[frame] }
        var left: [Double] = []
        var right: [Double] = []
        var output = [Float](repeating: 0, count: converter.maxOutputFrames.value * 2)
        for start in stride(from: 0, to: 96000, by: 960) {
            let produced = input[(start * 6)..<((start + 960) * 6)].withUnsafeBytes { source in
                output.withUnsafeMutableBytes { converter.process(source, frames: 960, into: $0) }
            }
            for frame in 0..<produced.value {
                left.append(Double(output[frame * 2]))
                right.append(Double(output[frame * 2 + 1]))
            }
        }
        let gain = ChannelMatrix.standard(from: 6, to: 2)[output: 0, input: 0]
        let fit = SignalAnalysis.fit(left[2000..<(left.count - 2000)], frequency: 1000, rate: 48000)
        #expect(abs(fit.amplitude - 0.5 * Double(gain)) < 1e-3)
        #expect(SignalAnalysis.rms(right[2000..<(right.count - 2000)]) < 1e-6)
    }
}
