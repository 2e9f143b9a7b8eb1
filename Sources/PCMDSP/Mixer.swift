// Summing every playback stream into the device's period on the real-time thread. Streams arrive
// already in the device's format, channel count and rate (converted on the socket side), so all
// that happens here is gain, sum and saturation, into an accumulator allocated when the mixer
// is created. Nothing here allocates, locks, logs or makes a system call.

import Glibc
import PCMBufferCore

/// A stream's volume: linear gain and mute. Gain 1.0 is bit-exact unity.
public struct StreamVolume: Hashable, Sendable {
    /// Linear amplitude gain, clamped to `0...Mixer.maximumGain`. NaN becomes 0.
    public var gain: Float {
        didSet { gain = Self.sanitised(gain) }
    }
    /// A muted stream contributes nothing, whatever its gain.
    public var muted: Bool

    /// Full volume, not muted.
    public static let unity = StreamVolume(gain: 1)

    public init(gain: Float, muted: Bool = false) {
        self.gain = Self.sanitised(gain)
        self.muted = muted
    }

    /// A volume from a level in decibels relative to full scale (0 dB is unity).
    public init(decibels: Float, muted: Bool = false) {
        self.init(gain: decibels == 0 ? 1 : powf(10, decibels / 20), muted: muted)
    }

    /// The gain actually applied: 0 when muted.
    public var effectiveGain: Float { muted ? 0 : gain }

    private static func sanitised(_ gain: Float) -> Float {
        gain.isNaN ? 0 : min(max(gain, 0), Mixer.maximumGain)
    }
}

/// Mixes streams in the device's layout into one period, on the real-time thread.
///
/// Use per period: `begin(frames:)`, then `add(_:frames:volume:)` for each stream that has data,
/// then `finish(into:)`. Integer samples are summed exactly in a Double accumulator (exact for
/// integer sums below 2^53, i.e. over four million full-scale s32 streams), gain is a
/// multiplication in double precision, and `finish` rounds to nearest and saturates at the
/// format's limits. So for integer formats the mix of streams at unity gain is exactly their
/// saturated integer sum, and a single stream at unity is copied bit-exactly. An s16 period in
/// which every stream and the master are at unity (the usual desktop) is summed in an Int32
/// accumulator instead (`WholeMixKernels`), with the same result; the first volume in the period
/// moves the sum so far into the Double accumulator. Float devices are
/// mixed the same way and clamped to ±1.0; a NaN from a misbehaving client is replaced by 0
/// before it can spoil other streams.
public struct Mixer: ~Copyable {
    /// The largest per-stream or master gain accepted (+18 dB).
    public static let maximumGain: Float = 8

    /// The device's layout, which every added stream must already be in.
    public let layout: FrameLayout
    /// The largest period the accumulator holds.
    public let maxFrames: FrameCount
    /// Applied to the whole mix in `finish`. 1.0 is exact.
    public var master: StreamVolume = .unity

    private let accumulator: UnsafeMutablePointer<Double>
    /// The s16 unity-gain sum, used while `summingWhole` holds.
    private let wholeAccumulator: UnsafeMutablePointer<Int32>
    /// True while this period's sum is in `wholeAccumulator`: an s16 device, and every stream
    /// added so far at unity gain.
    private var summingWhole = false
    private var periodFrames = 0
    /// How many accumulator samples hold data this period; the rest are treated as silence.
    /// Lets the first stream store instead of add, so the accumulator is never cleared separately.
    private var filledSamples = 0

    /// A mixer for `layout` and periods of up to `maxFrames` frames. Allocates the accumulator;
    /// create it before the real-time thread starts.
    public init(layout: FrameLayout, maxFrames: FrameCount) {
        precondition(maxFrames.value > 0, "maxFrames must be positive")
        self.layout = layout
        self.maxFrames = maxFrames
        accumulator = .allocate(capacity: maxFrames.value * layout.channels)
        wholeAccumulator = .allocate(capacity: layout.format == .s16 ? maxFrames.value * layout.channels : 0)
    }

    deinit {
        accumulator.deallocate()
        wholeAccumulator.deallocate()
    }

