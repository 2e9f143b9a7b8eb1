// Measures a sine that went through the daemon: its frequency (a four-parameter least-squares
// fit, IEEE 1057 style, started from interpolated zero crossings), amplitude, and THD+N (what is
// left after removing the fitted sine and DC). The daemon's conversion tests compare these with
// the tone the client sent. Double precision throughout, far finer than what is measured.
import Foundation

/// A sine found in a recorded signal.
struct ToneMeasurement: CustomStringConvertible {
    /// Frequency in Hz.
    var frequency: Double
    /// Peak amplitude, in the signal's units.
    var amplitude: Double
    /// RMS of the residual: noise, distortion, aliases, glitches.
    var residualRMS: Double

    /// THD+N in dB relative to the sine's RMS.
    var thdPlusNoiseDecibels: Double { 20 * log10(residualRMS / (amplitude / 2.0.squareRoot())) }

    var description: String {
        String(format: "%.4f Hz, amplitude %.2f, THD+N %.1f dB", frequency, amplitude, thdPlusNoiseDecibels)
    }

    /// Fits a sine to `signal` sampled at `rate` Hz. Returns nil when the signal has no clear
    /// periodic zero crossings (silence, or not a tone).
    static func measure(_ signal: [Double], rate: Double) -> ToneMeasurement? {
        guard signal.count >= 64, var omega = zeroCrossingEstimate(signal) else { return nil }
        // Gauss-Newton on x[n] ≈ a·cos(ωt) + b·sin(ωt) + c, t centred for conditioning.
        let centre = Double(signal.count - 1) / 2
        var coefficients = threeParameterFit(signal, omega: omega, centre: centre)
        for _ in 0..<8 {
            var normal = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
            var right = [Double](repeating: 0, count: 4)
            for (n, x) in signal.enumerated() {
                let t = Double(n) - centre
                let (s, c) = (sin(omega * t), cos(omega * t))
                let basis = [c, s, 1, t * (coefficients.b * c - coefficients.a * s)]
                for row in 0..<4 {
                    right[row] += basis[row] * x
                    for column in 0..<4 { normal[row][column] += basis[row] * basis[column] }
                }
            }
            guard let solved = solve(normal, right) else { return nil }
            coefficients = (solved[0], solved[1], solved[2])
            omega += solved[3]
            if abs(solved[3]) < 1e-12 { break }
        }
        coefficients = threeParameterFit(signal, omega: omega, centre: centre)
        var residual = 0.0
        for (n, x) in signal.enumerated() {
            let t = Double(n) - centre
            let model = coefficients.a * cos(omega * t) + coefficients.b * sin(omega * t) + coefficients.c
            residual += (x - model) * (x - model)
        }
        return ToneMeasurement(
            frequency: omega * rate / (2 * Double.pi),
            amplitude: (coefficients.a * coefficients.a + coefficients.b * coefficients.b).squareRoot(),
            residualRMS: (residual / Double(signal.count)).squareRoot())
    }

    /// The peak amplitudes of the components at exactly `frequencies` (Hz), fitted jointly with DC:
    /// a weak component (e.g. where an alias would land) is measured without leakage from a
    /// strong one, as long as the strong one's frequency is in the list too.
    static func amplitudes(of signal: [Double], at frequencies: [Double], rate: Double) -> [Double] {
        let centre = Double(signal.count - 1) / 2
        let omegas = frequencies.map { 2 * Double.pi * $0 / rate }
        let size = 2 * omegas.count + 1
        var normal = [[Double]](repeating: [Double](repeating: 0, count: size), count: size)
        var right = [Double](repeating: 0, count: size)
        var basis = [Double](repeating: 1, count: size)
        for (n, x) in signal.enumerated() {
            let t = Double(n) - centre
            for (index, omega) in omegas.enumerated() {
                basis[2 * index] = cos(omega * t)
                basis[2 * index + 1] = sin(omega * t)
            }
            for row in 0..<size {
                right[row] += basis[row] * x
                for column in 0..<size { normal[row][column] += basis[row] * basis[column] }
            }
        }
        let solved = solve(normal, right) ?? [Double](repeating: 0, count: size)
        return omegas.indices.map { (solved[2 * $0] * solved[2 * $0] + solved[2 * $0 + 1] * solved[2 * $0 + 1]).squareRoot() }
    }

