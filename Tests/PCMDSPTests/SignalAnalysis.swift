// Measuring test signals: sine generation and a least-squares sine fit that yields amplitude,
// frequency error and THD+N (the residual after removing the fitted sine). Used by the
// resampler tests; written in Double so the measurement is far more precise than what it measures.

import Foundation

/// The result of fitting a sine of known frequency to a signal.
struct SineFit {
    /// Peak amplitude of the fitted sine.
    var amplitude: Double
    /// RMS of what is left after removing the sine and DC: noise, distortion, aliases.
    var residualRMS: Double
    /// THD+N in dB relative to the sine's RMS.
    var thdPlusNoiseDecibels: Double { 20 * log10(residualRMS / (amplitude / 2.0.squareRoot())) }
}

enum SignalAnalysis {
    /// `frames` samples of a sine at `frequency` Hz, `rate` Hz, peak `amplitude`.
    static func sine(frequency: Double, rate: Double, amplitude: Double, frames: Int, phase: Double = 0) -> [Float] {
        (0..<frames).map { Float(amplitude * sin(2 * Double.pi * frequency * Double($0) / rate + phase)) }
    }

    /// Fits a·sin + b·cos + c at exactly `frequency` to `signal` (least squares) and measures
    /// the residual.
    static func fit(_ signal: ArraySlice<Double>, frequency: Double, rate: Double) -> SineFit {
        let w = 2 * Double.pi * frequency / rate
        // Normal equations for [sin, cos, 1].
        var m = [[Double]](repeating: [0, 0, 0], count: 3)
        var v = [0.0, 0.0, 0.0]
        for (offset, x) in signal.enumerated() {
            let basis = [sin(w * Double(offset)), cos(w * Double(offset)), 1]
            for r in 0..<3 {
                v[r] += basis[r] * x
                for c in 0..<3 { m[r][c] += basis[r] * basis[c] }
            }
        }
        let coefficients = solve3(m, v)
        var residual = 0.0
        for (offset, x) in signal.enumerated() {
            let model = coefficients[0] * sin(w * Double(offset)) + coefficients[1] * cos(w * Double(offset)) + coefficients[2]
            residual += (x - model) * (x - model)
        }
        let amplitude = (coefficients[0] * coefficients[0] + coefficients[1] * coefficients[1]).squareRoot()
        return SineFit(amplitude: amplitude, residualRMS: (residual / Double(signal.count)).squareRoot())
    }

    /// The frequency (Hz) with the most energy near `guess`, by a fine scan of the fit amplitude.
    static func peakFrequency(_ signal: ArraySlice<Double>, near guess: Double, rate: Double) -> Double {
        var best = (frequency: guess, amplitude: 0.0)
        var step = 1.0
        var centre = guess
        for _ in 0..<4 {
            for k in -10...10 {
                let f = centre + Double(k) * step
                let a = fit(signal, frequency: f, rate: rate).amplitude
                if a > best.amplitude { best = (f, a) }
            }
            centre = best.frequency
            step /= 10
        }
        return best.frequency
    }

    /// RMS of a signal.
    static func rms(_ signal: ArraySlice<Double>) -> Double {
        (signal.map { $0 * $0 }.reduce(0, +) / Double(signal.count)).squareRoot()
    }

    private static func solve3(_ a: [[Double]], _ b: [Double]) -> [Double] {
        var m = a
        var v = b
        for col in 0..<3 {
            let pivot = (col..<3).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, pivot)
            v.swapAt(col, pivot)
            for row in (col + 1)..<3 {
                let factor = m[row][col] / m[col][col]
                for c in col..<3 { m[row][c] -= factor * m[col][c] }
                v[row] -= factor * v[col]
            }
        }
        var x = [0.0, 0.0, 0.0]
        for row in stride(from: 2, through: 0, by: -1) {
            var sum = v[row]
            for c in (row + 1)..<3 { sum -= m[row][c] * x[c] }
            x[row] = sum / m[row][row]
        }
        return x
    }
}
