// Channel matrices and FormatConverter: the standard matrices by hand, pure-routing detection,
// bit-exact copies where the map is a copy, and the arithmetic path against a Double reference.

import PCMBufferCore
@testable import PCMDSP
import Testing

/// Runs a FormatConverter over interleaved samples.
func convert(_ input: Samples, channels: Int, to output: FrameLayout, matrix: ChannelMatrix? = nil) -> Samples {
    let frames = input.count / channels
    let converter = FormatConverter(
        from: FrameLayout(format: input.format, channels: channels), to: output, maxFrames: FrameCount(frames), matrix: matrix)
    var result = Samples(format: output.format, count: frames * output.channels)
    input.bytes.withUnsafeBytes { source in
        result.bytes.withUnsafeMutableBytes { target in
            converter.convert(source, into: target, frames: FrameCount(frames))
        }
    }
    return result
}

@Suite("Channel mapping")
struct ChannelMappingTests {
    @Test("stereo → mono averages; mono → stereo duplicates")
    func basicMatrices() {
        #expect(ChannelMatrix.standard(from: 2, to: 1).coefficients == [0.5, 0.5])
        #expect(ChannelMatrix.standard(from: 1, to: 2).coefficients == [1, 1])
        #expect(ChannelMatrix.standard(from: 1, to: 2).routing == [0, 0])
        #expect(ChannelMatrix.standard(from: 2, to: 1).routing == nil)
        #expect(ChannelMatrix.identity(channels: 4).routing == [0, 1, 2, 3])
    }

    @Test("5.1 → stereo folds centre and rears at -3 dB, drops LFE, rows sum to 1")
    func fivePointOneToStereo() {
        let matrix = ChannelMatrix.standard(from: 6, to: 2)
        let h: Float = 0.707_106_77
        let sum = 1 + 2 * h
        // Inputs: FL FR RL RR FC LFE.
        let left: [Float] = [1 / sum, 0, h / sum, 0, h / sum, 0]
        let right: [Float] = [0, 1 / sum, 0, h / sum, h / sum, 0]
        for input in 0..<6 {
            #expect(abs(matrix[output: 0, input: input] - left[input]) < 1e-6)
            #expect(abs(matrix[output: 1, input: input] - right[input]) < 1e-6)
        }
        let mono = ChannelMatrix.standard(from: 6, to: 1)
        #expect(abs(mono.coefficients.reduce(0, +) - 1) < 1e-6)
        #expect(mono[output: 0, input: 5] == 0)
    }

    @Test("upmixing copies what exists and leaves new positions silent")
    func upmix() {
        #expect(ChannelMatrix.standard(from: 2, to: 6).routing == [0, 1, nil, nil, nil, nil])
        #expect(ChannelMatrix.standard(from: 1, to: 6).routing == [0, 0, nil, nil, nil, nil])
        #expect(ChannelMatrix.standard(from: 4, to: 8).routing == [0, 1, 2, 3, nil, nil, nil, nil])
    }

    @Test("7.1 → 5.1 folds the sides into the rears; auxiliary channels keep their index")
    func sevenOneToFiveOne() {
        let matrix = ChannelMatrix.standard(from: 8, to: 6)
        // RL row: RL and SL at 0.5 each.
        #expect(matrix[output: 2, input: 2] == 0.5)
        #expect(matrix[output: 2, input: 6] == 0.5)
        #expect(matrix[output: 5, input: 5] == 1)
        let aux = ChannelMatrix.standard(from: 10, to: 10)
        #expect(aux.routing == Array(0..<10))
        let auxDown = ChannelMatrix.standard(from: 10, to: 9)
        #expect(auxDown[output: 8, input: 8] == 1)
        #expect((0..<9).allSatisfy { auxDown[output: $0, input: 9] == 0 })
    }

    @Test("every standard matrix keeps each output row's gains summing to at most 1",
          arguments: 1...8, 1...8)
    func noClipping(from: Int, to: Int) {
        let matrix = ChannelMatrix.standard(from: from, to: to)
        for output in 0..<to {
            let sum = (0..<from).map { matrix[output: output, input: $0] }.reduce(0, +)
            #expect(sum <= 1.000_001, "\(from) → \(to) row \(output): \(matrix)")
        }
    }

