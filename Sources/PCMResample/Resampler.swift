// A streaming, band-limited sample-rate converter: an owned libsoxr stream, created in the client
// when it opens a stream at another rate than the device's, and fed float32 frames as the
// application writes or reads them. Why libsoxr, and what its quality and cost are, is in
// docs/dsp.md.

import CSoxr
import PCMBufferCore

/// Why a resampler could not be created.
public enum ResamplerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A rate or channel count outside what pcmd accepts.
    case invalidParameters(String)
    /// libsoxr refused to create the stream; its message.
    case creationFailed(String)

    public var description: String {
        switch self {
        case .invalidParameters(let reason): "resampler: invalid parameters: \(reason)"
        case .creationFailed(let reason): "resampler: libsoxr: \(reason)"
        }
    }
}

/// A streaming resampler for interleaved float32 frames. Noncopyable: it owns a libsoxr stream,
/// deleted in `deinit`.
///
/// Feed it with `process(_:into:)` as input arrives and at the end call `drain(into:)` until it
/// returns zero. libsoxr is created single-threaded (no OpenMP pool inside a client, or, through
/// the ALSA plugin, inside an application). Not Sendable: one stream's resampler is used by that
/// stream's one writer or reader.
public struct Resampler: ~Copyable {
    /// libsoxr's quality recipes (see soxr.h). pcmd uses `.high` unless told otherwise.
    public enum Quality: Sendable, CaseIterable {
        /// Cubic interpolation: not band-limited. Only for tests of the others.
        case quick
        /// 16-bit precision, larger roll-off.
        case low
        /// 16-bit precision, medium roll-off.
        case medium
        /// 20-bit precision (about 120 dB stopband), passband to 91.3 % of Nyquist. The default.
        case high
        /// 28-bit precision (about 170 dB); roughly twice the CPU of `.high`.
        case veryHigh

        var recipe: UInt {
            switch self {
            case .quick: UInt(SOXR_QQ)
            case .low: UInt(SOXR_LQ)
            case .medium: UInt(SOXR_MQ)
            case .high: UInt(SOXR_20_BITQ)
            case .veryHigh: UInt(SOXR_28_BITQ)
            }
        }
    }

    /// Rates pcmd resamples between.
    public static let rates = 1000...768_000

    /// Input frames per second.
    public let inputRate: Int
    /// Output frames per second.
    public let outputRate: Int
    /// Interleaved channels in both input and output.
    public let channels: Int
    /// The recipe it was created with.
    public let quality: Quality
    private let stream: soxr_t

    /// Creates the libsoxr stream. Allocates (filter tables); do it when the client stream opens.
    /// - Throws: `.invalidParameters` for rates outside `rates` or channels outside 1...64;
    ///   `.creationFailed` with libsoxr's message if it refuses.
    public init(inputRate: Int, outputRate: Int, channels: Int, quality: Quality = .high) throws(ResamplerError) {
        guard Self.rates.contains(inputRate), Self.rates.contains(outputRate) else {
            throw .invalidParameters("rates \(inputRate) → \(outputRate) Hz outside \(Self.rates)")
        }
        guard (1...64).contains(channels) else {
            throw .invalidParameters("\(channels) channels outside 1...64")
        }
        var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var recipe = soxr_quality_spec(quality.recipe, 0)
        var runtime = soxr_runtime_spec(1)
        var error: soxr_error_t? = nil
        let created = soxr_create(Double(inputRate), Double(outputRate), UInt32(channels), &error, &io, &recipe, &runtime)
        guard let created, error == nil else {
            if let created { soxr_delete(created) }
            throw .creationFailed(error.map { String(cString: $0) } ?? "unknown error")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.channels = channels
        self.quality = quality
        stream = created
    }

    deinit {
        soxr_delete(stream)
    }

    /// The most output frames `inputFrames` input frames can produce in one call (what libsoxr
    /// has buffered from earlier input included, rounded up generously). Size output buffers by it.
    public func maxOutputFrames(forInput inputFrames: FrameCount) -> FrameCount {
        let scaled = (inputFrames.value * outputRate + inputRate - 1) / inputRate
        return FrameCount(scaled + 64)
    }

    /// Resamples `input` (whole frames of `channels` interleaved floats) into `output`. Returns
    /// the input frames consumed and the output frames written: all input is consumed when
    /// `output` has room for `maxOutputFrames(forInput:)`; otherwise pass the rest again.
    /// libsoxr holds back about `delay` frames (its filter length) until more input or `drain`.
    public func process(
        _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
    ) -> (consumed: FrameCount, produced: FrameCount) {
        precondition(input.count % channels == 0 && output.count % channels == 0, "buffers must hold whole frames")
        guard input.count > 0 else { return (.zero, .zero) }
        var consumed = 0
        var produced = 0
        // A non-nil input pointer even when empty: nil means end of input to libsoxr.
        let error = soxr_process(
            stream, input.baseAddress, input.count / channels, &consumed,
            output.baseAddress, output.count / channels, &produced)
        // libsoxr only reports errors for misuse (which the preconditions exclude) or failed
        // allocation, which leaves nothing sensible to do.
        precondition(error == nil, "soxr_process: \(String(cString: error!))")
        return (FrameCount(consumed), FrameCount(produced))
    }

    /// Signals the end of the input and writes what libsoxr still holds. Call until it returns
    /// zero; afterwards the resampler needs `reset()` before new input.
    public func drain(into output: UnsafeMutableBufferPointer<Float>) -> FrameCount {
        precondition(output.count % channels == 0, "buffers must hold whole frames")
        var consumed = 0
        var produced = 0
        let error = soxr_process(stream, nil, 0, &consumed, output.baseAddress, output.count / channels, &produced)
        precondition(error == nil, "soxr_process: \(String(cString: error!))")
        return FrameCount(produced)
    }

    /// Forgets all buffered input, ready for an unrelated signal (a seek, a new track).
    public func reset() {
        let error = soxr_clear(stream)
        precondition(error == nil, "soxr_clear: \(String(cString: error!))")
    }

    /// Output frames' worth of signal held inside libsoxr: the resampler's latency.
    public var delay: Double { soxr_delay(stream) }
}
