// The whole client-side path from an application's frames to the device's: sample format,
// channels and rate, composed from FormatConverter and Resampler and preallocated when the stream
// opens, so a client holds one object per stream and writes (reads) its shared ring in the
// device's layout, which the daemon mixes as it is.

import PCMBufferCore
import PCMDSP

/// Converts a client stream (layout and rate) to the device's (layout and rate), in either
/// direction (playback: client → device; capture: device → client). Noncopyable: it owns scratch
/// memory and possibly a libsoxr stream. Not Sendable: it belongs to its stream's one writer or reader.
///
/// With equal rates it is a `FormatConverter` alone (bit-exact for equal layouts). Otherwise the
/// frames go to float32, are resampled with as few channels as possible (channel reduction before
/// the resampler, channel expansion after it), and are converted to the output layout.
public struct StreamConverter: ~Copyable {
    /// The layout read.
    public let input: FrameLayout
    /// The rate read.
    public let inputRate: Int
    /// The layout written.
    public let output: FrameLayout
    /// The rate written.
    public let outputRate: Int
    /// The most input frames one `process` call may take.
    public let maxInputFrames: FrameCount
    /// The most output frames one `process` or `drain` call can write: size output buffers by it.
    public let maxOutputFrames: FrameCount
    private let path: Path

    /// The two shapes of the path, fixed when the stream opens.
    private enum Path: ~Copyable {
        /// Equal rates: format and channel conversion only.
        case direct(FormatConverter)
        /// Different rates: to float, resample, to the output layout.
        case resampling(ResamplingPath)
    }

    /// Builds the path and allocates everything it needs.
    /// - Throws: `ResamplerError` if the rates cannot be resampled between.
    public init(
        from input: FrameLayout, rate inputRate: Int, to output: FrameLayout, rate outputRate: Int,
        maxInputFrames: FrameCount, quality: Resampler.Quality = .high
    ) throws(ResamplerError) {
        precondition(maxInputFrames.value > 0, "maxInputFrames must be positive")
        self.input = input
        self.inputRate = inputRate
        self.output = output
        self.outputRate = outputRate
        self.maxInputFrames = maxInputFrames
        if inputRate == outputRate {
            maxOutputFrames = maxInputFrames
            path = .direct(FormatConverter(from: input, to: output, maxFrames: maxInputFrames))
        } else {
            let resampling = try ResamplingPath(
                from: input, rate: inputRate, to: output, rate: outputRate, maxInputFrames: maxInputFrames,
                quality: quality)
            maxOutputFrames = resampling.capacity
            path = .resampling(resampling)
        }
    }

    /// Whether a resampler is in the path.
    public var resamples: Bool { inputRate != outputRate }

    /// Frames of output-rate signal held inside the resampler (0 without one).
    public var delay: Double {
        switch path {
        case .direct: 0
        case .resampling(let resampling): resampling.resampler.delay
        }
    }

    /// Converts `frames` input frames from `source` into `destination`, consuming all of them,
    /// and returns the output frames written (with a resampler, not exactly frames × ratio:
    /// libsoxr releases output in blocks). Allocates nothing in pcmd's code.
    /// - Precondition: `frames <= maxInputFrames`; `destination` has room for `maxOutputFrames`.
    public func process(
        _ source: UnsafeRawBufferPointer, frames: FrameCount, into destination: UnsafeMutableRawBufferPointer
    ) -> FrameCount {
        precondition(frames.value >= 0 && frames.value <= maxInputFrames.value, "frames outside 0...maxInputFrames")
        switch path {
        case .direct(let converter):
            converter.convert(source, into: destination, frames: frames)
            return frames
        case .resampling(let resampling):
            return resampling.process(source, frames: frames, into: destination)
        }
    }

    /// At the end of the input, writes what the resampler still holds into `destination`
    /// (room for `maxOutputFrames`). Call until it returns zero. Nothing to do without resampling.
    public func drain(into destination: UnsafeMutableRawBufferPointer) -> FrameCount {
        switch path {
        case .direct: .zero
        case .resampling(let resampling): resampling.drain(into: destination)
        }
    }

    /// Forgets buffered signal (after a seek or a flush), keeping the configuration.
    public func reset() {
        switch path {
        case .direct: break
        case .resampling(let resampling): resampling.resampler.reset()
        }
    }
}

/// Input layout → float32 (fewest channels) → Resampler → output layout, with its scratch.
struct ResamplingPath: ~Copyable {
    let before: FormatConverter
    let resampler: Resampler
    let after: FormatConverter
    /// Output frames one call can produce.
    let capacity: FrameCount
    private let toResample: UnsafeMutablePointer<Float>
    private let resampled: UnsafeMutablePointer<Float>

    init(
        from input: FrameLayout, rate inputRate: Int, to output: FrameLayout, rate outputRate: Int,
        maxInputFrames: FrameCount, quality: Resampler.Quality
    ) throws(ResamplerError) {
        let channels = min(input.channels, output.channels)
        let resampler = try Resampler(inputRate: inputRate, outputRate: outputRate, channels: channels, quality: quality)
        let middle = FrameLayout(format: .float32, channels: channels)
        // The standard matrix between the outer channel counts, applied on whichever side of
        // the resampler has fewer channels.
        let matrix = ChannelMatrix.standard(from: input.channels, to: output.channels)
        capacity = resampler.maxOutputFrames(forInput: maxInputFrames)
        if input.channels > output.channels {
            before = FormatConverter(from: input, to: middle, maxFrames: maxInputFrames, matrix: matrix)
            after = FormatConverter(from: middle, to: output, maxFrames: capacity)
        } else {
            before = FormatConverter(from: input, to: middle, maxFrames: maxInputFrames)
            after = FormatConverter(from: middle, to: output, maxFrames: capacity, matrix: matrix)
        }
        toResample = .allocate(capacity: maxInputFrames.value * channels)
        resampled = .allocate(capacity: capacity.value * channels)
        self.resampler = resampler
    }

    deinit {
        toResample.deallocate()
        resampled.deallocate()
    }

    func process(_ source: UnsafeRawBufferPointer, frames: FrameCount, into destination: UnsafeMutableRawBufferPointer)
        -> FrameCount
    {
        guard frames.value > 0 else { return .zero }
        let channels = resampler.channels
        before.convert(
            source, into: UnsafeMutableRawBufferPointer(start: toResample, count: frames.value * channels * 4),
            frames: frames)
        let (consumed, produced) = resampler.process(
            UnsafeBufferPointer(start: toResample, count: frames.value * channels),
            into: UnsafeMutableBufferPointer(start: resampled, count: capacity.value * channels))
        precondition(consumed == frames, "the output scratch is sized to take all input")
        emit(produced, into: destination)
        return produced
    }

    func drain(into destination: UnsafeMutableRawBufferPointer) -> FrameCount {
        let produced = resampler.drain(
            into: UnsafeMutableBufferPointer(start: resampled, count: capacity.value * resampler.channels))
        emit(produced, into: destination)
        return produced
    }

    private func emit(_ frames: FrameCount, into destination: UnsafeMutableRawBufferPointer) {
        let bytes = frames.value * resampler.channels * 4
        after.convert(UnsafeRawBufferPointer(start: resampled, count: bytes), into: destination, frames: frames)
    }
}
