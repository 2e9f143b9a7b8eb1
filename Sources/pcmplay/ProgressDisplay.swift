// What pcmplay shows on a terminal: the position as heard (from the clock the daemon publishes
// in the stream's shared header, not from what was written), the length, a peak-level bar in
// dBFS, and the stream's underruns. Drawn on one line of standard error at most ten times a
// second.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMBufferCore
import PCMClientCore
import PCMProtocol

/// Draws the status line.
final class ProgressDisplay {
    private let format: StreamFormat
    private let totalFrames: Int?
    private var lastDraw: UInt64 = 0
    private var heldPeak: Float = 0

    init(format: StreamFormat, totalFrames: Int?) {
        self.format = format
        self.totalFrames = totalFrames
    }

    /// Redraws if a tenth of a second has passed since the last time.
    func update(status: ClientStreamStatus, deviceRate: Int, peak: Float) {
        heldPeak = max(heldPeak, peak)
        let now = monotonicNanoseconds()
        guard now - lastDraw >= 100_000_000 else { return }
        lastDraw = now
        // Device frames handed to the device, minus those still in its buffer, at the file's rate.
        let played = status.clock.map { Int(clamping: $0.framesPlayed) - Int(clamping: $0.deviceDelay) } ?? 0
        let heard = max(0, played) * format.rate / max(deviceRate, 1)
        var line = "\r  \(Self.time(heard, rate: format.rate))"
        if let totalFrames { line += " / \(Self.time(totalFrames, rate: format.rate))" }
        line += "  \(Self.bar(peak: heldPeak))"
        if status.underruns > 0 { line += "  xruns \(status.underruns)" }
        line += "   "
        heldPeak = 0
        fputs(line, stderr)
    }

    /// Ends the status line.
    func finish() { fputs("\n", stderr) }

    /// `mm:ss.t` for a frame count.
    static func time(_ frames: Int, rate: Int) -> String {
        let tenths = frames * 10 / max(rate, 1)
        let minutes = tenths / 600
        let seconds = (tenths / 10) % 60
        return "\(minutes < 10 ? "0" : "")\(minutes):\(seconds < 10 ? "0" : "")\(seconds).\(tenths % 10)"
    }

    /// A 20-cell bar from −60 dBFS to 0 dBFS, followed by the peak in dB.
    static func bar(peak: Float) -> String {
        let decibels = peak > 0 ? 20 * log10(peak) : -.infinity
        let cells = decibels.isFinite ? max(0, min(20, Int(((decibels + 60) / 3).rounded(.down)))) : 0
        let level = decibels.isFinite ? String(Int(decibels.rounded())) + " dB" : "-inf dB"
        return "[" + String(repeating: "#", count: cells) + String(repeating: " ", count: 20 - cells) + "] " + level
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Measures the peak absolute sample of a block, as a fraction of full scale. Display only: it
/// reads samples, it never converts audio that is played.
struct PeakMeter {
    let format: SampleFormat

    init(format: SampleFormat) { self.format = format }

    mutating func peak(of raw: UnsafeRawBufferPointer) -> Float {
        do {
            var peak: Float = 0
            let step = format.bytesPerSample
            var offset = 0
            while offset + step <= raw.count {
                let value: Float
                switch format {
                case .s16:
                    value = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int16.self))) / 32_768
                case .s24:
                    // 24 bits in the low three bytes of four: shift up to sign-extend.
                    let word = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self))
                    value = Float((word << 8) >> 8) / 8_388_608
                case .s24Packed:
                    let word = Int32(raw[offset]) | Int32(raw[offset + 1]) << 8 | Int32(Int8(bitPattern: raw[offset + 2])) << 16
                    value = Float(word) / 8_388_608
                case .s32:
                    value = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self))) / 2_147_483_648
                case .float32:
                    value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                }
                if value.isFinite { peak = max(peak, abs(value)) }
                offset += step
            }
            return peak
        }
    }
}

/// Parses a volume given as `0.5` or `50%`.
enum VolumeArgument {
    static func parse(_ text: String) -> Float? {
        let value: Float?
        if text.hasSuffix("%") {
            value = Float(text.dropLast()).map { $0 / 100 }
        } else {
            value = Float(text)
        }
        guard let value, value.isFinite, value >= 0, value <= 1 else { return nil }
        return value
    }
}
