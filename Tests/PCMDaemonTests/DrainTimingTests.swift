// `drained` means "heard": the daemon answers a drain only once the stream's last frame has left
// the device buffer, not when it was mixed into it (issue 12: the answer came a whole device
// buffer early, so a player that exits on `drained`, or an ALSA application's snd_pcm_drain,
// returned while the end of the sound was still queued in the card).
import Foundation
import PCMBufferCore
import PCMClientCore
import PCMProtocol
import Testing

@Suite("drain timing against a real daemon", .serialized, .timeLimit(.minutes(1)))
struct DrainTimingTests {
    @Test("a drain ends no sooner than the audio plus the device buffer have played from the start")
    func drainedWhenHeard() async throws {
        let dir = try temporaryDirectory()
        // A 4-period device buffer (85 ms at 48 kHz) keeps "mixed" and "heard" well apart.
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "1024", "--periods", "4"], directory: dir)
        let rate = 48_000, period = 1024, deviceBuffer = 4 * 1024
        let connection = try BlockingConnection.connect(path: daemon.socket, clientName: "drainer")
        // The bound below is for a device that is already streaming, a buffer queued ahead of the
        // stream. The daemon answers once its socket is up, possibly before the audio thread has
        // prefilled and started the device: a stream that starts with the device has nothing
        // queued ahead and is rightly heard after frames / rate (1 run in 10 under load drained
        // at 0.215 s that way). The thread's first sleep comes after the start.
        var waited = 0
        while try connection.devices().allSatisfy({ $0.wakeups == 0 }) {
            try #require(waited < 200, "the device had not started after 2 s")
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        let format = PCMProtocol.StreamFormat(.s16, rate: rate, channels: 2)
        let stream = try connection.open(OpenStream(direction: .playback, format: format, latencyMicroseconds: 500_000))
        try connection.pause(stream)
        let frames = 9_600  // 200 ms, within the ring: written at once, before the clock starts
        let samples = [Int16](repeating: 1000, count: frames * 2)
        let written = try samples.withUnsafeBytes { raw throws(ClientCoreError) in try stream.write(raw) }
        try #require(written == frames)
        let started = MonotonicClock.nanoseconds()
        try connection.resume(stream)
        try connection.drain(stream)
        let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e9
        // The last frame is heard (frames + deviceBuffer) / rate after the start, give or take the
        // period in which the stream started; the old answer came after about frames / rate.
        let heard = Double(frames + deviceBuffer - 2 * period) / Double(rate)
        #expect(elapsed >= heard, "drained after \(elapsed) s; the end is heard only after \(heard) s")
        #expect(elapsed < heard + 0.5, "drained after \(elapsed) s: far later than the \(heard) s it takes")
        try connection.close(stream)
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }
}
