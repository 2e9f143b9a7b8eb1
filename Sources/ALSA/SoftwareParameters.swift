// sw_params as pcmd uses them: explicit start (start_threshold = boundary, because mmap
// commits never start a stream anyway), stop at xrun or run free, wake up once per period,
// monotonic timestamps on. The owned snd_pcm_sw_params_t lives here too.

import CALSA
import Glibc
import PCMBufferCore

/// A software parameter set (`snd_pcm_sw_params_t`), freed when the value is destroyed.
public struct SoftwareParameters: ~Copyable {
    let raw: OpaquePointer

    /// Allocates an empty set; `PCM.configureSoftware` fills it from the PCM.
    ///
    /// The corresponding ALSA function is `snd_pcm_sw_params_malloc`.
    public init() throws(ALSAError) {
        var raw: OpaquePointer?
        let result = alsa_sw_params_malloc(&raw)
        guard result >= 0, let raw else {
            throw ALSAError(code: result < 0 ? result : -ENOMEM, function: "snd_pcm_sw_params_malloc")
        }
        self.raw = raw
    }

    deinit { alsa_sw_params_free(raw) }
}

/// What the caller wants from sw_params; the defaults are what pcm-memory.md §3 recommends.
public struct SoftwareRequest: Sendable, Hashable {
    /// `true`: stop with XRUN when the buffer runs empty/full (stop_threshold = buffer size).
    /// `false`: run freely and never xrun (stop_threshold = boundary), for callers that keep
    /// their own position and would rather play stale data than stop.
    public var stopOnXrun: Bool
    /// The wakeup threshold, or `nil` for one period (alsa-lib raises anything smaller to a period).
    public var availMin: FrameCount?
    /// Wake at every period boundary too (the hw plugin adds a timer descriptor for it).
    public var periodEvent: Bool
    /// Playback: have the kernel write silence over every frame the device has played
    /// (silence_threshold = 0, silence_size = boundary), so that if the application is ever
    /// late the device plays silence instead of repeating a buffer of old audio.
    public var silenceAfterPlayed: Bool

    /// Collects a request; the defaults are the recommended settings.
    public init(stopOnXrun: Bool = true, availMin: FrameCount? = nil, periodEvent: Bool = false, silenceAfterPlayed: Bool = false) {
        self.stopOnXrun = stopOnXrun
        self.availMin = availMin
        self.periodEvent = periodEvent
        self.silenceAfterPlayed = silenceAfterPlayed
    }
}

/// The sw_params in force, read back after installing them.
public struct SoftwareConfiguration: Sendable, Hashable {
    /// alsa-lib's wrap point for positions (a multiple of the buffer size).
    public var boundary: FrameCount
    /// Frames that must be queued before the stream starts by itself; pcmd sets the boundary,
    /// which means never: the stream starts only through `PCM.start()`.
    public var startThreshold: FrameCount
    /// The avail at which the stream stops with XRUN (buffer size, or the boundary = never).
    public var stopThreshold: FrameCount
    /// The avail at which poll reports the PCM ready.
    public var availMin: FrameCount
    /// Whether period-boundary wakeups are on.
    public var periodEvent: Bool
    /// Whether status and htimestamp carry timestamps (tstamp_mode ENABLE).
    public var timestampsEnabled: Bool
    /// Whether timestamps come from CLOCK_MONOTONIC.
    public var monotonicTimestamps: Bool
    /// Frames of silence the kernel writes after the hardware pointer (the boundary means all
    /// played space is silenced; 0 means none).
    public var silenceSize: FrameCount
}

