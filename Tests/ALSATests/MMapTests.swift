// The mmap cycle on the null PCM: regions lent at the right offsets with the right strides,
// known frames written in place, commits counted, no auto-start; and mmap in the wrong state
// comes back as an error value.

import ALSA
import Glibc
import PCMBufferCore
import Testing

@Suite struct MMapTests {
    @Test func playbackCycle_fillsTheWholeBufferInPeriodsWithoutStarting() throws {
        let pcm = try configuredPCM(.playback)
        #expect(pcm.availUpdate().value == 4800)
        var written = 0
        while written < 4800 {
            guard case .ok(let region) = pcm.mmapBegin(maxFrames: 1200) else {
                Issue.record("mmap_begin failed at frame \(written)")
                return
            }
            #expect(region.offset.value == written)
            #expect(region.frames == 1200)
            #expect(region.access == .mmapInterleaved)
            #expect(region.channels == 2)
            #expect(region.frameStride == 4)
            #expect(region.channel(1).base == region.channel(0).base + 2)
            #expect(region.channel(1).stride == 4)
            for frame in 0..<region.frames.value {
                for channel in 0..<2 {
                    region.channel(channel).sample(at: frame)
                        .storeBytes(of: patternSample(frame: written + frame, channel: channel), as: Int16.self)
                }
            }
            // The bytes just written read back through the interleaved view.
            let bytes = region.interleavedBytes
            #expect(bytes.count == 4800)
            #expect(bytes.load(fromByteOffset: 4, as: Int16.self) == patternSample(frame: written + 1, channel: 0))
            #expect(pcm.mmapCommit(region).value == 1200)
            written += 1200
        }
        #expect(pcm.availUpdate().value == 0)
        // mmap commits never start a stream (start_threshold = boundary anyway).
        #expect(pcm.state == .prepared)
        try pcm.start()
        #expect(pcm.state == .running)
    }

    @Test func mmapTransfer_commitsWhatTheBodyReturns() throws {
        let pcm = try configuredPCM(.playback)
        let result = pcm.mmapTransfer(maxFrames: 1200) { region in
            #expect(region.frames == 1200)
            region.interleavedBytes.initializeMemory(as: UInt8.self, repeating: 0)
            return 500
        }
        #expect(result.value == 500)
        #expect(pcm.availUpdate().value == 4300)
        // The next region starts where the short commit ended.
        guard case .ok(let next) = pcm.mmapBegin(maxFrames: 10_000) else {
            Issue.record("mmap_begin failed")
            return
        }
        #expect(next.offset == 500)
        #expect(next.frames == 4300)
        #expect(pcm.mmapCommit(next, frames: 0).value == 0)
    }

    @Test func regionAtTheRingWrap_isShorterThanAsked() throws {
        let pcm = try configuredPCM(.playback)
        #expect(pcm.mmapTransfer(maxFrames: 4000) { $0.frames }.value == 4000)
        try pcm.start()
        // null hands the whole buffer back at once; the contiguous part ends at the wrap.
        #expect(pcm.availUpdate().value == 4800)
        guard case .ok(let region) = pcm.mmapBegin(maxFrames: 4800) else {
            Issue.record("mmap_begin failed")
            return
        }
        #expect(region.offset == 4000)
        #expect(region.frames == 800)
        #expect(pcm.mmapCommit(region).value == 800)
        guard case .ok(let wrapped) = pcm.mmapBegin(maxFrames: 4800) else {
            Issue.record("mmap_begin failed")
            return
        }
        #expect(wrapped.offset == 0)
        #expect(pcm.mmapCommit(wrapped).value == wrapped.frames)
    }

    @Test func captureCycle_readsWholePeriodsAfterStart() throws {
        let pcm = try configuredPCM(.capture)
        #expect(pcm.availUpdate().value == 0)
        try pcm.start()
        guard case .ok(let avail) = pcm.availUpdate() else {
            Issue.record("avail_update failed")
            return
        }
        #expect(avail == 4800)
        let result = pcm.mmapTransfer(maxFrames: 1200) { region in
            #expect(region.interleavedBytes.count == 1200 * 4)
            return region.frames
        }
        #expect(result.value == 1200)
    }

    @Test func mmapBegin_beforeHardwareParameters_isAnErrorValue() throws {
        let pcm = try PCM(device: "null", direction: .playback)
        guard case .interrupted(.failed(let error)) = pcm.mmapBegin(maxFrames: 64) else {
            Issue.record("mmap_begin on an unconfigured PCM did not fail")
            return
        }
        #expect(error.isBadState)
        #expect(error.functionName == "snd_pcm_mmap_begin")
    }

    @Test func mmapBegin_inSetupAfterDrop_isABadStateValue() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.drop()
        #expect(pcm.state == .setup)
        guard case .interrupted(.failed(let error)) = pcm.mmapBegin(maxFrames: 64) else {
            Issue.record("mmap_begin in SETUP did not fail")
            return
        }
        // pcm-memory.md §4: -77 (EBADFD) from alsa-lib itself.
        #expect(error.code == -EBADFD)
    }

    @Test func sixChannelS32Region_channelsAreOneSampleApartWithFrameStride() throws {
        let pcm = try configuredPCM(
            .playback, request: HardwareRequest(format: .s32, channels: 6, rate: 48000, maxBufferFrames: 1024, periodFrames: 256)
        )
        guard case .ok(let region) = pcm.mmapBegin(maxFrames: 256) else {
            Issue.record("mmap_begin failed")
            return
        }
        for channel in 0..<6 {
            #expect(region.channel(channel).stride == 24)
            #expect(region.channel(channel).base == region.interleavedBase + channel * 4)
        }
        #expect(pcm.mmapCommit(region).value == 256)
    }
}
