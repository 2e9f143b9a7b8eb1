// Direct access to the device's ring buffer: mmap_begin lends a contiguous region at the
// application pointer, the caller reads or writes frames there in place, and mmap_commit hands
// them over. The region is a plain value of pointers and counts: no allocation, no copy.

import CALSA
import Glibc
import PCMBufferCore

/// Where one channel's samples of an `MMapRegion` are.
public struct ChannelArea {
    /// The first sample of this channel at the region's offset.
    public let base: UnsafeMutableRawPointer
    /// Bytes from one frame's sample to the next frame's (the channel count times the sample
    /// size for interleaved access, the sample size for non-interleaved).
    public let stride: Int

    /// The address of this channel's sample in frame `frame` of the region.
    @inlinable public func sample(at frame: Int) -> UnsafeMutableRawPointer { base + frame * stride }
}

/// A contiguous stretch of the ring buffer lent by `mmap_begin`, valid until the matching
/// `mmapCommit`. Write playback frames into it, or read captured frames out of it.
public struct MMapRegion {
    /// The position in the ring buffer where the region starts (`appl_ptr % buffer_size`).
    public let offset: FrameCount
    /// How many frames the region holds (contiguous; may be fewer than asked at the wrap).
    public let frames: FrameCount
    /// The access type, which decides how channels are laid out.
    public let access: PCMAccess
    /// Channels per frame.
    public let channels: Int
    let areas: UnsafePointer<snd_pcm_channel_area_t>

    /// Where channel `index`'s samples start at `offset`, and their stride.
    ///
    /// alsa-lib's areas give `first` and `step` in bits; a channel whose samples do not start
    /// on a byte boundary cannot happen for the formats pcmd negotiates.
    @inlinable public func channel(_ index: Int) -> ChannelArea {
        precondition(index >= 0 && index < channels, "channel index out of range")
        return area(index)
    }

    @usableFromInline func area(_ index: Int) -> ChannelArea {
        let area = areas[index]
        let stepBytes = Int(area.step) / 8
        let firstBytes = Int(area.first) / 8
        let base = area.addr! + firstBytes + offset.value * stepBytes
        return ChannelArea(base: base, stride: stepBytes)
    }

    /// For interleaved access: the first frame of the region (channel 0's sample).
    public var interleavedBase: UnsafeMutableRawPointer { area(0).base }

    /// For interleaved access: bytes per frame.
    public var frameStride: Int { area(0).stride }

    /// For interleaved access: the whole region as bytes (`frames × frameStride`).
    /// - Precondition: the access is `.mmapInterleaved`.
    public var interleavedBytes: UnsafeMutableRawBufferPointer {
        precondition(access == .mmapInterleaved, "interleavedBytes needs MMAP_INTERLEAVED access")
        return UnsafeMutableRawBufferPointer(start: interleavedBase, count: frames.value * frameStride)
    }
}

extension PCM {
    /// Lends up to `maxFrames` contiguous frames of the ring buffer at the application pointer.
    /// Call `availUpdate()` first; commit with `mmapCommit` before the next `mmapBegin`.
    ///
    /// Returns `.interrupted(.failed(...))` with `-EBADFD` when hw_params are not installed or the
    /// PCM is not in a runnable state, `.xrun`/`.suspended`/`.disconnected` as they happen.
    ///
    /// The corresponding ALSA function is `snd_pcm_mmap_begin`.
    public func mmapBegin(maxFrames: FrameCount) -> MMapBeginResult {
        guard let hardware else {
            return .interrupted(.failed(ALSAError(code: -EBADFD, function: "snd_pcm_mmap_begin")))
        }
        var areas: UnsafePointer<snd_pcm_channel_area_t>?
        var offset: UInt = 0
        var frames = UInt(max(0, maxFrames.value))
        let result = alsa_pcm_mmap_begin(handle, &areas, &offset, &frames)
        if result < 0 { return .interrupted(StreamInterruption(code: result, function: "snd_pcm_mmap_begin")) }
        guard let areas else {
            return .interrupted(.failed(ALSAError(code: -EFAULT, function: "snd_pcm_mmap_begin")))
        }
        return .ok(
            MMapRegion(
                offset: FrameCount(clamping: offset), frames: FrameCount(clamping: frames),
                access: hardware.access, channels: hardware.channels, areas: areas
            )
        )
    }

    /// Hands `frames` frames of `region` (all of it by default) to the device (playback) or
    /// back to the ring (capture). A commit of fewer frames than asked means the stream
    /// xrun meanwhile, and is reported as `.interrupted(.xrun)`.
    /// - Precondition: `frames` is between 0 and `region.frames`.
    ///
    /// The corresponding ALSA function is `snd_pcm_mmap_commit`.
    public func mmapCommit(_ region: MMapRegion, frames: FrameCount? = nil) -> TransferResult {
        let count = frames ?? region.frames
        precondition(count.value >= 0 && count <= region.frames, "cannot commit more frames than mmap_begin lent")
        let result = alsa_pcm_mmap_commit(handle, UInt(region.offset.value), UInt(count.value))
        if result < 0 { return .interrupted(StreamInterruption(code: CInt(truncatingIfNeeded: result), function: "snd_pcm_mmap_commit")) }
        if result != count.value { return .interrupted(.xrun) }
        return .ok(count)
    }

    /// `mmapBegin`, then `body` on the region, then `mmapCommit` of the frames `body` returns.
    ///
    /// `body` is not escaping, so no closure context is allocated.
    public func mmapTransfer(maxFrames: FrameCount, _ body: (MMapRegion) -> FrameCount) -> TransferResult {
        switch mmapBegin(maxFrames: maxFrames) {
        case .interrupted(let interruption):
            return .interrupted(interruption)
        case .ok(let region):
            let done = body(region)
            return mmapCommit(region, frames: done)
        }
    }
}
