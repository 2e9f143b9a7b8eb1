// Clients that die or stop cooperating, against a real pcmd: a pcmplay process killed with
// SIGKILL mid-stream (its stream is gone from the listing, its slot free for another stream),
// and a capture client that never reads its ring (protocol version 2: it overruns alone, its
// overruns counted; nothing queues up on its socket, so it is not cut off). In each case the
// daemon keeps running and a well-behaved client's audio stays bit-exact and xrun-free.
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

@Suite("misbehaving client processes", .serialized, .timeLimit(.minutes(2)))
struct ClientFailureTests {
    @Test("a pcmplay killed with SIGKILL mid-stream: its slot is freed, another client is undisturbed")
    func killedPlayer() async throws {
        let dir = try temporaryDirectory()
        // Two streams at most: the good client's and the victim's. A third opens only if the
        // victim's slot really came back.
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256", "--max-streams", "2"], directory: dir)
        // The victim plays silence, so the device's output is exactly the good client's frames
        // while the two play together.
        let silence = dir.appendingPathComponent("silence.wav")
        try wavData(samples: [Int16](repeating: 0, count: 2 * 480_000)).write(to: silence)

        let frames = testFrames(count: 192_000, seed: 31)  // 4 s
        let good = try await PCMConnection.connect(path: daemon.socket, clientName: "good")
        let goodStream = try await good.openPlayback(format: stereo16, latencyMicroseconds: 500_000, name: "good")
        let writer = Task { try await goodStream.write(frames.withUnsafeBytes { Array($0) }) }

        let victim = try ToolProcess.start("pcmplay", ["--socket", daemon.socket, "--quiet", "--latency", "200", silence.path])
        let control = try await PCMConnection.connect(path: daemon.socket, clientName: "watcher")
        let playing = try await waitForStreams(control, seconds: 10) { streams in
            streams.contains { $0.clientName == "pcmplay" && $0.state == .running && $0.position > 0 }
        }
        let victimStream = try #require(playing.first { $0.clientName == "pcmplay" }, "pcmplay never started playing: \(playing)")
        #expect(victimStream.clientPID == UInt32(victim.pid))
        kill(victim.pid, SIGKILL)
        let killed = try victim.wait(timeout: 10)
        #expect(killed.status == SIGKILL && victim.process.terminationReason == .uncaughtSignal)

        let after = try await waitForStreams(control, seconds: 5) { streams in !streams.contains { $0.id == victimStream.id } }
        #expect(!after.contains { $0.id == victimStream.id }, "the killed client's stream is still listed: \(after)")
        #expect(after.contains { $0.id == goodStream.id })
        // The freed slot is usable: with a limit of two streams this opens only if it was released.
        let reuse = try await control.openPlayback(format: stereo16, name: "reuse")
        try await reuse.close()

        try await writer.value
        try await goodStream.drain()
        #expect(goodStream.status.underruns == 0, "the good client underran")
        control.close()
        good.close()
        #expect(daemon.isRunning, "the daemon must survive a killed client")
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.contains("client disconnected"), "the daemon did not notice the death:\n\(result.log)")
        let played = try daemon.playedSamples()
        let start = try #require(played.firstIndex { $0 != 0 }, "nothing reached the device")
        try #require(played.count >= start + frames.count, "only \(played.count - start) samples after the start")
        #expect(Array(played[start..<(start + frames.count)]) == frames, "the good client's audio was disturbed")
    }

    @Test("a capture client that stops reading overruns alone; another recorder stays bit-exact")
    func captureClientStopsReading() async throws {
        let dir = try temporaryDirectory()
        let input = testFrames(count: 720_000, seed: 12)  // 15 s, more than the test runs
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(["--device", "capturein", "--mode", "capture", "--period", "256"], directory: dir)

        let good = try await PCMConnection.connect(path: daemon.socket, clientName: "good")
        let goodStream = try await good.openCapture(format: stereo16, latencyMicroseconds: 300_000, name: "good")
        let recordingStarted = ContinuousClock.now
        let recorder = Task { () throws(PCMClientError) -> [UInt8] in
            var collected: [UInt8] = []
            do throws(PCMClientError) {
                for try await chunk in goodStream.captured { collected += chunk }
            } catch {
                // Cancelled by the test: everything collected so far is contiguous.
                guard error == .cancelled else { throw error }
            }
            return collected
        }

        // The stalled client opens a capture stream and never reads its ring: once the ring is
        // full, every period is an overrun for it alone.
        let stalled = try StalledCaptureClient(path: daemon.socket)
        let control = try await PCMConnection.connect(path: daemon.socket, clientName: "watcher")
        let opened = try await waitForStreams(control, seconds: 5) { $0.contains { $0.clientName == "stalled" } }
        let stalledStream = try #require(opened.first { $0.clientName == "stalled" }, "the stalled client's stream never opened")
        let after = try await waitForStreams(control, seconds: 10) { streams in
            streams.contains { $0.id == stalledStream.id && $0.xruns > 10 }
        }
        let overran = try #require(after.first { $0.id == stalledStream.id }, "the stalled client's stream must stay: \(after)")
        #expect(overran.xruns > 10, "the stalled client's overruns are counted: \(overran)")
        _ = stalled
        try await Task.sleep(for: .milliseconds(300))  // the good recorder carries on meanwhile

        recorder.cancel()
        let recordedFor = ContinuousClock.now - recordingStarted
        let recorded = samples(of: Data(try await recorder.value))
        #expect(goodStream.status.overruns == 0, "the good recorder overran")
        good.close()
        control.close()
        #expect(daemon.isRunning)
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        // The good recorder kept recording all along: it has everything but the last moments
        // (its 300 ms buffer and the cancel), however long the cut-off took on this machine.
        let expectedFrames = Int(Double(recordedFor.components.seconds) * 48_000) - 48_000
        try #require(recorded.count / 2 >= expectedFrames,
                     "the good recorder got only \(recorded.count / 2) frames in \(recordedFor) (at least \(expectedFrames) expected)")
        let start = try #require(input.firstRange(of: Array(recorded.prefix(32)))?.lowerBound, "recording not found in the input")
        try #require(start + recorded.count <= input.count)
        #expect(Array(input[start..<(start + recorded.count)]) == recorded, "the good recorder's capture was not bit-exact")
    }
}

/// A raw protocol client that opens a capture stream and then never reads its socket (so it
/// never even maps the memory: the kernel holds the descriptors in its receive queue).
private final class StalledCaptureClient {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(connected == 0)
        var out = try Envelope(.hello(Hello(pid: UInt32(getpid()), clientName: "stalled")), tag: 1).encoded()
        try Envelope(.openStream(OpenStream(direction: .capture, format: stereo16)), tag: 2).encode(appendingTo: &out)
        let sent = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        try #require(sent == out.count)
    }

    deinit { close(fd) }

}
