// Shared set-up for the ALSA tests: a null PCM configured like the daemon configures a device
// (S16 stereo 48 kHz, 4800-frame buffer in 1200-frame periods, pcmd's sw_params).

import ALSA
import PCMBufferCore

/// The hw_params request most tests use.
let standardRequest = HardwareRequest(
    format: .s16, channels: 2, rate: 48000, maxBufferFrames: 4800, bufferFrames: 4800, periodFrames: 1200
)

/// Opens `device` (null by default) and installs `standardRequest` and default sw_params.
func configuredPCM(
    _ direction: PCM.Direction, device: String = "null", request: HardwareRequest = standardRequest
) throws(ALSAError) -> PCM {
    var pcm = try PCM(device: device, direction: direction)
    try pcm.configureHardware(request)
    try pcm.configureSoftware()
    return pcm
}

/// A recognisable S16 stereo frame pattern: frame `i` holds `(i, -i)` modulo 16 bits, so that
/// any misplaced, dropped or repeated frame shows up in a byte comparison.
func patternSample(frame: Int, channel: Int) -> Int16 {
    let value = Int16(truncatingIfNeeded: frame &* 7 &+ 3)
    return channel == 0 ? value : ~value
}