    /// Angular frequency (radians per sample) from the first and last rising zero crossings,
    /// each interpolated between samples.
    private static func zeroCrossingEstimate(_ signal: [Double]) -> Double? {
        let mean = signal.reduce(0, +) / Double(signal.count)
        var first: Double?
        var last = 0.0
        var cycles = -1
        for n in 1..<signal.count {
            let (previous, current) = (signal[n - 1] - mean, signal[n] - mean)
            guard previous < 0, current >= 0 else { continue }
            let crossing = Double(n - 1) + previous / (previous - current)
            if first == nil { first = crossing }
            last = crossing
            cycles += 1
        }
        guard let first, cycles >= 2, last > first else { return nil }
        return 2 * Double.pi * Double(cycles) / (last - first)
    }

    /// Least squares for a·cos + b·sin + c at a fixed ω.
    private static func threeParameterFit(_ signal: [Double], omega: Double, centre: Double) -> (a: Double, b: Double, c: Double) {
        var normal = [[Double]](repeating: [0, 0, 0], count: 3)
        var right = [0.0, 0.0, 0.0]
        for (n, x) in signal.enumerated() {
            let t = Double(n) - centre
            let basis = [cos(omega * t), sin(omega * t), 1]
            for row in 0..<3 {
                right[row] += basis[row] * x
                for column in 0..<3 { normal[row][column] += basis[row] * basis[column] }
            }
        }
        let solved = solve(normal, right) ?? [0, 0, 0]
        return (solved[0], solved[1], solved[2])
    }

    /// Gaussian elimination with partial pivoting; nil for a singular system.
    private static func solve(_ matrix: [[Double]], _ vector: [Double]) -> [Double]? {
        var m = matrix
        var v = vector
        let size = v.count
        for column in 0..<size {
            let pivot = (column..<size).max { abs(m[$0][column]) < abs(m[$1][column]) }!
            guard abs(m[pivot][column]) > 1e-300 else { return nil }
            m.swapAt(column, pivot)
            v.swapAt(column, pivot)
            for row in (column + 1)..<size {
                let factor = m[row][column] / m[column][column]
                for k in column..<size { m[row][k] -= factor * m[column][k] }
                v[row] -= factor * v[column]
            }
        }
        var x = [Double](repeating: 0, count: size)
        for row in stride(from: size - 1, through: 0, by: -1) {
            var sum = v[row]
            for k in (row + 1)..<size { sum -= m[row][k] * x[k] }
            x[row] = sum / m[row][row]
        }
        return x
    }
}

/// `frames` samples of a sine at `frequency` Hz and `rate` Hz with peak `amplitude` (full scale 1).
func sineWave(frequency: Double, rate: Double, amplitude: Double, frames: Int) -> [Double] {
    (0..<frames).map { amplitude * sin(2 * Double.pi * frequency * Double($0) / rate) }
}

/// Encodes samples in -1...1 as little-endian s16, s24_3 or f32 bytes (rounded, like a player would).
func encodeSamples(_ values: [Double], as format: String) -> [UInt8] {
    var bytes: [UInt8] = []
    switch format {
    case "s16":
        for value in values {
            let sample = Int16((value * 32767).rounded())
            withUnsafeBytes(of: sample.littleEndian) { bytes.append(contentsOf: $0) }
        }
    case "s24_3":
        for value in values {
            let sample = Int32((value * 8_388_607).rounded())
            withUnsafeBytes(of: sample.littleEndian) { bytes.append(contentsOf: $0.prefix(3)) }
        }
    default:
        for value in values {
            withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
    }
    return bytes
}
