// The real-time mixer: exact saturated sums for every integer format (overflow included), a single
// stream at unity bit-exact, per-stream and master volume, mute, late streams, float clamping
// and NaN containment.

import PCMBufferCore
@testable import PCMDSP
import Testing

/// Mixes `streams` (each with its volume and frame count) into one period with a fresh Mixer.
func mix(
    _ streams: [(samples: Samples, volume: StreamVolume, frames: Int?)], layout: FrameLayout, frames: Int,
    master: StreamVolume = .unity
) -> Samples {
    var mixer = Mixer(layout: layout, maxFrames: FrameCount(frames))
    mixer.master = master
    var output = Samples(format: layout.format, count: frames * layout.channels)
    for i in output.bytes.indices { output.bytes[i] = 0x5A }  // so untouched bytes show
    mixer.begin(frames: FrameCount(frames))
    for stream in streams {
        stream.samples.bytes.withUnsafeBytes { source in
            mixer.add(source, frames: FrameCount(stream.frames ?? frames), volume: stream.volume)
        }
    }
    output.bytes.withUnsafeMutableBytes { mixer.finish(into: $0) }
    return output
}

@Suite("Mixer")
struct MixerTests {
    static let integerFormats: [SampleFormat] = [.s16, .s24, .s24Packed, .s32]

    @Test("two streams at unity equal the saturated integer sum, overflow included", arguments: integerFormats)
    func twoStreamSaturatedSum(format: SampleFormat) {
        let range = SampleRules.integerRange(of: format)!
        let (low, high) = (Int64(range.lowerBound), Int64(range.upperBound))
        var a: [Int64] = [high, low, high, low, 0, high, -1, 1, high - 5, low + 5]
        var b: [Int64] = [high, low, low, high, 0, 1, -1, -1, 10, -10]
        var random = TestRandom(seed: 21)
        for _ in 0..<(2 * 1000) {
            a.append(random.sample(format))
            b.append(random.sample(format))
        }
        let layout = FrameLayout(format: format, channels: 2)
        let output = mix(
            [(Samples(format: format, integers: a), .unity, nil), (Samples(format: format, integers: b), .unity, nil)],
            layout: layout, frames: a.count / 2)
        let expected = zip(a, b).map { min(max($0 + $1, low), high) }
        #expect(output.integers == expected)
    }

