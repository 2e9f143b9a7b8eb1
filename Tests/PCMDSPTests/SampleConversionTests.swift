// Sample-format conversion: hand-computed values at the edges, every format pair against an
// independent reference, lossless round trips, byte layouts, and bit-exact same-format copies.

import PCMBufferCore
@testable import PCMDSP
import Testing

@Suite("Sample conversion")
struct SampleConversionTests {
    static let integerFormats: [SampleFormat] = [.s16, .s24, .s24Packed, .s32]

    @Test("s32 → s16 rounds to nearest (ties up) and saturates, by hand")
    func s32ToS16ByHand() {
        let input: [Int64] = [0, 0x7FFF_FFFF, 0x7FFF_8000, 0x7FFF_7FFF, 0x8000, 0x7FFF, -1, -0x8000, -0x8001, -0x8000_0000, 0x1_8000]
        let expected: [Int64] = [0, 32767, 32767, 32767, 1, 0, 0, 0, -1, -32768, 2]
        #expect(Samples(format: .s32, integers: input).converted(to: .s16).integers == expected)
    }

    @Test("s24 → s16 rounds and saturates, by hand", arguments: [SampleFormat.s24, .s24Packed])
    func s24ToS16ByHand(format: SampleFormat) {
        let input: [Int64] = [0x7F_FFFF, 0x80, 0x7F, -0x80, -0x81, -0x80_0000, 0x7F_FF7F]
        let expected: [Int64] = [32767, 1, 0, 0, -1, -32768, 32767]
        #expect(Samples(format: format, integers: input).converted(to: .s16).integers == expected)
    }

    @Test("s16 widens exactly, by hand")
    func s16WidensByHand() {
        let input: [Int64] = [0, 1, -1, 32767, -32768]
        let s16 = Samples(format: .s16, integers: input)
        #expect(s16.converted(to: .s24).integers == [0, 256, -256, 32767 * 256, -32768 * 256])
        #expect(s16.converted(to: .s32).integers == [0, 65536, -65536, 32767 * 65536, -32768 * 65536])
        let expected: [Float] = [0, 1.0 / 32768, -1.0 / 32768, 32767.0 / 32768, -1]
        #expect(s16.converted(to: .float32).floats == expected)
    }

    @Test("float → integer clamps, rounds half to even, and maps NaN to 0, by hand")
    func floatToIntegerByHand() {
        let input: [Float] = [0, -0.0, 1, 1.5, -1, -2, .nan, .infinity, -.infinity, 0.5, 0.5 / 32768, 1.5 / 32768, -0.5 / 32768, 0.999_99]
        let s16 = Samples(floats: input).converted(to: .s16)
        #expect(s16.integers == [0, 0, 32767, 32767, -32768, -32768, 0, 32767, -32768, 16384, 0, 2, 0, 32767])
        let s32 = Samples(floats: [1, -1, 0.5, -0.5, 2, .nan]).converted(to: .s32)
        #expect(s32.integers == [Int64(Int32.max), Int64(Int32.min), 1 << 30, -(1 << 30), Int64(Int32.max), 0])
        let s24 = Samples(floats: [1, -1, 0.25]).converted(to: .s24Packed)
        #expect(s24.integers == [8_388_607, -8_388_608, 2_097_152])
    }

