// State transitions (prepare, start, drop, drain, pause) and recovery from each kind of
// interruption, on the null PCM, which implements every transition without hardware.

import ALSA
import Glibc
import PCMBufferCore
import Testing

@Suite struct StateAndRecoveryTests {
    @Test func lifeCycle_prepareStartDropPrepareStart() throws {
        let pcm = try configuredPCM(.playback)
        #expect(pcm.state == .prepared)
        try pcm.start()
        #expect(pcm.state == .running)
        try pcm.drop()
        #expect(pcm.state == .setup)
        try pcm.prepare()
        #expect(pcm.state == .prepared)
        try pcm.start()
        #expect(pcm.state == .running)
    }

    @Test func startInSetup_throwsBadState() throws {
        let pcm = try configuredPCM(.capture)
        try pcm.drop()
        let error = #expect(throws: ALSAError.self) { try pcm.start() }
        #expect(error?.code == -EBADFD)
        #expect(error?.functionName == "snd_pcm_start")
        #expect(pcm.state == .setup)
    }

    @Test func startTwice_throwsAndKeepsRunning() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        #expect(throws: ALSAError.self) { try pcm.start() }
        #expect(pcm.state == .running)
    }

    @Test func pauseAndContinue_onARunningStream() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        try pcm.pause(true)
        #expect(pcm.state == .paused)
        try pcm.pause(false)
        #expect(pcm.state == .running)
    }

    @Test func drain_endsInSetup() throws {
        let pcm = try configuredPCM(.playback)
        #expect(pcm.mmapTransfer(maxFrames: 1200) { $0.frames }.value == 1200)
        try pcm.start()
        try pcm.drain()
        #expect(pcm.state == .setup)
    }

    @Test func recoverFromXrun_preparesAgain() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        let outcome = pcm.recover(from: .xrun)
        guard case .prepared = outcome else {
            Issue.record("expected .prepared, got \(outcome)")
            return
        }
        #expect(pcm.state == .prepared)
        // After recovery the loop prefills and starts again.
        #expect(pcm.availUpdate().value == 4800)
        try pcm.start()
        #expect(pcm.state == .running)
    }

    @Test func recoverFromRawEPIPE_isTheSameAsXrun() throws {
        let pcm = try configuredPCM(.capture)
        try pcm.start()
        guard case .prepared = pcm.recover(code: -EPIPE) else {
            Issue.record("recover(-EPIPE) did not prepare")
            return
        }
        #expect(pcm.state == .prepared)
    }

    @Test func recoverFromSuspend_resumesWhenTheDeviceCan() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        // null implements resume as a no-op success (pcm-memory.md §4), so resume is taken.
        let outcome = pcm.recover(code: -ESTRPIPE)
        guard case .resumed = outcome else {
            Issue.record("expected .resumed, got \(outcome)")
            return
        }
    }

    @Test func recoverFromDisconnect_saysReopen() throws {
        let pcm = try configuredPCM(.playback)
        guard case .deviceGone(let error) = pcm.recover(from: .disconnected) else {
            Issue.record("a disconnect was not reported as device gone")
            return
        }
        #expect(error.isDisconnected)
        guard case .deviceGone = pcm.recover(code: -ENODEV) else {
            Issue.record("-ENODEV was not reported as device gone")
            return
        }
    }

    @Test func recoverFromNothingSerious_doesNothing() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        guard case .nothingToRecover = pcm.recover(from: .wouldBlock) else {
            Issue.record("would-block needed recovery")
            return
        }
        guard case .nothingToRecover = pcm.recover(code: -EINTR) else {
            Issue.record("EINTR needed recovery")
            return
        }
        #expect(pcm.state == .running)
    }

    @Test func recoverFromOtherErrors_failsWithThatError() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        guard case .failed(let error) = pcm.recover(code: -EIO) else {
            Issue.record("-EIO was recovered from")
            return
        }
        #expect(error.code == -EIO)
        // A failed recovery does not touch the stream.
        #expect(pcm.state == .running)
    }

    @Test func interruptionClassification_matchesErrno() {
        #expect(StreamInterruption(code: -EPIPE, function: "f").code == -EPIPE)
        #expect(StreamInterruption(code: -ESTRPIPE, function: "f").description == "suspended")
        #expect(StreamInterruption(code: -ENODEV, function: "f").description == "disconnected")
        #expect(StreamInterruption(code: -EAGAIN, function: "f").description == "would block")
        guard case .failed(let error) = StreamInterruption(code: -EIO, function: "snd_pcm_avail_update") else {
            Issue.record("-EIO was not classified as a failure")
            return
        }
        #expect(error.functionName == "snd_pcm_avail_update")
        #expect(error.code == -EIO)
    }

    @Test func errorHelpers_recogniseEachErrno() {
        #expect(ALSAError(code: -EPIPE, function: "f").isXrun)
        #expect(ALSAError(code: -ESTRPIPE, function: "f").isSuspended)
        #expect(ALSAError(code: -ENODEV, function: "f").isDisconnected)
        #expect(ALSAError(code: -EAGAIN, function: "f").isWouldBlock)
        #expect(!ALSAError(code: -EIO, function: "f").isXrun)
        // A positive errno is normalised to ALSA's negative convention.
        #expect(ALSAError(code: EPIPE, function: "f").code == -EPIPE)
        let error = ALSAError(code: -EPIPE, function: "snd_pcm_writei")
        #expect(error.message == "Broken pipe")
        #expect(error.description == "snd_pcm_writei failed: Broken pipe (-32)")
    }
}