    @Test("warmUp leaves the mixer as it found it: the master kept, the next period's sum exact", arguments: SampleFormat.allCases)
    func warmUpChangesNothing(format: SampleFormat) {
        let layout = FrameLayout(format: format, channels: 2)
        let frames = 480
        var random = TestRandom(seed: 5)
        let streams = (0..<2).map { _ in
            format == .float32
                ? Samples(floats: (0..<(frames * 2)).map { _ in Float(random.sample(.s16)) / 65536 })
                : Samples(format: format, integers: (0..<(frames * 2)).map { _ in random.sample(format) })
        }
        let master = StreamVolume(gain: 0.75)
        let expected = mix(streams.map { ($0, .unity, nil) }, layout: layout, frames: frames, master: master)

        var mixer = Mixer(layout: layout, maxFrames: FrameCount(frames))
        mixer.master = master
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.bytes(for: FrameCount(frames)).value, alignment: 16)
        defer { scratch.deallocate() }
        mixer.warmUp(scratch: scratch)
        #expect(mixer.master == master)
        var output = Samples(format: format, count: frames * 2)
        mixer.begin(frames: FrameCount(frames))
        for stream in streams { stream.bytes.withUnsafeBytes { mixer.add($0, frames: FrameCount(frames)) } }
        output.bytes.withUnsafeMutableBytes { mixer.finish(into: $0) }
        #expect(output == expected)
    }

    @Test("eight streams at unity equal the saturated sum", arguments: integerFormats)
    func eightStreams(format: SampleFormat) {
        let range = SampleRules.integerRange(of: format)!
        var random = TestRandom(seed: 8)
        let count = 256
        let streams = (0..<8).map { index in
            (0..<count).map { i -> Int64 in
                // Stream 0 is pinned at the maximum for the first samples: sums overflow there.
                index == 0 && i < 16 ? Int64(range.upperBound) : random.sample(format) / 2
            }
        }
        let output = mix(
            streams.map { (Samples(format: format, integers: $0), StreamVolume.unity, nil) },
            layout: FrameLayout(format: format, channels: 2), frames: count / 2)
        for i in 0..<count {
            let sum = streams.map { $0[i] }.reduce(0, +)
            #expect(output[integer: i] == min(max(sum, Int64(range.lowerBound)), Int64(range.upperBound)))
        }
    }

    @Test("one stream at unity is copied bit-exactly", arguments: SampleFormat.allCases)
    func singleStreamExact(format: SampleFormat) {
        var random = TestRandom(seed: 4)
        let input: Samples
        if format == .float32 {
            input = Samples(floats: [0, -0.0, 1, -1, 0.25] + (0..<995).map { _ in random.unit() })
        } else {
            input = Samples(format: format, integers: edgeValues(format) + (0..<(1000 - edgeValues(format).count)).map { _ in random.sample(format) })
        }
        let output = mix([(input, .unity, nil)], layout: FrameLayout(format: format, channels: 1), frames: 1000)
        #expect(output.bytes == input.bytes)
    }

    @Test("gain scales and rounds half to even; mute and zero gain contribute nothing")
    func volume() {
        let a = Samples(format: .s16, integers: [1000, 3, -3, 32767, -32768, 5])
        let b = Samples(format: .s16, integers: [7, 7, 7, 7, 7, 7])
        let layout = FrameLayout(format: .s16, channels: 1)
        let half = mix([(a, StreamVolume(gain: 0.5), nil)], layout: layout, frames: 6)
        #expect(half.integers == [500, 2, -2, 16384, -16384, 2])
        let muted = mix([(a, StreamVolume(gain: 1, muted: true), nil), (b, .unity, nil)], layout: layout, frames: 6)
        #expect(muted.integers == b.integers)
        let zero = mix([(a, StreamVolume(gain: 0), nil), (b, .unity, nil)], layout: layout, frames: 6)
        #expect(zero.integers == b.integers)
        let doubled = mix([(a, StreamVolume(gain: 2), nil)], layout: layout, frames: 6)
        #expect(doubled.integers == [2000, 6, -6, 32767, -32768, 10])
    }

    // s16 at unity is summed in Int32 (WholeMixKernels); these pin that path to the Double one.

    @Test("s16: unity streams, then one with a volume, then unity again, some late: one exact sum, rounded once")
    func s16LeavesTheIntegerSum() {
        var random = TestRandom(seed: 16)
        let count = 512
        let a = (0..<count).map { _ in random.sample(.s16) }
        let b = (0..<(count / 2)).map { _ in random.sample(.s16) }  // late: half the period
        let c = (0..<count).map { _ in random.sample(.s16) }
        let d = (0..<count).map { i in i < 8 ? Int64(Int16.max) : random.sample(.s16) }
        let output = mix([(Samples(format: .s16, integers: a), .unity, nil), (Samples(format: .s16, integers: b), .unity, count / 4),
                          (Samples(format: .s16, integers: c), StreamVolume(gain: 0.5), nil),
                          (Samples(format: .s16, integers: d), .unity, nil)],
                         layout: FrameLayout(format: .s16, channels: 2), frames: count / 2)
        for i in 0..<count {
            let sum = Double(a[i] + (i < b.count ? b[i] : 0) + d[i]) + Double(c[i]) * 0.5
            let expected = Int64(min(max(sum.rounded(.toNearestOrEven), -32768), 32767))
            #expect(output[integer: i] == expected, "sample \(i)")
        }
    }

    @Test("s16: a master volume applies to the exact integer sum, beyond full scale included")
    func s16MasterOnIntegerSum() {
        let a = Samples(format: .s16, integers: [32767, -32768, 3, 1, -1, 100])
        let b = Samples(format: .s16, integers: [32767, -32768, 0, 0, 0, -101])
        let half = mix([(a, .unity, nil), (b, .unity, nil)], layout: FrameLayout(format: .s16, channels: 2), frames: 3,
                       master: StreamVolume(gain: 0.5))
        // (max + max) / 2 = max: the sum is not saturated before the master gain; 1.5 rounds to 2, ±0.5 to 0.
        #expect(half.integers == [32767, -32768, 2, 0, 0, 0])
    }

    @Test("s16: 300 full-scale streams saturate, never wrap")
    func s16ManyStreams() {
        let loud = Samples(format: .s16, integers: [32767, -32768, 32767, -32768])
        let output = mix(Array(repeating: (loud, StreamVolume.unity, nil), count: 300),
                         layout: FrameLayout(format: .s16, channels: 2), frames: 2)
        #expect(output.integers == [32767, -32768, 32767, -32768])
    }

    @Test("master volume applies to the sum after mixing; master mute is silence")
    func master() {
        let a = Samples(format: .s32, integers: [Int64(Int32.max), 100, -100, 1])
        let b = Samples(format: .s32, integers: [Int64(Int32.max), 100, -101, 0])
        let layout = FrameLayout(format: .s32, channels: 2)
        let half = mix([(a, .unity, nil), (b, .unity, nil)], layout: layout, frames: 2, master: StreamVolume(gain: 0.5))
        // The sum is exact before the master gain: (max + max) / 2 = max, not max / 2.
        #expect(half.integers == [Int64(Int32.max), 100, -100, 0])
        let muted = mix([(a, .unity, nil)], layout: layout, frames: 2, master: StreamVolume(gain: 1, muted: true))
        #expect(muted.bytes.allSatisfy { $0 == 0 })
    }

    @Test("no streams, or a late stream, give silence where nothing was added", arguments: SampleFormat.allCases)
    func silenceAndLateStreams(format: SampleFormat) {
        let layout = FrameLayout(format: format, channels: 2)
        let empty = mix([], layout: layout, frames: 4)
        #expect(empty.bytes.allSatisfy { $0 == 0 })
        guard format != .float32 else { return }
        let full = Samples(format: format, integers: [1, 2, 3, 4, 5, 6, 7, 8])
        let late = Samples(format: format, integers: [10, 20, 30, 40])
        // The late stream has only 2 of the 4 frames; it is added second and first.
        let second = mix([(full, .unity, nil), (late, .unity, 2)], layout: layout, frames: 4)
        #expect(second.integers == [11, 22, 33, 44, 5, 6, 7, 8])
        let first = mix([(late, .unity, 2), (full, .unity, nil)], layout: layout, frames: 4)
        #expect(first.integers == [11, 22, 33, 44, 5, 6, 7, 8])
        let alone = mix([(late, .unity, 2)], layout: layout, frames: 4)
        #expect(alone.integers == [10, 20, 30, 40, 0, 0, 0, 0])
    }

    @Test("float mixes clamp to ±1 and a NaN from one stream does not spoil the others")
    func floatClampAndNaN() {
        let a = Samples(floats: [0.75, -0.75, .nan, 0.25, .infinity, .infinity])
        let b = Samples(floats: [0.5, -0.5, 0.125, .nan, 0, -.infinity])
        let output = mix([(a, .unity, nil), (b, .unity, nil)], layout: FrameLayout(format: .float32, channels: 2), frames: 3)
        #expect(output.floats == [1, -1, 0.125, 0.25, 1, 0])
    }

    @Test("the same mixer gives the same result period after period")
    func reuse() {
        let layout = FrameLayout(format: .s16, channels: 2)
        var mixer = Mixer(layout: layout, maxFrames: 64)
        let a = Samples(format: .s16, integers: (0..<128).map { Int64($0 * 100) })
        var first = Samples(format: .s16, count: 128)
        var second = Samples(format: .s16, count: 128)
        for target in [0, 1] {
            mixer.begin(frames: 64)
            a.bytes.withUnsafeBytes { mixer.add($0, frames: 64) }
            a.bytes.withUnsafeBytes { mixer.add($0, frames: 64, volume: StreamVolume(gain: 0.5)) }
            if target == 0 {
                first.bytes.withUnsafeMutableBytes { mixer.finish(into: $0) }
            } else {
                second.bytes.withUnsafeMutableBytes { mixer.finish(into: $0) }
            }
        }
        #expect(first == second)
        #expect(first.integers == (0..<128).map { min(Int64($0 * 150), 32767) })
    }

    @Test("volumes: decibels convert to linear gain, 0 dB is exactly 1, out-of-range gains clamp")
    func streamVolume() {
        #expect(StreamVolume(decibels: 0).gain == 1)
        #expect(abs(StreamVolume(decibels: -6.0206).gain - 0.5) < 1e-4)
        #expect(abs(StreamVolume(decibels: 6.0206).gain - 2) < 1e-3)
        #expect(StreamVolume(gain: -3).gain == 0)
        #expect(StreamVolume(gain: .nan).gain == 0)
        #expect(StreamVolume(gain: 100).gain == Mixer.maximumGain)
        #expect(StreamVolume(gain: 0.7, muted: true).effectiveGain == 0)
    }
}