    @Test("every format pair matches the reference rules", arguments: SampleFormat.allCases, SampleFormat.allCases)
    func everyPair(from: SampleFormat, to: SampleFormat) {
        var random = TestRandom(seed: 42)
        let input: Samples
        if from == .float32 {
            var floats: [Float] = [0, 1, -1, 0.5, -0.5, 1.0001, -1.0001, 3, -3, .nan, .infinity, -.infinity]
            floats += [1 / 65536, 3 / 65536, -1 / 65536, 0.5 / 8_388_608, 1.5 / 8_388_608]
            for _ in 0..<2000 { floats.append(random.unit() * 1.1) }
            input = Samples(floats: floats)
        } else {
            var values = edgeValues(from)
            for _ in 0..<2000 { values.append(random.sample(from)) }
            input = Samples(format: from, integers: values)
        }
        let output = input.converted(to: to)
        if from == to {
            #expect(output.bytes == input.bytes)
            return
        }
        for i in 0..<input.count {
            switch (from, to) {
            case (.float32, .float32):
                break
            case (.float32, _):
                #expect(output[integer: i] == Reference.integer(input[float: i], to: to), "sample \(i): \(input[float: i])")
            case (_, .float32):
                #expect(output[float: i] == Reference.float(input[integer: i], from: from), "sample \(i)")
            default:
                #expect(
                    output[integer: i] == Reference.integer(input[integer: i], from: from, to: to),
                    "sample \(i): \(input[integer: i])")
            }
        }
    }

    @Test("lossless round trips are exact for every value tried", arguments: [
        (SampleFormat.s16, SampleFormat.s24), (.s16, .s24Packed), (.s16, .s32), (.s16, .float32),
        (.s24, .s24Packed), (.s24, .s32), (.s24, .float32), (.s24Packed, .s32), (.s24Packed, .float32),
    ])
    func roundTrips(narrow: SampleFormat, wide: SampleFormat) {
        var random = TestRandom(seed: 7)
        var values = edgeValues(narrow)
        if narrow == .s16 {
            values = (-32768...32767).map { Int64($0) }  // all of them
        } else {
            for _ in 0..<50_000 { values.append(random.sample(narrow)) }
        }
        let original = Samples(format: narrow, integers: values)
        let back = original.converted(to: wide).converted(to: narrow)
        #expect(back.bytes == original.bytes)
    }

    @Test("same-format conversion copies bytes unchanged, including s24's top byte and NaN payloads",
          arguments: SampleFormat.allCases)
    func sameFormatIsCopy(format: SampleFormat) {
        var random = TestRandom(seed: 3)
        var input = Samples(format: format, count: 999)
        for i in input.bytes.indices { input.bytes[i] = UInt8(truncatingIfNeeded: random.next() >> 40) }
        #expect(input.converted(to: format).bytes == input.bytes)
    }

    @Test("s24 in 4 bytes ignores the top byte on load and sign-extends on store")
    func s24TopByte() {
        var s24 = Samples(format: .s24, count: 2)
        s24.bytes = [0xFF, 0xFF, 0x7F, 0x12, 0x00, 0x00, 0x80, 0x00]
        #expect(s24.integers == [8_388_607, -8_388_608])
        let widened = s24.converted(to: .s32)
        #expect(widened.integers == [8_388_607 << 8, -8_388_608 << 8])
        let stored = Samples(format: .s32, integers: [-256]).converted(to: .s24)
        #expect(stored.bytes == [0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test("s24 packed is three little-endian bytes")
    func packedLayout() {
        let packed = Samples(format: .s24Packed, integers: [-2, 0x12_3456, -8_388_608])
        #expect(packed.bytes == [0xFE, 0xFF, 0xFF, 0x56, 0x34, 0x12, 0x00, 0x00, 0x80])
    }

    @Test("misaligned source and destination give the same result")
    func misaligned() {
        let input = Samples(format: .s32, integers: edgeValues(.s32))
        let aligned = input.converted(to: .s16)
        var source = [UInt8](repeating: 0, count: input.bytes.count + 1)
        source.replaceSubrange(1..., with: input.bytes)
        var target = [UInt8](repeating: 0, count: aligned.bytes.count + 3)
        source.withUnsafeBytes { s in
            target.withUnsafeMutableBytes { t in
                SampleConversion.convert(
                    UnsafeRawBufferPointer(rebasing: s[1...]), from: .s32,
                    into: UnsafeMutableRawBufferPointer(rebasing: t[3...]), as: .s16, samples: input.count)
            }
        }
        #expect(Array(target[3...]) == aligned.bytes)
    }

    @Test("silence is zero bytes in every format", arguments: SampleFormat.allCases)
    func silence(format: SampleFormat) {
        var buffer = [UInt8](repeating: 0x55, count: 10 * format.bytesPerSample + 2)
        buffer.withUnsafeMutableBytes { SampleConversion.silence($0, format: format, samples: 10) }
        #expect(buffer.prefix(10 * format.bytesPerSample).allSatisfy { $0 == 0 })
        #expect(buffer.suffix(2) == [0x55, 0x55])
        let values = Samples(format: format, count: 10)
        #expect(values.bytes.withUnsafeBytes { SampleRules.normalizedValue(of: format, at: $0.baseAddress!) } == 0)
    }
}
