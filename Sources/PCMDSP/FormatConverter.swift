// Converting interleaved frames from one layout (sample format × channels) to another, with the
// channel matrix applied on the way. Built once when a stream opens (it preallocates the float
// scratch the mixing path needs); converting afterwards never allocates. Runs on the socket side.

import PCMBufferCore

/// Converts frames from one `FrameLayout` to another. Noncopyable because it owns its scratch.
///
/// Which path runs is fixed at creation (see `Strategy`): when the matrix only routes channels
/// (same count, mono → stereo duplication, upmix by copying) every output sample is converted
/// straight from one input sample, so a same-format route is a bit-exact copy. Only a matrix
/// that mixes or scales goes through float arithmetic.
public struct FormatConverter: ~Copyable {
    /// How the converter works, decided from the matrix when it is created.
    public enum Strategy: Equatable, Sendable {
        /// Same channels in the same order: one sample-format conversion over the whole buffer.
        case samplesOnly
        /// Each output channel copies one input channel (by index) or is silent (nil): converted
        /// channel by channel, exact when the formats match.
        case routing([Int?])
        /// The matrix mixes or scales: input → float scratch → matrix → float scratch → output.
        case mixing
    }

    /// The layout read.
    public let input: FrameLayout
    /// The layout written.
    public let output: FrameLayout
    /// The most frames one `convert` call may handle (the scratch is sized for it).
    public let maxFrames: FrameCount
    /// The channel matrix applied.
    public let matrix: ChannelMatrix
    /// The path chosen for the matrix.
    public let strategy: Strategy
    private let inputScratch: UnsafeMutablePointer<Float>
    private let outputScratch: UnsafeMutablePointer<Float>

    /// A converter from `input` to `output` handling up to `maxFrames` frames a call, with
    /// `matrix` (default: `ChannelMatrix.standard` for the two channel counts).
    /// - Precondition: the matrix's shape matches the channel counts; `maxFrames > 0`.
    public init(from input: FrameLayout, to output: FrameLayout, maxFrames: FrameCount, matrix: ChannelMatrix? = nil) {
        let matrix = matrix ?? .standard(from: input.channels, to: output.channels)
        precondition(matrix.inputs == input.channels && matrix.outputs == output.channels, "matrix shape mismatch")
        precondition(maxFrames.value > 0, "maxFrames must be positive")
        self.input = input
        self.output = output
        self.maxFrames = maxFrames
        self.matrix = matrix
        if let routes = matrix.routing {
            let isIdentity = input.channels == output.channels && routes.enumerated().allSatisfy { $0.element == $0.offset }
            strategy = isIdentity ? .samplesOnly : .routing(routes)
        } else {
            strategy = .mixing
        }
        let needsScratch = strategy == .mixing
        inputScratch = .allocate(capacity: needsScratch ? maxFrames.value * input.channels : 0)
        outputScratch = .allocate(capacity: needsScratch ? maxFrames.value * output.channels : 0)
    }

    deinit {
        inputScratch.deallocate()
        outputScratch.deallocate()
    }

    /// Converts `frames` frames from `source` (in `input`'s layout) into `destination` (in
    /// `output`'s layout). Never allocates.
    /// - Precondition: `frames <= maxFrames`, and both buffers hold `frames` frames.
    public func convert(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, frames: FrameCount) {
        let count = frames.value
        precondition(count >= 0 && count <= maxFrames.value, "frames outside 0...maxFrames")
        precondition(source.count >= count * input.bytesPerFrame, "source holds fewer frames than asked")
        precondition(destination.count >= count * output.bytesPerFrame, "destination holds fewer frames than asked")
        guard count > 0, let from = source.baseAddress, let to = destination.baseAddress else { return }

        switch strategy {
        case .samplesOnly:
            SampleConversion.convert(
                source, from: input.format, into: destination, as: output.format, samples: count * input.channels)
        case .routing(let routes):
            let inSize = input.format.bytesPerSample
            let outSize = output.format.bytesPerSample
            for (channel, route) in routes.enumerated() {
                if let route {
                    SampleConversion.convertStrided(
                        from: from + route * inSize, input.format, stride: input.bytesPerFrame,
                        to: to + channel * outSize, output.format, stride: output.bytesPerFrame, count: count)
                } else {
                    for frame in 0..<count {
                        (to + frame * output.bytesPerFrame + channel * outSize)
                            .initializeMemory(as: UInt8.self, repeating: 0, count: outSize)
                    }
                }
            }
        case .mixing:
            let inFloats = UnsafeMutableRawBufferPointer(start: inputScratch, count: count * input.channels * 4)
            SampleConversion.convert(source, from: input.format, into: inFloats, as: .float32, samples: count * input.channels)
            applyMatrix(frames: count)
            let outFloats = UnsafeRawBufferPointer(start: outputScratch, count: count * output.channels * 4)
            SampleConversion.convert(outFloats, from: .float32, into: destination, as: output.format, samples: count * output.channels)
        }
    }

    /// outputScratch = matrix × inputScratch, frame by frame.
    private func applyMatrix(frames: Int) {
        let inputs = matrix.inputs
        let outputs = matrix.outputs
        matrix.coefficients.withUnsafeBufferPointer { gains in
            for frame in 0..<frames {
                let inFrame = inputScratch + frame * inputs
                let outFrame = outputScratch + frame * outputs
                for output in 0..<outputs {
                    var sum: Float = 0
                    let row = output * inputs
                    for input in 0..<inputs { sum += gains[row + input] * inFrame[input] }
                    outFrame[output] = sum
                }
            }
        }
    }
}
