// Bulk sample-format conversion between every pair of pcmd's formats, over raw memory, without
// allocating. The per-sample rules live in SampleRules; this file turns them into one
// specialised loop per format pair (a switch picks the loop once per call, never per sample).

import PCMBufferCore

/// Converting runs of samples between sample formats. All functions work on caller memory, never
/// allocate, and may run on any thread. Same-format conversions are byte-exact copies.
public enum SampleConversion {
    /// Converts `samples` contiguous samples (frames × channels) from `source`, holding
    /// `sourceFormat`, into `destination` as `destinationFormat`.
    /// - Precondition: both buffers hold at least `samples` samples of their format.
    public static func convert(
        _ source: UnsafeRawBufferPointer, from sourceFormat: SampleFormat,
        into destination: UnsafeMutableRawBufferPointer, as destinationFormat: SampleFormat,
        samples: Int
    ) {
        precondition(samples >= 0, "negative sample count")
        precondition(source.count >= samples * sourceFormat.bytesPerSample, "source holds fewer samples than asked")
        precondition(
            destination.count >= samples * destinationFormat.bytesPerSample, "destination holds fewer samples than asked")
        guard samples > 0, let from = source.baseAddress, let to = destination.baseAddress else { return }
        if sourceFormat == destinationFormat {
            to.copyMemory(from: from, byteCount: samples * sourceFormat.bytesPerSample)
            return
        }
        convertStrided(
            from: from, sourceFormat, stride: sourceFormat.bytesPerSample,
            to: to, destinationFormat, stride: destinationFormat.bytesPerSample, count: samples)
    }

    /// Converts `count` samples spaced `sourceStride` bytes apart into samples spaced
    /// `destinationStride` bytes apart: one channel of an interleaved buffer into one channel
    /// of another. Same-format conversions copy the bytes unchanged.
    static func convertStrided(
        from source: UnsafeRawPointer, _ sourceFormat: SampleFormat, stride sourceStride: Int,
        to destination: UnsafeMutableRawPointer, _ destinationFormat: SampleFormat, stride destinationStride: Int,
        count: Int
    ) {
        switch (sourceFormat, destinationFormat) {
        case (.float32, .float32):
            copyFloats(source, sourceStride, destination, destinationStride, count)
        case (.float32, _):
            switch destinationFormat {
            case .s16: fromFloat(S16Codec.self, source, sourceStride, destination, destinationStride, count)
            case .s24: fromFloat(S24Codec.self, source, sourceStride, destination, destinationStride, count)
            case .s24Packed: fromFloat(S24PackedCodec.self, source, sourceStride, destination, destinationStride, count)
            case .s32: fromFloat(S32Codec.self, source, sourceStride, destination, destinationStride, count)
            case .float32: preconditionFailure("handled above")
            }
        case (_, .float32):
            switch sourceFormat {
            case .s16: toFloat(S16Codec.self, source, sourceStride, destination, destinationStride, count)
            case .s24: toFloat(S24Codec.self, source, sourceStride, destination, destinationStride, count)
            case .s24Packed: toFloat(S24PackedCodec.self, source, sourceStride, destination, destinationStride, count)
            case .s32: toFloat(S32Codec.self, source, sourceStride, destination, destinationStride, count)
            case .float32: preconditionFailure("handled above")
            }
        default:
            switch sourceFormat {
            case .s16: integerFrom(S16Codec.self, source, sourceStride, destinationFormat, destination, destinationStride, count)
            case .s24: integerFrom(S24Codec.self, source, sourceStride, destinationFormat, destination, destinationStride, count)
            case .s24Packed:
                integerFrom(S24PackedCodec.self, source, sourceStride, destinationFormat, destination, destinationStride, count)
            case .s32: integerFrom(S32Codec.self, source, sourceStride, destinationFormat, destination, destinationStride, count)
            case .float32: preconditionFailure("handled above")
            }
        }
    }

