// Loading and storing one little-endian sample of each integer format, as a plain Int32 in the
// format's own range. Every conversion, the mixer and the tests go through these, so the byte
// layouts (in particular the two 24-bit ones) are written down exactly once.

import PCMBufferCore

#if _endian(big)
#error("PCMDSP stores samples with native loads and stores; big-endian hosts are not supported")
#endif

/// One integer sample format: how many significant bits, how many bytes, and how to move a
/// sample between memory and an Int32 holding its value (not left-justified).
protocol IntegerSampleCodec {
    /// Significant bits (16, 24 or 32).
    static var bits: Int { get }
    /// Bytes one sample occupies in memory.
    static var bytes: Int { get }
    /// The sample at `pointer` (no alignment required).
    static func load(_ pointer: UnsafeRawPointer) -> Int32
    /// Stores `value`, which must lie in the format's range, at `pointer`.
    static func store(_ value: Int32, to pointer: UnsafeMutableRawPointer)
}

extension IntegerSampleCodec {
    /// The largest sample value, 2^(bits-1) - 1.
    @inline(__always) static var maximum: Int32 { Int32(truncatingIfNeeded: (Int64(1) << (bits - 1)) - 1) }
    /// The smallest sample value, -2^(bits-1).
    @inline(__always) static var minimum: Int32 { Int32(truncatingIfNeeded: -(Int64(1) << (bits - 1))) }
}

/// Signed 16-bit.
enum S16Codec: IntegerSampleCodec {
    static var bits: Int { 16 }
    static var bytes: Int { 2 }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Int32 {
        Int32(pointer.loadUnaligned(as: Int16.self))
    }
    @inline(__always) static func store(_ value: Int32, to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: Int16(truncatingIfNeeded: value), as: Int16.self)
    }
}

/// Signed 24-bit in the low three bytes of four (ALSA S24_LE). The top byte is ignored on load,
/// as ALSA drivers ignore it, and written as the sign extension on store.
enum S24Codec: IntegerSampleCodec {
    static var bits: Int { 24 }
    static var bytes: Int { 4 }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Int32 {
        (pointer.loadUnaligned(as: Int32.self) << 8) >> 8
    }
    @inline(__always) static func store(_ value: Int32, to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: value, as: Int32.self)
    }
}

/// Signed 24-bit packed in three bytes (ALSA S24_3LE).
enum S24PackedCodec: IntegerSampleCodec {
    static var bits: Int { 24 }
    static var bytes: Int { 3 }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Int32 {
        let low = UInt32(pointer.loadUnaligned(as: UInt16.self))
        let high = UInt32(pointer.load(fromByteOffset: 2, as: UInt8.self))
        return Int32(bitPattern: (low << 8) | (high << 24)) >> 8
    }
    @inline(__always) static func store(_ value: Int32, to pointer: UnsafeMutableRawPointer) {
        let bits = UInt32(bitPattern: value)
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: bits), as: UInt16.self)
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: bits >> 16), toByteOffset: 2, as: UInt8.self)
    }
}

/// Signed 32-bit.
enum S32Codec: IntegerSampleCodec {
    static var bits: Int { 32 }
    static var bytes: Int { 4 }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Int32 {
        pointer.loadUnaligned(as: Int32.self)
    }
    @inline(__always) static func store(_ value: Int32, to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: value, as: Int32.self)
    }
}

/// The rules for moving one sample between formats, shared by the bulk converters, the mixer
/// and the tests. See docs/dsp.md for why each rule is what it is.
public enum SampleRules {
    /// Integer → integer. Widening shifts left and is exact. Narrowing rounds to nearest (ties
    /// toward +∞: add half of the dropped range, then shift) and saturates, so the largest
    /// source values, which would round up past the top, become the destination's maximum.
    @inline(__always)
    static func integer<Source: IntegerSampleCodec, Destination: IntegerSampleCodec>(
        _ value: Int32, from _: Source.Type, to _: Destination.Type
    ) -> Int32 {
        let shift = Destination.bits - Source.bits
        if shift >= 0 { return value << shift }
        let drop = -shift
        // (value >> drop) plus the highest dropped bit: rounding without the overflow that
        // adding half first would cause for the largest s32 values.
        let rounded = (value >> drop) + ((value >> (drop - 1)) & 1)
        return min(rounded, Destination.maximum)
    }

