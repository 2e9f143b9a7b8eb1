// Moving avail_min, the fill level at which poll wakes the audio thread, while the stream runs.
// pcmd wakes every period only while a client needs it (a small ring) and every few periods
// otherwise, so the threshold changes when streams come and go. Changing it must not allocate
// inside the period loop: the sw_params set is allocated once, when the device is opened, and
// afterwards only its avail_min field changes before one SNDRV_PCM_IOCTL_SW_PARAMS.
import CALSA
import Glibc
import PCMBufferCore

/// A preallocated sw_params set through which the audio thread moves avail_min.
public struct WakeThreshold: ~Copyable {
    private let parameters: SoftwareParameters
    /// The avail_min in force: poll reports the PCM ready once this many frames are available.
    public private(set) var frames: FrameCount

    /// Captures the sw_params in force on `pcm`; call it after `PCM.configureSoftware`, outside
    /// the period loop (it allocates).
    ///
    /// The corresponding ALSA functions are `snd_pcm_sw_params_malloc` and `snd_pcm_sw_params_current`.
    public init(pcm: borrowing PCM) throws(ALSAError) {
        let parameters = try SoftwareParameters()
        try check(alsa_sw_params_current(pcm.handle, parameters.raw), "snd_pcm_sw_params_current")
        var availMin: UInt = 0
        try check(alsa_sw_params_get_avail_min(parameters.raw, &availMin), "snd_pcm_sw_params_get_avail_min")
        self.parameters = parameters
        self.frames = FrameCount(clamping: availMin)
    }

    /// Installs `newFrames` as avail_min, keeping every other software parameter. Does nothing
    /// when it is already in force. Safe in the period loop: one ioctl, no allocation.
    ///
    /// - Throws: `-EINVAL` for a threshold under one frame or over the buffer (alsa-lib's own
    ///   check), or whatever the driver says.
    ///
    /// The corresponding ALSA functions are `snd_pcm_sw_params_set_avail_min` and `snd_pcm_sw_params`.
    public mutating func set(_ newFrames: FrameCount, on pcm: borrowing PCM) throws(ALSAError) {
        guard newFrames != frames else { return }
        if let hardware = pcm.hardware, newFrames.value < 1 || newFrames > hardware.bufferFrames {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_sw_params_set_avail_min",
                            reason: .invalidRequest(field: "avail_min", value: newFrames.value))
        }
        try check(alsa_sw_params_set_avail_min(pcm.handle, parameters.raw, UInt(newFrames.value)), "snd_pcm_sw_params_set_avail_min")
        try check(alsa_sw_params_install(pcm.handle, parameters.raw), "snd_pcm_sw_params")
        // Read back what is in force: alsa-lib raises a threshold under one period to the period.
        // Copies from the PCM's own fields, no system call.
        try check(alsa_sw_params_current(pcm.handle, parameters.raw), "snd_pcm_sw_params_current")
        var installed: UInt = 0
        try check(alsa_sw_params_get_avail_min(parameters.raw, &installed), "snd_pcm_sw_params_get_avail_min")
        frames = FrameCount(clamping: installed)
    }
}
