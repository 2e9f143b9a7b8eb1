// Poll integration: the PCM's descriptors go into a caller-owned pollfd array (allocated once,
// sized by `pollDescriptorCount`), the caller polls them together with its own (an eventfd to
// wake the audio thread), and `pollEvents` turns the raw revents into what the PCM means.

import CALSA
import Glibc

/// What the PCM is ready for after `poll()`, as reduced by alsa-lib.
public struct PollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Captured frames can be read (avail ≥ avail_min).
    public static let readable = PollEvents(rawValue: UInt16(POLLIN))
    /// Playback space can be written (avail ≥ avail_min).
    public static let writable = PollEvents(rawValue: UInt16(POLLOUT))
    /// The stream stopped: xrun, suspended, not prepared, or disconnected. Check `state`.
    public static let error = PollEvents(rawValue: UInt16(POLLERR))
    /// The device hung up (disconnected).
    public static let hangup = PollEvents(rawValue: UInt16(POLLHUP))
}

extension PCM {
    /// How many descriptors the PCM polls on (1 for most devices, 2 with period events on `hw`).
    ///
    /// The corresponding ALSA function is `snd_pcm_poll_descriptors_count`.
    public func pollDescriptorCount() throws(ALSAError) -> Int {
        Int(try check(alsa_pcm_poll_descriptors_count(handle), "snd_pcm_poll_descriptors_count"))
    }

    /// Fills the start of `buffer` with the PCM's descriptors and returns how many it filled.
    /// - Throws: `-EINVAL` naming `snd_pcm_poll_descriptors` when `buffer` is smaller than
    ///   `pollDescriptorCount()`, rather than a silently partial set.
    ///
    /// The corresponding ALSA function is `snd_pcm_poll_descriptors`.
    public func fillPollDescriptors(into buffer: UnsafeMutableBufferPointer<pollfd>) throws(ALSAError) -> Int {
        let needed = try pollDescriptorCount()
        guard let base = buffer.baseAddress, buffer.count >= needed else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_poll_descriptors")
        }
        return Int(try check(alsa_pcm_poll_descriptors(handle, base, CUnsignedInt(needed)), "snd_pcm_poll_descriptors"))
    }

    /// Reduces the revents that `poll()` left in the PCM's descriptors (the first `count`
    /// entries of `buffer`) to what they mean for the PCM. Mandatory after every poll:
    /// plugins may report readiness on a descriptor that does not mean the PCM is ready.
    ///
    /// The corresponding ALSA function is `snd_pcm_poll_descriptors_revents`.
    public func pollEvents(_ buffer: UnsafeMutableBufferPointer<pollfd>, count: Int) throws(ALSAError) -> PollEvents {
        guard let base = buffer.baseAddress, count >= 0, count <= buffer.count else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_poll_descriptors_revents")
        }
        var revents: UInt16 = 0
        try check(
            alsa_pcm_poll_descriptors_revents(handle, base, CUnsignedInt(count), &revents),
            "snd_pcm_poll_descriptors_revents"
        )
        return PollEvents(rawValue: revents)
    }
}