    /// Writes silence (all-zero bytes, which is silence in every format) over `samples` samples.
    public static func silence(_ destination: UnsafeMutableRawBufferPointer, format: SampleFormat, samples: Int) {
        precondition(destination.count >= samples * format.bytesPerSample, "destination holds fewer samples than asked")
        guard samples > 0, let base = destination.baseAddress else { return }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: samples * format.bytesPerSample)
    }

    // MARK: Loops, one specialisation per format pair

    private static func copyFloats(
        _ source: UnsafeRawPointer, _ sourceStride: Int,
        _ destination: UnsafeMutableRawPointer, _ destinationStride: Int, _ count: Int
    ) {
        for i in 0..<count {
            let bits = source.loadUnaligned(fromByteOffset: i * sourceStride, as: UInt32.self)
            destination.storeBytes(of: bits, toByteOffset: i * destinationStride, as: UInt32.self)
        }
    }

    private static func integerFrom<Source: IntegerSampleCodec>(
        _ codec: Source.Type, _ source: UnsafeRawPointer, _ sourceStride: Int, _ destinationFormat: SampleFormat,
        _ destination: UnsafeMutableRawPointer, _ destinationStride: Int, _ count: Int
    ) {
        switch destinationFormat {
        case .s16: integerLoop(codec, S16Codec.self, source, sourceStride, destination, destinationStride, count)
        case .s24: integerLoop(codec, S24Codec.self, source, sourceStride, destination, destinationStride, count)
        case .s24Packed: integerLoop(codec, S24PackedCodec.self, source, sourceStride, destination, destinationStride, count)
        case .s32: integerLoop(codec, S32Codec.self, source, sourceStride, destination, destinationStride, count)
        case .float32: preconditionFailure("integer targets only")
        }
    }

    private static func integerLoop<Source: IntegerSampleCodec, Destination: IntegerSampleCodec>(
        _ source: Source.Type, _ destination: Destination.Type,
        _ input: UnsafeRawPointer, _ inputStride: Int,
        _ output: UnsafeMutableRawPointer, _ outputStride: Int, _ count: Int
    ) {
        // Contiguous runs get a loop whose strides are constants, which the vectoriser handles.
        if inputStride == Source.bytes && outputStride == Destination.bytes {
            for i in 0..<count {
                let value = Source.load(input + i * Source.bytes)
                Destination.store(SampleRules.integer(value, from: Source.self, to: Destination.self), to: output + i * Destination.bytes)
            }
            return
        }
        for i in 0..<count {
            let value = Source.load(input + i * inputStride)
            Destination.store(SampleRules.integer(value, from: Source.self, to: Destination.self), to: output + i * outputStride)
        }
    }

    private static func toFloat<Source: IntegerSampleCodec>(
        _ source: Source.Type, _ input: UnsafeRawPointer, _ inputStride: Int,
        _ output: UnsafeMutableRawPointer, _ outputStride: Int, _ count: Int
    ) {
        if inputStride == Source.bytes && outputStride == 4 {
            for i in 0..<count {
                let value = SampleRules.float(Source.load(input + i * Source.bytes), from: Source.self)
                output.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
            }
            return
        }
        for i in 0..<count {
            let value = SampleRules.float(Source.load(input + i * inputStride), from: Source.self)
            output.storeBytes(of: value, toByteOffset: i * outputStride, as: Float.self)
        }
    }

    private static func fromFloat<Destination: IntegerSampleCodec>(
        _ destination: Destination.Type, _ input: UnsafeRawPointer, _ inputStride: Int,
        _ output: UnsafeMutableRawPointer, _ outputStride: Int, _ count: Int
    ) {
        if inputStride == 4 && outputStride == Destination.bytes {
            for i in 0..<count {
                let value = input.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
                Destination.store(SampleRules.integer(value, to: Destination.self), to: output + i * Destination.bytes)
            }
            return
        }
        for i in 0..<count {
            let value = input.loadUnaligned(fromByteOffset: i * inputStride, as: Float.self)
            Destination.store(SampleRules.integer(value, to: Destination.self), to: output + i * outputStride)
        }
    }
}
