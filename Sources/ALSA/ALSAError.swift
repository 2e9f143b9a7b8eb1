// The one error type of the ALSA module: a negative errno from alsa-lib, the function that
// returned it, and (for negotiation) the reason in pcmd's own words. Every negative return in
// this module passes through `check` so that no alsa-lib failure is dropped or re-described
// differently in two places.

import CALSA
import Glibc
import PCMBufferCore

/// A failed alsa-lib call, or a device that cannot give what was asked for.
///
/// The fields are plain values (no `String` is built until `description` is read), so creating
/// and throwing one on the audio thread does not allocate.
public struct ALSAError: Error, Sendable, CustomStringConvertible {
    /// What pcmd was trying to do when the device said no, beyond the bare errno.
    public enum Reason: Sendable, Equatable {
        /// The device name did not open; carries the name as given.
        case cannotOpen(device: String)
        /// The device offers neither MMAP_INTERLEAVED nor MMAP_NONINTERLEAVED access.
        case noMMapAccess(device: String)
        /// The device does not offer the one access the request insisted on.
        case accessUnsupported(device: String, access: PCMAccess)
        /// The device does not take this sample format.
        case formatUnsupported(SampleFormat)
        /// The device does not take this channel count; `offered` is its range.
        case channelsUnsupported(wanted: Int, offered: ClosedRange<Int>)
        /// The device would round the rate: pcmd never resamples silently.
        case rateNotExact(wanted: Int, offered: Int)
        /// The caller's buffer cap is below what the device can do at all.
        case bufferCapBelowDeviceMinimum(cap: Int, deviceMinimum: Int)
        /// The device could not fit any buffer/period pair into the request.
        case bufferAndPeriodRejected(bufferFrames: Int, periodFrames: Int)
        /// A request field was out of range before the device was even asked.
        case invalidRequest(field: String, value: Int)
        /// The PCM uses an access type the mmap API cannot describe (e.g. MMAP_COMPLEX).
        case unsupportedAccess
    }

    /// The negative errno alsa-lib returned (for example `-EPIPE`), or the errno that best
    /// describes a negotiation failure (`-EINVAL`) when pcmd itself refused.
    public let code: CInt
    /// The alsa-lib function that failed, e.g. `"snd_pcm_hw_params_set_rate"`.
    public let function: StaticString
    /// pcmd's explanation for failures that a bare errno would leave unclear.
    public let reason: Reason?

    /// Makes an error from a negative alsa-lib return value.
    public init(code: CInt, function: StaticString, reason: Reason? = nil) {
        self.code = code < 0 ? code : -code
        self.function = function
        self.reason = reason
    }

    /// alsa-lib's text for the errno (`snd_strerror`).
    public var message: String { String(cString: alsa_strerror(code)) }

    /// The failing function as a `String`, convenient for logs and tests.
    public var functionName: String { function.description }

    /// True for `-EPIPE`: the buffer ran empty (playback) or full (capture).
    public var isXrun: Bool { code == -EPIPE }
    /// True for `-ESTRPIPE`: the system suspended the device.
    public var isSuspended: Bool { code == -ESTRPIPE }
    /// True for `-ENODEV`: the device went away (unplugged, driver unloaded).
    public var isDisconnected: Bool { code == -ENODEV }
    /// True for `-EAGAIN`: a nonblocking call would have had to wait.
    public var isWouldBlock: Bool { code == -EAGAIN }
    /// True for `-EBADFD`: the call is not allowed in the PCM's current state.
    public var isBadState: Bool { code == -EBADFD }

    public var description: String {
        let base = "\(function) failed: \(message) (\(code))"
        guard let reason else { return base }
        switch reason {
        case .cannotOpen(let device):
            return "cannot open ALSA PCM '\(device)': \(base)"
        case .noMMapAccess(let device):
            return "ALSA PCM '\(device)' offers no mmap access (neither MMAP_INTERLEAVED nor MMAP_NONINTERLEAVED): \(base)"
        case .accessUnsupported(let device, let access):
            return "ALSA PCM '\(device)' does not offer \(access) access: \(base)"
        case .formatUnsupported(let format):
            return "the device does not support sample format \(format.name): \(base)"
        case .channelsUnsupported(let wanted, let offered):
            return "the device does not support \(wanted) channels (it offers \(offered.lowerBound)...\(offered.upperBound)): \(base)"
        case .rateNotExact(let wanted, let offered):
            return "the device cannot run at \(wanted) Hz exactly (it offers \(offered) Hz): \(base)"
        case .bufferCapBelowDeviceMinimum(let cap, let minimum):
            return "the buffer cap of \(cap) frames is below the device's minimum buffer of \(minimum) frames: \(base)"
        case .bufferAndPeriodRejected(let buffer, let period):
            return "the device accepts neither buffer \(buffer) frames nor period \(period) frames: \(base)"
        case .invalidRequest(let field, let value):
            return "invalid \(field): \(value): \(base)"
        case .unsupportedAccess:
            return "the PCM's access type cannot be used through mmap areas: \(base)"
        }
    }
}

/// Returns `result` unchanged when it is zero or positive, and throws it as an `ALSAError`
/// naming `function` when it is negative. Every alsa-lib call that can fail goes through here.
@inline(__always)
@discardableResult
func check(_ result: CInt, _ function: StaticString) throws(ALSAError) -> CInt {
    if result < 0 { throw ALSAError(code: result, function: function) }
    return result
}

/// The `snd_pcm_sframes_t` flavour of `check` (frame counts come back as `long`).
@inline(__always)
@discardableResult
func check(_ result: Int, _ function: StaticString) throws(ALSAError) -> Int {
    if result < 0 { throw ALSAError(code: CInt(truncatingIfNeeded: result), function: function) }
    return result
}