    @Test("mono → stereo duplicates bit-exactly in every format", arguments: SampleFormat.allCases)
    func monoToStereoExact(format: SampleFormat) {
        var random = TestRandom(seed: 11)
        var mono = Samples(format: format, count: 500)
        for i in mono.bytes.indices { mono.bytes[i] = UInt8(truncatingIfNeeded: random.next() >> 33) }
        if format == .s24 {
            // Conversion defines the top byte of s24 as the sign extension; make the input canonical.
            mono = Samples(format: .s24, integers: mono.integers)
        }
        let stereo = convert(mono, channels: 1, to: FrameLayout(format: format, channels: 2))
        let size = format.bytesPerSample
        for frame in 0..<500 {
            let original = Array(mono.bytes[(frame * size)..<((frame + 1) * size)])
            #expect(Array(stereo.bytes[(2 * frame * size)..<((2 * frame + 1) * size)]) == original)
            #expect(Array(stereo.bytes[((2 * frame + 1) * size)..<((2 * frame + 2) * size)]) == original)
        }
    }

    @Test("stereo → mono in s16 is (L + R) / 2 rounded half to even")
    func stereoToMonoS16() {
        var values: [Int64] = [32767, 32767, -32768, -32768, 1, 0, -1, 0, 3, 0, 32767, -32768, 100, 101]
        var random = TestRandom(seed: 5)
        for _ in 0..<2000 { values.append(random.sample(.s16)) }
        let stereo = Samples(format: .s16, integers: values)
        let mono = convert(stereo, channels: 2, to: FrameLayout(format: .s16, channels: 1))
        for frame in 0..<(values.count / 2) {
            let expected = (Double(values[2 * frame] + values[2 * frame + 1]) / 2).rounded(.toNearestOrEven)
            #expect(mono[integer: frame] == Int64(expected), "frame \(frame)")
        }
    }

    @Test("a converter picks the cheapest exact strategy")
    func strategies() {
        let s16x2 = FrameLayout(format: .s16, channels: 2)
        #expect(FormatConverter(from: s16x2, to: FrameLayout(format: .float32, channels: 2), maxFrames: 8).strategy == .samplesOnly)
        #expect(FormatConverter(from: FrameLayout(format: .s16, channels: 1), to: s16x2, maxFrames: 8).strategy == .routing([0, 0]))
        #expect(FormatConverter(from: s16x2, to: FrameLayout(format: .s16, channels: 1), maxFrames: 8).strategy == .mixing)
        let swap = ChannelMatrix(inputs: 2, outputs: 2, coefficients: [0, 1, 1, 0])
        #expect(FormatConverter(from: s16x2, to: s16x2, maxFrames: 8, matrix: swap).strategy == .routing([1, 0]))
    }

    @Test("a channel swap with a format change routes each channel through the conversion rules")
    func swapWithConversion() {
        let input = Samples(format: .s16, integers: [1, -2, 32767, -32768])
        let swap = ChannelMatrix(inputs: 2, outputs: 2, coefficients: [0, 1, 1, 0])
        let output = convert(input, channels: 2, to: FrameLayout(format: .s32, channels: 2), matrix: swap)
        #expect(output.integers == [-2 << 16, 1 << 16, -32768 << 16, 32767 << 16])
    }

    @Test("stereo → 5.1 in s32 copies front channels exactly and silences the rest")
    func stereoToSurround() {
        let input = Samples(format: .s32, integers: [Int64(Int32.max), Int64(Int32.min), 5, -7])
        let output = convert(input, channels: 2, to: FrameLayout(format: .s32, channels: 6))
        #expect(output.integers == [Int64(Int32.max), Int64(Int32.min), 0, 0, 0, 0, 5, -7, 0, 0, 0, 0])
    }

    @Test("5.1 s24 → stereo s16 matches a double-precision reference within 1 LSB")
    func downmixAgainstReference() {
        var random = TestRandom(seed: 9)
        let frames = 1000
        let values = (0..<(frames * 6)).map { _ in random.sample(.s24) / 3 }
        let input = Samples(format: .s24, integers: values)
        let output = convert(input, channels: 6, to: FrameLayout(format: .s16, channels: 2))
        let matrix = ChannelMatrix.standard(from: 6, to: 2)
        for frame in 0..<frames {
            for channel in 0..<2 {
                var sum = 0.0
                for source in 0..<6 {
                    sum += Double(matrix[output: channel, input: source]) * Double(values[frame * 6 + source]) / 8_388_608
                }
                let expected = min(max((sum * 32768).rounded(), -32768), 32767)
                #expect(abs(Double(output[integer: frame * 2 + channel]) - expected) <= 1)
            }
        }
    }
}
