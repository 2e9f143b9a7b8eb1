// The inner loops of the mixer: one specialised loop per sample format for adding a stream into
// the Double accumulator and for rounding, saturating and storing the result. Kept apart from
// Mixer so the bookkeeping there stays readable and these stay tight enough to vectorise.

import PCMBufferCore

/// Mixer inner loops. Every function is allocation-free and branch-free per sample except for
/// the clamps, which compile to min/max.
enum MixKernels {
    /// Adds `gain ×` the first `adding` samples at `source` into `accumulator`, then stores
    /// `gain ×` the next `storing` samples into the accumulator (the part no stream has touched
    /// yet this period).
    static func accumulate(
        _ format: SampleFormat, from source: UnsafeRawPointer, into accumulator: UnsafeMutablePointer<Double>,
        adding: Int, storing: Int, gain: Double
    ) {
        switch format {
        case .s16: integerAccumulate(S16Codec.self, source, accumulator, adding, storing, gain)
        case .s24: integerAccumulate(S24Codec.self, source, accumulator, adding, storing, gain)
        case .s24Packed: integerAccumulate(S24PackedCodec.self, source, accumulator, adding, storing, gain)
        case .s32: integerAccumulate(S32Codec.self, source, accumulator, adding, storing, gain)
        case .float32: floatAccumulate(source, accumulator, adding, storing, gain)
        }
    }

    /// Scales `samples` accumulated samples by `gain`, rounds, saturates and stores them in `format`.
    static func store(
        _ format: SampleFormat, from accumulator: UnsafeMutablePointer<Double>, into destination: UnsafeMutableRawPointer,
        samples: Int, gain: Double
    ) {
        switch format {
        case .s16: integerStore(S16Codec.self, accumulator, destination, samples, gain)
        case .s24: integerStore(S24Codec.self, accumulator, destination, samples, gain)
        case .s24Packed: integerStore(S24PackedCodec.self, accumulator, destination, samples, gain)
        case .s32: integerStore(S32Codec.self, accumulator, destination, samples, gain)
        case .float32: floatStore(accumulator, destination, samples, gain)
        }
    }

    // MARK: Integer formats

    private static func integerAccumulate<Codec: IntegerSampleCodec>(
        _ codec: Codec.Type, _ source: UnsafeRawPointer, _ acc: UnsafeMutablePointer<Double>,
        _ adding: Int, _ storing: Int, _ gain: Double
    ) {
        let size = Codec.bytes
        // The part past what other streams filled starts at its own base pointers, so both
        // loops have the same simple shape (index from 0), which the vectoriser needs.
        let tailSource = source + adding * size
        let tail = acc + adding
        // Unity gets its own loops: no multiply, and the sum stays an exact integer.
        if gain == 1 {
            for i in 0..<adding { acc[i] += Double(Codec.load(source + i * size)) }
            for i in 0..<storing { tail[i] = Double(Codec.load(tailSource + i * size)) }
        } else {
            for i in 0..<adding { acc[i] += Double(Codec.load(source + i * size)) * gain }
            for i in 0..<storing { tail[i] = Double(Codec.load(tailSource + i * size)) * gain }
        }
    }

    private static func integerStore<Codec: IntegerSampleCodec>(
        _ codec: Codec.Type, _ acc: UnsafeMutablePointer<Double>, _ destination: UnsafeMutableRawPointer,
        _ samples: Int, _ gain: Double
    ) {
        let size = Codec.bytes
        let upper = Double(Codec.maximum)
        let lower = Double(Codec.minimum)
        // Clamping first keeps every value inside ±2^31, where roundedInteger is exact; integer
        // accumulators never hold NaN (integers times a finite gain).
        if gain == 1 {
            for i in 0..<samples {
                Codec.store(roundedInteger(min(max(acc[i], lower), upper)), to: destination + i * size)
            }
        } else {
            for i in 0..<samples {
                Codec.store(roundedInteger(min(max(acc[i] * gain, lower), upper)), to: destination + i * size)
            }
        }
    }

    /// `x` rounded to nearest, ties to even, as an Int32, for |x| ≤ 2^31. Adding 1.5 · 2^52
    /// makes the FPU round to an integer and leaves that integer, in two's complement, in the
    /// low bits of the sum's bit pattern. Unlike `Int32(x.rounded())` this has no range check
    /// and no libm call (x86-64 without SSE4.1 has no rounding instruction), so loops using it
    /// vectorise.
    @inline(__always)
    static func roundedInteger(_ x: Double) -> Int32 {
        Int32(truncatingIfNeeded: (x + 6_755_399_441_055_744.0).bitPattern)
    }

    // MARK: Float

    private static func floatAccumulate(
        _ source: UnsafeRawPointer, _ acc: UnsafeMutablePointer<Double>, _ adding: Int, _ storing: Int, _ gain: Double
    ) {
        for i in 0..<adding {
            let x = Double(source.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
            // x != x only for NaN; a NaN from one client must not silence everyone's sum.
            acc[i] += (x == x ? x : 0) * gain
        }
        let tailSource = source + adding * 4
        let tail = acc + adding
        for i in 0..<storing {
            let x = Double(tailSource.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
            tail[i] = (x == x ? x : 0) * gain
        }
    }

    private static func floatStore(
        _ acc: UnsafeMutablePointer<Double>, _ destination: UnsafeMutableRawPointer, _ samples: Int, _ gain: Double
    ) {
        for i in 0..<samples {
            let x = acc[i] * gain
            // Infinite inputs of opposite sign sum to NaN; that too becomes silence.
            let clamped = x == x ? min(max(x, -1), 1) : 0
            destination.storeBytes(of: Float(clamped), toByteOffset: i * 4, as: Float.self)
        }
    }
}
