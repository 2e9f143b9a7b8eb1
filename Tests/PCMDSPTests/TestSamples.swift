// Helpers shared by the PCMDSP tests: building interleaved sample buffers of any format from
// integer or float values, reading them back, and an independent reference for each conversion
// rule (written with Int64/Double arithmetic, not with the code under test).

import PCMBufferCore
@testable import PCMDSP

/// Bytes of samples in a given format.
struct Samples: Equatable {
    let format: SampleFormat
    var bytes: [UInt8]

    var count: Int { bytes.count / format.bytesPerSample }

    init(format: SampleFormat, count: Int) {
        self.format = format
        bytes = [UInt8](repeating: 0, count: count * format.bytesPerSample)
    }

    /// Integer samples (must fit the format).
    init(format: SampleFormat, integers: [Int64]) {
        self.init(format: format, count: integers.count)
        for (i, value) in integers.enumerated() { self[integer: i] = value }
    }

    /// Float samples.
    init(floats: [Float]) {
        self.init(format: .float32, count: floats.count)
        for (i, value) in floats.enumerated() { self[float: i] = value }
    }

    subscript(integer index: Int) -> Int64 {
        get {
            bytes.withUnsafeBytes { Int64(SampleRules.integerValue(of: format, at: $0.baseAddress! + index * format.bytesPerSample)!) }
        }
        set {
            precondition(SampleRules.integerRange(of: format)!.contains(Int32(newValue)))
            let size = format.bytesPerSample
            bytes.withUnsafeMutableBytes { SampleRules.storeInteger(Int32(newValue), as: format, to: $0.baseAddress! + index * size) }
        }
    }

    subscript(float index: Int) -> Float {
        get { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 4, as: Float.self) } }
        set { bytes.withUnsafeMutableBytes { $0.storeBytes(of: newValue, toByteOffset: index * 4, as: Float.self) } }
    }

    var integers: [Int64] { (0..<count).map { self[integer: $0] } }
    var floats: [Float] { (0..<count).map { self[float: $0] } }

    /// Converts with the code under test.
    func converted(to destination: SampleFormat) -> Samples {
        var out = Samples(format: destination, count: count)
        bytes.withUnsafeBytes { source in
            out.bytes.withUnsafeMutableBytes { target in
                SampleConversion.convert(source, from: format, into: target, as: destination, samples: count)
            }
        }
        return out
    }
}

/// Independent references for the conversion rules in docs/dsp.md.
enum Reference {
    static func bits(_ format: SampleFormat) -> Int { format.significantBits }

    /// Integer → integer: shift up exactly; shift down rounding half up, then saturate.
    static func integer(_ value: Int64, from: SampleFormat, to: SampleFormat) -> Int64 {
        let shift = bits(to) - bits(from)
        if shift >= 0 { return value << shift }
        let divisor = Int64(1) << -shift
        // floor(value / divisor + 1/2)
        let rounded = Int64((Double(value) / Double(divisor) + 0.5).rounded(.down))
        return min(rounded, (Int64(1) << (bits(to) - 1)) - 1)
    }

    /// Integer → float: value / 2^(bits-1), rounded once to float.
    static func float(_ value: Int64, from: SampleFormat) -> Float {
        Float(Double(value) / Double(Int64(1) << (bits(from) - 1)))
    }

    /// Float → integer: scale, round half to even, clamp; NaN is 0.
    static func integer(_ value: Float, to: SampleFormat) -> Int64 {
        if value.isNaN { return 0 }
        let full = Double(Int64(1) << (bits(to) - 1))
        let scaled = (Double(value) * full).rounded(.toNearestOrEven)
        return Int64(min(max(scaled, -full), full - 1))
    }
}

/// A deterministic pseudo-random generator so failures reproduce.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
    /// A value in the integer range of `format`.
    mutating func sample(_ format: SampleFormat) -> Int64 {
        let bits = format.significantBits
        return Int64(Int32(truncatingIfNeeded: next() >> 32)) >> (32 - bits)
    }
    /// A float in [-1, 1).
    mutating func unit() -> Float { Float(Int32(truncatingIfNeeded: next() >> 32)) / 2_147_483_648 }
}

/// The values every integer format's tests include: extremes, around zero, rounding boundaries.
func edgeValues(_ format: SampleFormat) -> [Int64] {
    let bits = format.significantBits
    let max = (Int64(1) << (bits - 1)) - 1
    let min = -(Int64(1) << (bits - 1))
    var values: [Int64] = [0, 1, -1, 2, -2, max, min, max - 1, min + 1, max / 2, min / 2]
    for shift in [8, 16] where shift < bits {
        let half = Int64(1) << (shift - 1)
        values += [half, half - 1, half + 1, -half, -half - 1, -half + 1, 3 * half, -3 * half]
        values += [max - half, max - half + 1, max - half - 1]
    }
    return values.filter { $0 >= min && $0 <= max }
}
