// An owned snd_pcm_hw_params_t: the configuration space that negotiation narrows step by step.
// Non-copyable so that the malloc'd object is freed exactly once; copying the *contents*
// (to try the period-first fallback from a saved point) is an explicit `restore(from:)`.

import CALSA
import Glibc
import PCMBufferCore

/// A hardware parameter space (`snd_pcm_hw_params_t`), freed when the value is destroyed.
///
/// Each setter narrows the space for one PCM; getters read what is still allowed. Most callers
/// never see one: `PCM.configureHardware` runs the whole negotiation.
public struct HardwareParameters: ~Copyable {
    let raw: OpaquePointer

    /// Allocates an empty space; `PCM.fillWithAnyConfiguration` makes it the device's full space.
    ///
    /// The corresponding ALSA function is `snd_pcm_hw_params_malloc`.
    public init() throws(ALSAError) {
        var raw: OpaquePointer?
        let result = alsa_hw_params_malloc(&raw)
        guard result >= 0, let raw else {
            throw ALSAError(code: result < 0 ? result : -ENOMEM, function: "snd_pcm_hw_params_malloc")
        }
        self.raw = raw
    }

    deinit { alsa_hw_params_free(raw) }

    /// Overwrites this space with the contents of `saved`.
    ///
    /// The corresponding ALSA function is `snd_pcm_hw_params_copy`.
    public func restore(from saved: borrowing HardwareParameters) {
        alsa_hw_params_copy(raw, saved.raw)
    }

    /// The buffer sizes still allowed.
    ///
    /// The corresponding ALSA functions are `snd_pcm_hw_params_get_buffer_size_min` and `_max`.
    public func bufferFramesRange() throws(ALSAError) -> ClosedRange<FrameCount> {
        var low: UInt = 0
        var high: UInt = 0
        try check(alsa_hw_params_get_buffer_size_min(raw, &low), "snd_pcm_hw_params_get_buffer_size_min")
        try check(alsa_hw_params_get_buffer_size_max(raw, &high), "snd_pcm_hw_params_get_buffer_size_max")
        return FrameCount(clamping: low)...FrameCount(clamping: max(low, high))
    }

    /// The period sizes still allowed.
    ///
    /// The corresponding ALSA functions are `snd_pcm_hw_params_get_period_size_min` and `_max`.
    public func periodFramesRange() throws(ALSAError) -> ClosedRange<FrameCount> {
        var low: UInt = 0
        var high: UInt = 0
        var dir: CInt = 0
        try check(alsa_hw_params_get_period_size_min(raw, &low, &dir), "snd_pcm_hw_params_get_period_size_min")
        try check(alsa_hw_params_get_period_size_max(raw, &high, &dir), "snd_pcm_hw_params_get_period_size_max")
        return FrameCount(clamping: low)...FrameCount(clamping: max(low, high))
    }

    /// The channel counts still allowed.
    ///
    /// The corresponding ALSA functions are `snd_pcm_hw_params_get_channels_min` and `_max`.
    public func channelsRange() throws(ALSAError) -> ClosedRange<Int> {
        var low: CUnsignedInt = 0
        var high: CUnsignedInt = 0
        try check(alsa_hw_params_get_channels_min(raw, &low), "snd_pcm_hw_params_get_channels_min")
        try check(alsa_hw_params_get_channels_max(raw, &high), "snd_pcm_hw_params_get_channels_max")
        return Int(low)...Int(max(low, high))
    }

    /// The rates still allowed (in Hz, sub-unit directions ignored).
    ///
    /// The corresponding ALSA functions are `snd_pcm_hw_params_get_rate_min` and `_max`.
    public func rateRange() throws(ALSAError) -> ClosedRange<Int> {
        var low: CUnsignedInt = 0
        var high: CUnsignedInt = 0
        var dir: CInt = 0
        try check(alsa_hw_params_get_rate_min(raw, &low, &dir), "snd_pcm_hw_params_get_rate_min")
        try check(alsa_hw_params_get_rate_max(raw, &high, &dir), "snd_pcm_hw_params_get_rate_max")
        return Int(low)...Int(max(low, high))
    }

    /// Reads a fully chosen space (after `snd_pcm_hw_params` or `_current`) as a configuration.
    func chosenConfiguration(deviceBufferFrames: ClosedRange<FrameCount>) throws(ALSAError) -> HardwareConfiguration {
        var access = SND_PCM_ACCESS_MMAP_INTERLEAVED
        var format = SND_PCM_FORMAT_UNKNOWN
        var channels: CUnsignedInt = 0
        var rate: CUnsignedInt = 0
        var dir: CInt = 0
        var buffer: UInt = 0
        var period: UInt = 0
        try check(alsa_hw_params_get_access(raw, &access), "snd_pcm_hw_params_get_access")
        try check(alsa_hw_params_get_format(raw, &format), "snd_pcm_hw_params_get_format")
        try check(alsa_hw_params_get_channels(raw, &channels), "snd_pcm_hw_params_get_channels")
        try check(alsa_hw_params_get_rate(raw, &rate, &dir), "snd_pcm_hw_params_get_rate")
        try check(alsa_hw_params_get_buffer_size(raw, &buffer), "snd_pcm_hw_params_get_buffer_size")
        try check(alsa_hw_params_get_period_size(raw, &period, &dir), "snd_pcm_hw_params_get_period_size")
        guard let pcmAccess = PCMAccess(access) else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_hw_params_get_access", reason: .unsupportedAccess)
        }
        guard let sampleFormat = SampleFormat(alsaFormat: format) else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_hw_params_get_format")
        }
        return HardwareConfiguration(
            access: pcmAccess,
            format: sampleFormat,
            channels: Int(channels),
            rate: Int(rate),
            bufferFrames: FrameCount(clamping: buffer),
            periodFrames: FrameCount(clamping: period),
            deviceBufferFrames: deviceBufferFrames
        )
    }
}

extension FrameCount {
    /// A frame count from alsa-lib's `snd_pcm_uframes_t`, saturating at `Int.max`
    /// (null devices report ranges up to `ULONG_MAX`).
    init(clamping frames: UInt) { self.init(Int(clamping: frames)) }
}
