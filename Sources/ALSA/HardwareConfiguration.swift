// The values that go into and come out of hw_params negotiation: what the daemon asks for,
// the limits a device shows before anything is committed, and what the device finally chose.
// Also the mapping between pcmd's SampleFormat and alsa-lib's snd_pcm_format_t.

import CALSA
import PCMBufferCore

/// How the application reaches the device's ring buffer. pcmd only streams through mmap.
public enum PCMAccess: Sendable, Hashable, CustomStringConvertible {
    /// One buffer, frames interleaved channel by channel (the common case).
    case mmapInterleaved
    /// One buffer region per channel.
    case mmapNoninterleaved

    var raw: snd_pcm_access_t {
        self == .mmapInterleaved ? SND_PCM_ACCESS_MMAP_INTERLEAVED : SND_PCM_ACCESS_MMAP_NONINTERLEAVED
    }

    init?(_ raw: snd_pcm_access_t) {
        switch raw {
        case SND_PCM_ACCESS_MMAP_INTERLEAVED: self = .mmapInterleaved
        case SND_PCM_ACCESS_MMAP_NONINTERLEAVED: self = .mmapNoninterleaved
        default: return nil
        }
    }

    /// alsa-lib's name, as pcmd logs it.
    public var description: String { self == .mmapInterleaved ? "MMAP_INTERLEAVED" : "MMAP_NONINTERLEAVED" }
}

/// Which mmap access negotiation may pick.
public enum AccessChoice: Sendable, Hashable {
    /// MMAP_INTERLEAVED if the device offers it, else MMAP_NONINTERLEAVED (the careful order;
    /// the default).
    case interleavedFirst
    /// Exactly this access, or a `.accessUnsupported` error (for callers and tests that need
    /// one layout, e.g. a DSP chain working per channel).
    case only(PCMAccess)
}

/// What the caller wants from the device.
public struct HardwareRequest: Sendable, Hashable {
    /// The sample format; the device must take it as is (no plug-layer conversion is asked for).
    public var format: SampleFormat
    /// Channels per frame.
    public var channels: Int
    /// Frames per second; the device must run at exactly this rate.
    public var rate: Int
    /// The largest buffer the caller can hold, in frames. The daemon derives it from the
    /// substream's PCMBufferCore allocation; the negotiated buffer never exceeds it.
    public var maxBufferFrames: FrameCount
    /// The buffer size wanted, or `nil` for as large as `maxBufferFrames` and the device allow.
    public var bufferFrames: FrameCount?
    /// The period size wanted, or `nil` for `buffer / periods`.
    public var periodFrames: FrameCount?
    /// How many periods the buffer should hold when `periodFrames` is `nil`.
    public var periods: Int
    /// Ask for a whole number of periods per buffer (`snd_pcm_hw_params_set_periods_integer`),
    /// so that an mmap loop working in whole periods never meets a partial one.
    public var integerPeriods: Bool
    /// Which mmap access to use; `.interleavedFirst` unless a layout is required.
    public var access: AccessChoice

    /// Collects a request; only format, channels, rate and the buffer cap are required.
    public init(
        format: SampleFormat,
        channels: Int,
        rate: Int,
        maxBufferFrames: FrameCount,
        bufferFrames: FrameCount? = nil,
        periodFrames: FrameCount? = nil,
        periods: Int = 4,
        integerPeriods: Bool = true,
        access: AccessChoice = .interleavedFirst
    ) {
        self.format = format
        self.channels = channels
        self.rate = rate
        self.maxBufferFrames = maxBufferFrames
        self.bufferFrames = bufferFrames
        self.periodFrames = periodFrames
        self.periods = periods
        self.integerPeriods = integerPeriods
        self.access = access
    }
}

/// What a device can do for a given access, format, channel count and rate, read before
/// anything is committed, so that the caller can size its allocation.
public struct HardwareLimits: Sendable, Hashable {
    /// The mmap access the device would use (interleaved if it offers it).
    public var access: PCMAccess
    /// The buffer sizes the device allows (these reflect the kernel preallocation limit).
    public var bufferFrames: ClosedRange<FrameCount>
    /// The period sizes the device allows.
    public var periodFrames: ClosedRange<FrameCount>
}

/// What the device actually chose, read back after `snd_pcm_hw_params`.
public struct HardwareConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The mmap access in use.
    public var access: PCMAccess
    /// The sample format in use.
    public var format: SampleFormat
    /// Channels per frame.
    public var channels: Int
    /// Frames per second (always the exact rate requested).
    public var rate: Int
    /// The ring buffer size.
    public var bufferFrames: FrameCount
    /// The period size: the unit of wakeups and of the mmap loop.
    public var periodFrames: FrameCount
    /// The buffer sizes the device allowed for this format, channels and rate.
    public var deviceBufferFrames: ClosedRange<FrameCount>

    /// Format and channels together, for converting between frames and bytes.
    public var layout: FrameLayout { FrameLayout(format: format, channels: channels) }

    /// Whole periods in the buffer (rounded down when the device allowed a fraction).
    public var periods: Int { periodFrames.value > 0 ? bufferFrames.value / periodFrames.value : 0 }

    public var description: String {
        "\(access) \(format.name) \(channels)ch \(rate)Hz buffer \(bufferFrames.value) period \(periodFrames.value)"
    }
}

extension SampleFormat {
    /// The alsa-lib format with the same encoding in memory.
    var alsaFormat: snd_pcm_format_t {
        switch self {
        case .s16: SND_PCM_FORMAT_S16_LE
        case .s24: SND_PCM_FORMAT_S24_LE
        case .s24Packed: SND_PCM_FORMAT_S24_3LE
        case .s32: SND_PCM_FORMAT_S32_LE
        case .float32: SND_PCM_FORMAT_FLOAT_LE
        }
    }

    /// The pcmd format for an alsa-lib format, or `nil` for one pcmd does not speak.
    init?(alsaFormat: snd_pcm_format_t) {
        switch alsaFormat {
        case SND_PCM_FORMAT_S16_LE: self = .s16
        case SND_PCM_FORMAT_S24_LE: self = .s24
        case SND_PCM_FORMAT_S24_3LE: self = .s24Packed
        case SND_PCM_FORMAT_S32_LE: self = .s32
        case SND_PCM_FORMAT_FLOAT_LE: self = .float32
        default: return nil
        }
    }
}
