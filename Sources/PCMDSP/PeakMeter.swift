// The peak level of a stretch of interleaved samples, for `pcmctl top`: the largest magnitude
// of any sample, as a fraction of full scale (0 silence, 1 full scale). The audio thread runs it
// once per wake over what it mixed or captured, and over each stream it took frames from, so it
// allocates nothing and reads every sample once through the format's own codec.
import PCMBufferCore

/// Peak levels of sample buffers.
public enum PeakMeter {
    /// The largest |sample| in `bytes` (whole samples of `format`; a trailing partial sample is
    /// ignored) as a fraction of full scale, 0...1. Float samples beyond ±1 read as 1; NaN as 0.
    public static func peak(_ bytes: UnsafeRawBufferPointer, format: SampleFormat) -> Float {
        guard let base = bytes.baseAddress else { return 0 }
        switch format {
        case .s16: return integerPeak(base, count: bytes.count / 2, codec: S16Codec.self)
        case .s24: return integerPeak(base, count: bytes.count / 4, codec: S24Codec.self)
        case .s24Packed: return integerPeak(base, count: bytes.count / 3, codec: S24PackedCodec.self)
        case .s32: return integerPeak(base, count: bytes.count / 4, codec: S32Codec.self)
        case .float32:
            var largest: Float = 0
            for index in 0..<(bytes.count / 4) {
                let value = abs(base.loadUnaligned(fromByteOffset: index * 4, as: Float.self))
                if value > largest { largest = value }  // NaN never compares greater
            }
            return min(largest, 1)
        }
    }

    @inline(__always)
    private static func integerPeak<Codec: IntegerSampleCodec>(_ base: UnsafeRawPointer, count: Int, codec: Codec.Type) -> Float {
        // Magnitudes as UInt32: |Int32.min| does not fit an Int32.
        var largest: UInt32 = 0
        for index in 0..<count {
            let value = Codec.load(base + index * Codec.bytes)
            let magnitude = value.magnitude
            if magnitude > largest { largest = magnitude }
        }
        return min(Float(Double(largest) / Double(UInt64(1) << (Codec.bits - 1))), 1)
    }
}
