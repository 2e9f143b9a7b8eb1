// The sine tone of the built-in source: every channel gets the same tone, computed in double
// precision with a phase that wraps, so it stays clean for hours; converted to the device's
// format by PCMDSP (rounded, saturated) like any client stream.
#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import PCMDSP

/// Generates a continuous sine in a given frame layout.
final class SineGenerator: @unchecked Sendable {
    // Safety: used by one helper thread at a time (the built-in source's).
    private let step: Double
    private let amplitude: Double
    private let layout: FrameLayout
    private var phase = 0.0
    private let scratch: UnsafeMutableBufferPointer<Float>

    init(frequency: Double, amplitude: Double, rate: Int, layout: FrameLayout, chunkFrames: Int) {
        self.step = 2 * Double.pi * frequency / Double(rate)
        self.amplitude = amplitude
        self.layout = layout
        self.scratch = .allocate(capacity: chunkFrames * layout.channels)
    }

    deinit { scratch.deallocate() }

    /// Writes `frames` frames of the tone into `destination`, continuing the phase.
    func render(into destination: UnsafeMutableRawBufferPointer, frames: Int) {
        var done = 0
        let chunk = scratch.count / layout.channels
        while done < frames {
            let count = min(chunk, frames - done)
            for frame in 0..<count {
                let value = Float(amplitude * sin(phase))
                phase += step
                if phase >= 2 * Double.pi { phase -= 2 * Double.pi }
                for channel in 0..<layout.channels { scratch[frame * layout.channels + channel] = value }
            }
            let samples = count * layout.channels
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[(done * layout.bytesPerFrame)...])
            SampleConversion.convert(
                UnsafeRawBufferPointer(scratch), from: .float32, into: target, as: layout.format, samples: samples)
            done += count
        }
    }
}
