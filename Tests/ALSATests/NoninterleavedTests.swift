// MMAP_NONINTERLEAVED: negotiated on request (null offers both accesses), one area per channel,
// and proof through the file PCM (which writes interleaved frames) that each channel's area is
// addressed correctly at every offset. Real devices such as RME Hammerfall cards offer only
// this access, so the interleaved-first fallback lands here.

import ALSA
import Glibc
import PCMBufferCore
import Testing

@Suite struct NoninterleavedTests {
    private let request = HardwareRequest(
        format: .s16, channels: 2, rate: 48000, maxBufferFrames: 1000, bufferFrames: 1000, periodFrames: 250,
        access: .only(.mmapNoninterleaved)
    )

    @Test func onlyNoninterleaved_isNegotiatedAndReadBack() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        let limits = try pcm.hardwareLimits(format: .s16, channels: 2, rate: 48000, access: .only(.mmapNoninterleaved))
        #expect(limits.access == .mmapNoninterleaved)
        let chosen = try pcm.configureHardware(request)
        #expect(chosen.access == .mmapNoninterleaved)
    }

    @Test func regions_haveOneAreaPerChannelWithSampleStride() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(request)
        try pcm.configureSoftware()
        #expect(pcm.mmapTransfer(maxFrames: 100) { $0.frames }.value == 100)
        guard case .ok(let region) = pcm.mmapBegin(maxFrames: 250) else {
            Issue.record("mmap_begin failed")
            return
        }
        #expect(region.access == .mmapNoninterleaved)
        #expect(region.offset == 100)
        let left = region.channel(0)
        let right = region.channel(1)
        #expect(left.stride == 2)
        #expect(right.stride == 2)
        // Each channel has its own buffer of 1000 samples (alsa-lib places them apart with
        // alignment padding), so the two channels' areas never overlap.
        #expect(abs(right.base - left.base) >= 1000 * 2)
        #expect(pcm.mmapCommit(region).value == 250)
    }

    @Test func filePCM_interleavesWhatWasWrittenPerChannel_bitExact() throws {
        let path = "/tmp/pcmd-alsa-test-\(getpid())-noninterleaved.raw"
        defer { unlink(path) }
        var pcm = try PCM(device: "file:'\(path)',raw", direction: .playback)
        try pcm.configureHardware(request)
        try pcm.configureSoftware()
        var expected: [UInt8] = []
        var written = 0
        var started = false
        while written < 2600 {
            guard case .ok(let avail) = pcm.availUpdate() else {
                Issue.record("avail_update failed")
                return
            }
            if avail.value < 250 && !started {
                try pcm.start()
                started = true
                continue
            }
            let want = FrameCount(min(250, 2600 - written, avail.value))
            let result = pcm.mmapTransfer(maxFrames: want) { region in
                for frame in 0..<region.frames.value {
                    for channel in 0..<2 {
                        let sample = patternSample(frame: written + frame, channel: channel)
                        region.channel(channel).sample(at: frame).storeBytes(of: sample, as: Int16.self)
                        withUnsafeBytes(of: sample.littleEndian) { expected.append(contentsOf: $0) }
                    }
                }
                return region.frames
            }
            guard case .ok(let moved) = result else {
                Issue.record("commit failed")
                return
            }
            written += moved.value
        }
        try pcm.drain()
        try pcm.close()
        #expect(expected.count == 2600 * 4)
        let file = try #require(fopen(path, "rb"))
        defer { fclose(file) }
        var contents = [UInt8](repeating: 0, count: expected.count + 16)
        let count = fread(&contents, 1, contents.count, file)
        #expect(count == expected.count)
        #expect(Array(contents[0..<min(count, expected.count)]) == expected)
    }

    @Test func captureRegion_saysItIsNoninterleaved() throws {
        // Callers branch on `region.access` (`interleavedBytes` traps on a noninterleaved region).
        var pcm = try PCM(device: "null", direction: .capture)
        try pcm.configureHardware(request)
        try pcm.start()
        guard case .ok(let region) = pcm.mmapBegin(maxFrames: 10) else {
            Issue.record("mmap_begin failed")
            return
        }
        #expect(region.access != .mmapInterleaved)
        #expect(pcm.mmapCommit(region, frames: 0).value == 0)
    }
}