    /// Starts a period of `frames` frames with no streams in it yet.
    /// - Precondition: `0 <= frames <= maxFrames`.
    public mutating func begin(frames: FrameCount) {
        precondition(frames.value >= 0 && frames.value <= maxFrames.value, "period longer than maxFrames")
        periodFrames = frames.value
        filledSamples = 0
        summingWhole = layout.format == .s16
    }

    /// Adds `frames` frames of one stream, in the device's layout, at `volume`. A stream with
    /// fewer frames than the period (a late client) contributes silence for the rest. A muted
    /// or zero-gain stream costs nothing.
    /// - Precondition: `frames <= ` the period, and `source` holds `frames` frames.
    public mutating func add(_ source: UnsafeRawBufferPointer, frames: FrameCount, volume: StreamVolume = .unity) {
        let count = frames.value
        precondition(count >= 0 && count <= periodFrames, "stream has more frames than the period")
        let samples = count * layout.channels
        precondition(source.count >= samples * layout.format.bytesPerSample, "source holds fewer frames than asked")
        let gain = volume.effectiveGain
        guard gain > 0, samples > 0, let base = source.baseAddress else { return }

        let stored = min(samples, filledSamples)
        if summingWhole, gain == 1 {
            WholeMixKernels.accumulate(from: base, into: wholeAccumulator, adding: stored, storing: samples - stored)
        } else {
            leaveWholeSum()
            MixKernels.accumulate(
                layout.format, from: base, into: accumulator, adding: stored, storing: samples - stored, gain: Double(gain))
        }
        filledSamples = max(filledSamples, samples)
    }

    /// Runs every path of a period once over `scratch` (silence in, silence out): a copy-in, a
    /// unity sum, a stream with a volume, and a master volume, with this layout's kernels.
    /// Call it on the real-time thread before the device starts. The first period that mixes
    /// two streams would otherwise be the first to execute this code, and a real-time thread
    /// must not take page faults there: on a cold page cache each one is a disk (or, in a VM, a
    /// 9p) read, with the device's margin running down. Leaves the mixer as `begin(frames: 0)`
    /// would, with the master as it was.
    /// - Precondition: `scratch` holds `maxFrames` frames of this layout.
    public mutating func warmUp(scratch: UnsafeMutableRawBufferPointer) {
        precondition(scratch.count >= layout.bytes(for: maxFrames).value, "scratch smaller than maxFrames")
        let frames = maxFrames
        let source = UnsafeRawBufferPointer(scratch)
        scratch.initializeMemory(as: UInt8.self, repeating: 0)
        let kept = master
        for half in [false, true] {
            master = half ? StreamVolume(gain: 0.5) : .unity
            begin(frames: frames)
            add(source, frames: frames)
            add(source, frames: frames)
            if half { add(source, frames: frames, volume: StreamVolume(gain: 0.5)) }
            finish(into: scratch)
        }
        master = kept
        begin(frames: FrameCount(0))
    }

    /// Moves the period's integer sum into the Double accumulator, before the first stream with
    /// a volume is added: the sums are exact integers, so nothing changes but the representation.
    private mutating func leaveWholeSum() {
        guard summingWhole else { return }
        WholeMixKernels.widen(wholeAccumulator, into: accumulator, samples: filledSamples)
        summingWhole = false
    }

    /// Writes the mix, after master volume, rounding and saturation, into `destination` (the
    /// device's period, in its layout). A period with no streams, or a muted master, is silence.
    /// - Precondition: `destination` holds the period's frames.
    public func finish(into destination: UnsafeMutableRawBufferPointer) {
        let samples = periodFrames * layout.channels
        let bytes = layout.format.bytesPerSample
        precondition(destination.count >= samples * bytes, "destination smaller than the period")
        guard samples > 0, let base = destination.baseAddress else { return }
        let gain = master.effectiveGain
        let mixed = gain > 0 ? filledSamples : 0
        if summingWhole, gain == 1 {
            WholeMixKernels.store(from: wholeAccumulator, into: base, samples: mixed)
        } else {
            if summingWhole { WholeMixKernels.widen(wholeAccumulator, into: accumulator, samples: mixed) }
            MixKernels.store(layout.format, from: accumulator, into: base, samples: mixed, gain: Double(gain))
        }
        if mixed < samples {
            (base + mixed * bytes).initializeMemory(as: UInt8.self, repeating: 0, count: (samples - mixed) * bytes)
        }
    }
}
