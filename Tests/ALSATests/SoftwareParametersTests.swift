// sw_params as the daemon installs them: explicit start, stop at xrun (or never), wake once
// per period, monotonic timestamps; and what happens when hw_params are missing.

import ALSA
import Glibc
import PCMBufferCore
import Testing

@Suite struct SoftwareParametersTests {
    @Test func defaults_explicitStartStopAtBufferWakeEachPeriodTimestampsOn() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        let sw = try pcm.configureSoftware()
        // pcm-memory.md §3: with a 4800-frame buffer the boundary is 5404319552844595200.
        #expect(sw.boundary == FrameCount(5_404_319_552_844_595_200))
        #expect(sw.startThreshold == sw.boundary)
        #expect(sw.stopThreshold == 4800)
        #expect(sw.availMin == 1200)
        #expect(sw.periodEvent == false)
        #expect(sw.timestampsEnabled)
        #expect(sw.monotonicTimestamps)
        #expect(sw.silenceSize == 0)
        #expect(try pcm.currentSoftwareConfiguration() == sw)
    }

    @Test func silenceAfterPlayed_silencesAllPlayedSpace() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        let sw = try pcm.configureSoftware(SoftwareRequest(silenceAfterPlayed: true))
        // The kernel's rule for "fill all played space": silence_size ≥ boundary, threshold 0.
        #expect(sw.silenceSize == sw.boundary)
        #expect(sw.stopThreshold == 4800)
    }

    @Test func runFreely_setsStopThresholdToBoundary() throws {
        var pcm = try PCM(device: "null", direction: .capture)
        try pcm.configureHardware(standardRequest)
        let sw = try pcm.configureSoftware(SoftwareRequest(stopOnXrun: false, availMin: 2400, periodEvent: true))
        #expect(sw.stopThreshold == sw.boundary)
        #expect(sw.availMin == 2400)
        #expect(sw.periodEvent)
    }

    @Test func availMinBelowPeriod_isRaisedToThePeriodByALSA() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        let sw = try pcm.configureSoftware(SoftwareRequest(availMin: 10))
        #expect(sw.availMin == 1200)
    }

    @Test func availMinZero_isRejectedBeforeReachingALSA() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        let error = #expect(throws: ALSAError.self) { try pcm.configureSoftware(SoftwareRequest(availMin: 0)) }
        #expect(error?.reason == .invalidRequest(field: "avail_min", value: 0))
        // The earlier sw_params are untouched.
        #expect(try pcm.currentSoftwareConfiguration().availMin == 1200)
    }

    @Test func beforeHardwareParameters_throwsBadState() throws {
        let pcm = try PCM(device: "null", direction: .playback)
        let error = #expect(throws: ALSAError.self) { try pcm.configureSoftware() }
        #expect(error?.isBadState == true)
        #expect(error?.functionName == "snd_pcm_sw_params")
    }

    // WakeThreshold: the audio thread moves avail_min while the stream runs.

    @Test func wakeThreshold_movesAvailMinAndKeepsEverythingElse() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        let before = try pcm.configureSoftware(SoftwareRequest(silenceAfterPlayed: true))
        var threshold = try WakeThreshold(pcm: pcm)
        #expect(threshold.frames == 1200)
        try threshold.set(2400, on: pcm)
        #expect(threshold.frames == 2400)
        var after = try pcm.currentSoftwareConfiguration()
        #expect(after.availMin == 2400)
        after.availMin = before.availMin
        #expect(after == before, "only avail_min changed")
        try pcm.start()
        try threshold.set(3600, on: pcm)
        #expect(try pcm.currentSoftwareConfiguration().availMin == 3600)
        try threshold.set(1200, on: pcm)
        #expect(try pcm.currentSoftwareConfiguration().availMin == 1200)
    }

    @Test func wakeThreshold_underAPeriodIsRaisedAndReadBack() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        try pcm.configureSoftware()
        var threshold = try WakeThreshold(pcm: pcm)
        try threshold.set(2400, on: pcm)
        try threshold.set(10, on: pcm)
        #expect(threshold.frames == 1200, "what is in force, not what was asked")
    }

    @Test func wakeThreshold_refusesZeroAndMoreThanTheBuffer_keepingTheOldOne() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(standardRequest)
        try pcm.configureSoftware()
        var threshold = try WakeThreshold(pcm: pcm)
        for bad in [FrameCount(0), FrameCount(4801), FrameCount(-5)] {
            let error = #expect(throws: ALSAError.self) { try threshold.set(bad, on: pcm) }
            #expect(error?.code == -EINVAL)
        }
        #expect(threshold.frames == 1200)
        #expect(try pcm.currentSoftwareConfiguration().availMin == 1200)
    }
}
