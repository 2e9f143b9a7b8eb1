// PeakMeter, which `pcmctl top` shows and the audio thread runs while someone watches: the
// largest magnitude as a fraction of full scale in every sample format, the most negative sample
// included (its magnitude does not fit the format), float samples beyond ±1 and NaN, an empty
// buffer and a trailing partial sample.
import PCMBufferCore
@testable import PCMDSP
import Testing

@Suite("PeakMeter: peak levels in every format")
struct PeakMeterTests {
    func peak(_ bytes: [UInt8], _ format: SampleFormat) -> Float {
        bytes.withUnsafeBytes { PeakMeter.peak($0, format: format) }
    }

    func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    @Test("s16: half scale, the most negative sample, silence")
    func s16() {
        #expect(peak(bytes([Int16(0), 16_384, -100]), .s16) == 0.5)
        #expect(peak(bytes([Int16.min, 5]), .s16) == 1)
        #expect(peak(bytes([Int16](repeating: 0, count: 8)), .s16) == 0)
    }

    @Test("s24 in four bytes ignores the top byte; s24_3 packed; s32 at its minimum")
    func wideIntegers() {
        // 0x00400000 is half of 2^23; the top byte (0x7F) is not part of the sample.
        #expect(peak(bytes([UInt32(0x7F40_0000)]), .s24) == 0.5)
        #expect(peak([0x00, 0x00, 0x80, 0x00, 0x00, 0x40], .s24Packed) == 1, "-2^23, then +2^22")
        #expect(peak(bytes([Int32.min, 1]), .s32) == 1)
        #expect(peak(bytes([Int32(1 << 29)]), .s32) == 0.25)
    }

    @Test("float: magnitudes, clipped at full scale; NaN reads as nothing")
    func float32() {
        #expect(peak(bytes([Float(-0.75), 0.25]), .float32) == 0.75)
        #expect(peak(bytes([Float(3), -0.5]), .float32) == 1)
        #expect(peak(bytes([Float.nan, 0.125]), .float32) == 0.125)
        #expect(peak(bytes([-Float.infinity]), .float32) == 1)
    }

    @Test("an empty buffer is silence; a trailing partial sample is ignored")
    func edges() {
        #expect(peak([], .s16) == 0)
        #expect(peak(bytes([Int16(8_192)]) + [0xFF], .s16) == 0.25)
        #expect(peak([0xFF, 0xFF, 0x7F], .s32) == 0, "three bytes are no s32 sample")
    }
}
