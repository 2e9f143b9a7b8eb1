// What a Swift "external PCM" (an alsa-lib ioplug plugin, such as pcmd's own
// libasound_module_pcm_pcmd.so) implements, in Swift terms: alsa-lib's C callbacks arrive
// through ExternalPCM, which turns their arguments into the values below and their results back
// into negative errnos. Nothing here is specific to pcmd.
//
// alsa-lib calls some callbacks with the PCM's lock held (start, stop, pointer, transfer, pause)
// and some without (prepare, sw_params, drain, poll_revents): a driver that applications may
// drive from several threads keeps its own lock.

import PCMBufferCore

/// A failure to report to the application: alsa-lib returns `-code` from the call.
public struct ExternalPCMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno (positive), e.g. `ENODEV`.
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { "errno \(code)" }
}

/// Which way an external PCM moves audio.
public enum ExternalPCMDirection: Sendable, Equatable {
    case playback
    case capture
}

/// The hardware setup the application negotiated (snd_pcm_hw_params), in the application's
/// frames.
public struct ExternalPCMSetup: Sendable, Equatable {
    public var format: SampleFormat
    public var channels: Int
    public var rate: Int
    public var periodFrames: Int
    public var bufferFrames: Int
    /// MMAP access rather than read/write; the driver sees the same transfers either way.
    public var mmapAccess: Bool

    public init(format: SampleFormat, channels: Int, rate: Int, periodFrames: Int, bufferFrames: Int, mmapAccess: Bool) {
        self.format = format
        self.channels = channels
        self.rate = rate
        self.periodFrames = periodFrames
        self.bufferFrames = bufferFrames
        self.mmapAccess = mmapAccess
    }

    /// Bytes of one interleaved frame.
    public var bytesPerFrame: Int { format.bytesPerSample * channels }
}

/// The software setup the application chose (snd_pcm_sw_params), in the application's frames.
public struct ExternalPCMSoftwareSetup: Sendable, Equatable {
    /// Wake the application when this many frames can be written (playback) or read (capture).
    public var availMin: Int
    /// Frames queued at which alsa-lib starts the stream by itself.
    public var startThreshold: Int
    /// Free frames at which the stream counts as overrun/underrun; at or beyond `boundary`, never.
    public var stopThreshold: Int
    /// Where alsa-lib's positions wrap.
    public var boundary: Int

    public init(availMin: Int, startThreshold: Int, stopThreshold: Int, boundary: Int) {
        self.availMin = availMin
        self.startThreshold = startThreshold
        self.stopThreshold = stopThreshold
        self.boundary = boundary
    }

    /// Whether the application wants xruns reported at all (a stop threshold at the boundary
    /// means "never stop, play what is there").
    public var reportsXruns: Bool { stopThreshold < boundary }
}

/// What ``ExternalPCMDriver/pointer()`` says about the stream.
public enum ExternalPCMPosition: Sendable, Equatable {
    /// Playback: the frames the application should see as still queued (0 ... its buffer).
    /// Capture: the frames it can read now (0 ... its buffer). ExternalPCM places the hardware
    /// pointer that far behind (ahead of) alsa-lib's own application pointer, modulo the
    /// boundary, so a rewind or forward the driver never hears of (ioplug has no hook for them)
    /// cannot make alsa-lib offer more room than the driver has.
    case queued(Int)
    /// The application's own underrun (playback) or overrun (capture).
    case xrun
    /// The server is gone: the application gets -ENODEV from now on.
    case disconnected
}

/// What ``ExternalPCMDriver/pollReadiness(descriptorReadable:)`` found.
public enum ExternalPCMReadiness: Sendable, Equatable {
    /// avail_min frames can be written (playback) or read (capture), or an xrun waits to be
    /// reported by the next pointer call.
    case ready
    /// Not yet: the application should poll again.
    case notReady
    /// The server is gone: the application gets -ENODEV.
    case disconnected
}

/// A Swift external PCM. Errors thrown become the negative errno alsa-lib returns.
public protocol ExternalPCMDriver: AnyObject {
    /// The descriptor alsa-lib hands the application to poll for POLLIN; it must stay the same
    /// for the PCM's whole life (applications keep it across prepare).
    var pollDescriptor: Int32 { get }
    /// After snd_pcm_hw_params.
    func hardwareParametersChosen(_ setup: ExternalPCMSetup) throws(ExternalPCMError)
    /// snd_pcm_hw_free: whatever hardware_parameters set up goes.
    func hardwareParametersFreed()
    /// After snd_pcm_sw_params (also the defaults alsa-lib sets after hw_params). Returns the
    /// setup to apply: the same, or with a lower avail_min when the application asked to be
    /// woken for more frames than the driver can ever hold (it would wait forever).
    func softwareParametersChosen(_ setup: ExternalPCMSoftwareSetup) throws(ExternalPCMError) -> ExternalPCMSoftwareSetup
    /// snd_pcm_prepare: be ready to start from position 0.
    func prepare() throws(ExternalPCMError)
    /// Start moving audio (the start threshold was reached, or snd_pcm_start).
    func start() throws(ExternalPCMError)
    /// snd_pcm_drop (and the end of a drain): stop at once, discarding what is queued.
    func stop()
    /// The frames queued (or readable), an xrun, or a server that went away.
    func pointer() -> ExternalPCMPosition
    /// Moves `frames` interleaved frames: out of `bytes` (playback) or into it (capture).
    /// Returns the frames moved; alsa-lib only offers what ``pointer()`` said is available.
    func transfer(_ bytes: UnsafeMutableRawBufferPointer, frames: Int) throws(ExternalPCMError) -> Int
    /// snd_pcm_drain on a playback stream: returns once everything queued was played.
    func drain() throws(ExternalPCMError)
    /// snd_pcm_pause.
    func pause(_ enable: Bool) throws(ExternalPCMError)
    /// Frames between the application's next frame and the speaker (playback) or between the
    /// microphone and the application's next read (capture). Must not fail before the stream
    /// has a clock.
    func delay() throws(ExternalPCMError) -> Int
    /// After the application's poll(): is the stream ready, given whether the poll descriptor
    /// was readable? The driver also resets whatever made the descriptor readable when the
    /// stream is not ready, so that the next poll sleeps.
    func pollReadiness(descriptorReadable: Bool) -> ExternalPCMReadiness
    /// snd_pcm_close: release everything. No other call follows.
    func close()
}