extension PCM {
    /// Installs sw_params for mmap streaming with an explicit start, and reads them back.
    ///
    /// Requires hw_params installed by `configureHardware`; otherwise throws `-EBADFD`.
    ///
    /// The corresponding ALSA function is `snd_pcm_sw_params`.
    @discardableResult
    public func configureSoftware(_ request: SoftwareRequest = SoftwareRequest()) throws(ALSAError) -> SoftwareConfiguration {
        if let availMin = request.availMin, availMin.value < 1 {
            throw ALSAError(
                code: -EINVAL, function: "snd_pcm_sw_params_set_avail_min",
                reason: .invalidRequest(field: "avail_min", value: availMin.value)
            )
        }
        guard let hardware else {
            // Without configureHardware there is no buffer and period to derive thresholds
            // from (alsa-lib itself would answer -EIO, "PCM not set up").
            throw ALSAError(code: -EBADFD, function: "snd_pcm_sw_params")
        }
        let params = try SoftwareParameters()
        let p = params.raw
        try check(alsa_sw_params_current(handle, p), "snd_pcm_sw_params_current")
        var boundary: UInt = 0
        try check(alsa_sw_params_get_boundary(p, &boundary), "snd_pcm_sw_params_get_boundary")

        try check(alsa_sw_params_set_start_threshold(handle, p, boundary), "snd_pcm_sw_params_set_start_threshold")
        let stop = request.stopOnXrun ? UInt(hardware.bufferFrames.value) : boundary
        try check(alsa_sw_params_set_stop_threshold(handle, p, stop), "snd_pcm_sw_params_set_stop_threshold")
        let availMin = UInt((request.availMin ?? hardware.periodFrames).value)
        try check(alsa_sw_params_set_avail_min(handle, p, availMin), "snd_pcm_sw_params_set_avail_min")
        try check(alsa_sw_params_set_period_event(handle, p, request.periodEvent ? 1 : 0), "snd_pcm_sw_params_set_period_event")
        if request.silenceAfterPlayed {
            // The kernel's rule: silence_size ≥ boundary with threshold 0 means "fill all the
            // space the device has consumed with silence".
            try check(alsa_sw_params_set_silence_threshold(handle, p, 0), "snd_pcm_sw_params_set_silence_threshold")
            try check(alsa_sw_params_set_silence_size(handle, p, boundary), "snd_pcm_sw_params_set_silence_size")
        }
        try check(alsa_sw_params_set_tstamp_mode(handle, p, SND_PCM_TSTAMP_ENABLE), "snd_pcm_sw_params_set_tstamp_mode")
        try check(alsa_sw_params_set_tstamp_type(handle, p, SND_PCM_TSTAMP_TYPE_MONOTONIC), "snd_pcm_sw_params_set_tstamp_type")
        try check(alsa_sw_params_install(handle, p), "snd_pcm_sw_params")
        return try currentSoftwareConfiguration()
    }

    /// The sw_params in force now.
    ///
    /// The corresponding ALSA function is `snd_pcm_sw_params_current`.
    public func currentSoftwareConfiguration() throws(ALSAError) -> SoftwareConfiguration {
        let params = try SoftwareParameters()
        let p = params.raw
        try check(alsa_sw_params_current(handle, p), "snd_pcm_sw_params_current")
        var boundary: UInt = 0
        var start: UInt = 0
        var stop: UInt = 0
        var availMin: UInt = 0
        var periodEvent: CInt = 0
        var silence: UInt = 0
        var mode = SND_PCM_TSTAMP_NONE
        var type = SND_PCM_TSTAMP_TYPE_GETTIMEOFDAY
        try check(alsa_sw_params_get_boundary(p, &boundary), "snd_pcm_sw_params_get_boundary")
        try check(alsa_sw_params_get_start_threshold(p, &start), "snd_pcm_sw_params_get_start_threshold")
        try check(alsa_sw_params_get_stop_threshold(p, &stop), "snd_pcm_sw_params_get_stop_threshold")
        try check(alsa_sw_params_get_avail_min(p, &availMin), "snd_pcm_sw_params_get_avail_min")
        try check(alsa_sw_params_get_period_event(p, &periodEvent), "snd_pcm_sw_params_get_period_event")
        try check(alsa_sw_params_get_silence_size(p, &silence), "snd_pcm_sw_params_get_silence_size")
        try check(alsa_sw_params_get_tstamp_mode(p, &mode), "snd_pcm_sw_params_get_tstamp_mode")
        try check(alsa_sw_params_get_tstamp_type(p, &type), "snd_pcm_sw_params_get_tstamp_type")
        return SoftwareConfiguration(
            boundary: FrameCount(clamping: boundary),
            startThreshold: FrameCount(clamping: start),
            stopThreshold: FrameCount(clamping: stop),
            availMin: FrameCount(clamping: availMin),
            periodEvent: periodEvent != 0,
            timestampsEnabled: mode != SND_PCM_TSTAMP_NONE,
            monotonicTimestamps: type == SND_PCM_TSTAMP_TYPE_MONOTONIC,
            silenceSize: FrameCount(clamping: silence)
        )
    }
}