    /// Integer → float: full scale becomes ±1.0 (the minimum is exactly -1.0; the maximum is
    /// 1 - 2^-(bits-1)). Exact for 16 and 24 bits; 32-bit values round to float's 24-bit mantissa.
    @inline(__always)
    static func float<Source: IntegerSampleCodec>(_ value: Int32, from _: Source.Type) -> Float {
        Float(value) * (1 / Float(Int64(1) << (Source.bits - 1)))
    }

    /// Float → integer: scaled by 2^(bits-1), rounded to nearest (ties to even), clamped to the
    /// format's range (so 1.0 and above give the maximum, -1.0 and below the minimum), and NaN
    /// gives 0 (silence rather than a full-scale click).
    @inline(__always)
    static func integer<Destination: IntegerSampleCodec>(_ value: Float, to _: Destination.Type) -> Int32 {
        // In Double, value × 2^(bits-1) is exact, so the only rounding is the final one.
        let scaled = Double(value) * Double(Int64(1) << (Destination.bits - 1))
        let finite = scaled == scaled ? scaled : 0
        let clamped = min(max(finite, Double(Destination.minimum)), Double(Destination.maximum))
        return MixKernels.roundedInteger(clamped)
    }
}

extension SampleRules {
    /// The value a sample of `format` at `pointer` represents, as a Double on the ±1.0 scale.
    /// Slow (it switches per sample); for tests and diagnostics, not for bulk work.
    public static func normalizedValue(of format: SampleFormat, at pointer: UnsafeRawPointer) -> Double {
        switch format {
        case .s16: Double(S16Codec.load(pointer)) / 32768
        case .s24: Double(S24Codec.load(pointer)) / 8_388_608
        case .s24Packed: Double(S24PackedCodec.load(pointer)) / 8_388_608
        case .s32: Double(S32Codec.load(pointer)) / 2_147_483_648
        case .float32: Double(pointer.loadUnaligned(as: Float.self))
        }
    }

    /// The integer value of a sample of an integer `format` at `pointer` (nil for float32).
    public static func integerValue(of format: SampleFormat, at pointer: UnsafeRawPointer) -> Int32? {
        switch format {
        case .s16: S16Codec.load(pointer)
        case .s24: S24Codec.load(pointer)
        case .s24Packed: S24PackedCodec.load(pointer)
        case .s32: S32Codec.load(pointer)
        case .float32: nil
        }
    }

    /// Stores an integer sample `value` (which must be in `format`'s range) as `format`.
    /// - Precondition: `format` is an integer format.
    public static func storeInteger(_ value: Int32, as format: SampleFormat, to pointer: UnsafeMutableRawPointer) {
        switch format {
        case .s16: S16Codec.store(value, to: pointer)
        case .s24: S24Codec.store(value, to: pointer)
        case .s24Packed: S24PackedCodec.store(value, to: pointer)
        case .s32: S32Codec.store(value, to: pointer)
        case .float32: preconditionFailure("storeInteger needs an integer format")
        }
    }

    /// The range of integer sample values of `format` (nil for float32).
    public static func integerRange(of format: SampleFormat) -> ClosedRange<Int32>? {
        switch format {
        case .s16: S16Codec.minimum...S16Codec.maximum
        case .s24: S24Codec.minimum...S24Codec.maximum
        case .s24Packed: S24PackedCodec.minimum...S24PackedCodec.maximum
        case .s32: S32Codec.minimum...S32Codec.maximum
        case .float32: nil
        }
    }
}
