// What a file holds: its container, how its samples are encoded, its rate, channels and length,
// and the mapping of those to libsndfile's format codes. Kept apart from the reader and writer
// so both speak the same vocabulary and the mapping lives in one place.

import CSndfile
import PCMBufferCore

/// The file container.
public enum AudioContainer: String, Hashable, Sendable, CaseIterable {
    /// RIFF WAVE (including WAVE_FORMAT_EXTENSIBLE when reading).
    case wav
    /// FLAC: lossless, integer samples of 8, 16 or 24 bits only.
    case flac
    /// Headerless samples; the caller must supply encoding, rate and channels.
    case raw
    /// Anything else libsndfile can read (AIFF, AU, W64, CAF, Ogg, ...): readable, not writable here.
    case other

    /// libsndfile's major format code (nil for `.other`).
    var sndfileMajor: Int32? {
        switch self {
        case .wav: Int32(SF_FORMAT_WAV)
        case .flac: Int32(SF_FORMAT_FLAC)
        case .raw: Int32(SF_FORMAT_RAW)
        case .other: nil
        }
    }

    init(sndfileFormat format: Int32) {
        switch format & Int32(SF_FORMAT_TYPEMASK) {
        case Int32(SF_FORMAT_WAV), Int32(SF_FORMAT_WAVEX): self = .wav
        case Int32(SF_FORMAT_FLAC): self = .flac
        case Int32(SF_FORMAT_RAW): self = .raw
        default: self = .other
        }
    }
}

/// How the samples are stored in the file.
public enum AudioEncoding: Hashable, Sendable, CustomStringConvertible {
    /// Linear PCM in one of pcmd's sample formats (24-bit files report `.s24Packed`, as
    /// they store three bytes a sample; reading them into `.s24` is just as lossless).
    case pcm(SampleFormat)
    /// 8-bit signed or unsigned integer.
    case pcm8
    /// 64-bit float.
    case float64
    /// A compressed or companded encoding (µ-law, ADPCM, Vorbis, ...), named by libsndfile's code.
    case other(code: Int32)

    /// The sample format to read this encoding into without losing anything, or the closest
    /// one where none is lossless (float64 and the compressed encodings read as float32).
    public var losslessSampleFormat: SampleFormat {
        switch self {
        case .pcm(let format): format == .s24Packed ? .s24 : format
        case .pcm8: .s16
        case .float64, .other: .float32
        }
    }

    public var description: String {
        switch self {
        case .pcm(let format): format.name
        case .pcm8: "8-bit"
        case .float64: "f64"
        case .other(let code): "encoding 0x\(String(code, radix: 16))"
        }
    }

    init(sndfileFormat format: Int32) {
        switch format & Int32(SF_FORMAT_SUBMASK) {
        case Int32(SF_FORMAT_PCM_16): self = .pcm(.s16)
        case Int32(SF_FORMAT_PCM_24): self = .pcm(.s24Packed)
        case Int32(SF_FORMAT_PCM_32): self = .pcm(.s32)
        case Int32(SF_FORMAT_FLOAT): self = .pcm(.float32)
        case Int32(SF_FORMAT_PCM_S8), Int32(SF_FORMAT_PCM_U8): self = .pcm8
        case Int32(SF_FORMAT_DOUBLE): self = .float64
        case let code: self = .other(code: code)
        }
    }
}

extension SampleFormat {
    /// libsndfile's subtype code for writing samples of this format. Both 24-bit layouts map to
    /// PCM_24: the file always packs 24-bit samples into three bytes.
    var sndfileSubtype: Int32 {
        switch self {
        case .s16: Int32(SF_FORMAT_PCM_16)
        case .s24, .s24Packed: Int32(SF_FORMAT_PCM_24)
        case .s32: Int32(SF_FORMAT_PCM_32)
        case .float32: Int32(SF_FORMAT_FLOAT)
        }
    }
}

/// The shape of headerless (raw) audio, which the file cannot tell us itself.
public struct RawAudioFormat: Hashable, Sendable {
    /// Sample format and channel count of the data (always little-endian, interleaved).
    public var layout: FrameLayout
    /// Frames per second.
    public var rate: Int

    public init(layout: FrameLayout, rate: Int) {
        self.layout = layout
        self.rate = rate
    }
}

/// What an open file holds.
public struct AudioFileInfo: Hashable, Sendable, CustomStringConvertible {
    /// The container (WAV, FLAC, raw, or another libsndfile can read).
    public var container: AudioContainer
    /// How samples are stored in the file.
    public var encoding: AudioEncoding
    /// Frames per second.
    public var rate: Int
    /// Interleaved channels per frame.
    public var channels: Int
    /// Frames in the file, or nil when it is not known (a pipe).
    public var frames: FrameCount?

    /// The layout that reads this file without loss (see `AudioEncoding.losslessSampleFormat`).
    public var losslessLayout: FrameLayout {
        FrameLayout(format: encoding.losslessSampleFormat, channels: channels)
    }

    public var description: String {
        let length = frames.map { "\($0.value) frames" } ?? "unknown length"
        return "\(container.rawValue) \(encoding) \(rate) Hz × \(channels), \(length)"
    }

    init(_ info: SF_INFO, seekable: Bool) {
        container = AudioContainer(sndfileFormat: info.format)
        encoding = AudioEncoding(sndfileFormat: info.format)
        rate = Int(info.samplerate)
        channels = Int(info.channels)
        // libsndfile reports SF_COUNT_MAX frames for a stream it cannot measure.
        frames = seekable && info.frames >= 0 && info.frames < Int64.max ? FrameCount(Int(info.frames)) : nil
    }
}

/// libsndfile's limits, kept here so reader and writer check parameters identically.
enum SndfileLimits {
    /// libsndfile refuses more channels than this (SF_MAX_CHANNELS in its sources).
    static let maxChannels = 1024
    /// Rates outside this range are certainly a mistake; libsndfile itself accepts any positive rate.
    static let rates = 1...1_536_000

    /// Checks rate and channels, naming `file` in the error.
    static func check(rate: Int, channels: Int, file: String) throws(AudioFileError) {
        guard rates.contains(rate) else {
            throw .invalidParameters(file: file, reason: "rate \(rate) Hz is outside \(rates.lowerBound)...\(rates.upperBound)")
        }
        guard (1...maxChannels).contains(channels) else {
            throw .invalidParameters(file: file, reason: "\(channels) channels is outside 1...\(maxChannels)")
        }
    }
}
