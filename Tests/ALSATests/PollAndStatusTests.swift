// Poll descriptors into a caller-owned buffer and their reduced events, status snapshots and
// hardware timestamps, avail/delay, on the null PCM.

import ALSA
import Glibc
import PCMBufferCore
import Testing

@Suite struct PollAndStatusTests {
    private func monotonicNow() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }

    @Test(arguments: [(PCM.Direction.playback, PollEvents.writable), (.capture, .readable)])
    func poll_nullIsReadyAtOnceInItsDirection(direction: PCM.Direction, expected: PollEvents) throws {
        let pcm = try configuredPCM(direction)
        try pcm.start()
        #expect(try pcm.pollDescriptorCount() == 1)
        let buffer = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: 4)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: pollfd(fd: -1, events: 0, revents: 0))
        let count = try pcm.fillPollDescriptors(into: buffer)
        #expect(count == 1)
        #expect(buffer[0].fd >= 0)
        #expect(buffer[1].fd == -1)
        let ready = poll(buffer.baseAddress, nfds_t(count), 1000)
        #expect(ready == 1)
        let events = try pcm.pollEvents(buffer, count: count)
        #expect(events.contains(expected))
        #expect(!events.contains(.error))
    }

    @Test func fillPollDescriptors_intoATooSmallBuffer_throwsInsteadOfWritingPastIt() throws {
        let pcm = try configuredPCM(.playback)
        let empty = UnsafeMutableBufferPointer<pollfd>(start: nil, count: 0)
        let error = #expect(throws: ALSAError.self) { try pcm.fillPollDescriptors(into: empty) }
        #expect(error?.code == -EINVAL)
        #expect(error?.functionName == "snd_pcm_poll_descriptors")
    }

    @Test func pollEvents_withACountBeyondTheBuffer_throws() throws {
        let pcm = try configuredPCM(.playback)
        let buffer = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: 1)
        defer { buffer.deallocate() }
        #expect(throws: ALSAError.self) { try pcm.pollEvents(buffer, count: 2) }
    }

    @Test func status_whileRunning_reportsStateAvailAndACurrentMonotonicTime() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        let before = monotonicNow()
        let status = try #require(pcm.status().value)
        let after = monotonicNow()
        #expect(status.state == .running)
        // null never paces: the buffer is always empty again (pcm-memory.md §4).
        #expect(status.avail == 4800)
        #expect(status.availMax == 4800)
        #expect(status.delay == 0)
        #expect(status.timestamp >= before && status.timestamp <= after)
        // null never sets the trigger time.
        #expect(status.triggerTimestamp == .zero)
    }

    @Test func status_beforeSetup_isOpen() throws {
        let pcm = try PCM(device: "null", direction: .capture)
        #expect(pcm.status().value?.state == .open)
    }

    @Test func hardwareTimestamp_givesAvailAndCurrentTime() throws {
        let pcm = try configuredPCM(.playback)
        try pcm.start()
        let before = monotonicNow()
        let stamp = try #require(pcm.hardwareTimestamp().value)
        let after = monotonicNow()
        #expect(stamp.avail == 4800)
        #expect(stamp.time >= before && stamp.time <= after)
    }

    @Test func availAndDelay_agreeWithAvailUpdate() throws {
        let pcm = try configuredPCM(.playback)
        #expect(pcm.mmapTransfer(maxFrames: 1200) { $0.frames }.value == 1200)
        #expect(pcm.availUpdate().value == 3600)
        #expect(pcm.avail().value == 3600)
        let both = try #require(pcm.availDelay().value)
        #expect(both.avail == 3600)
        #expect(pcm.delay().value == both.delay)
    }
}
