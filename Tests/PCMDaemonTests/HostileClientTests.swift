// Clients that attack their shared memory, against a real pcmd on alsa-lib's file PCMs: one that
// writes random positions, thresholds and waiting flags into its control blocks every
// millisecond (reconnecting each time the daemon cuts it off), pcmplay processes killed with
// SIGKILL mid-write again and again, and a client that opens more streams than its quota. The
// daemon must survive all of it, and a well-behaved client playing meanwhile must reach the
// device bit-exactly.
import Foundation
import PCMBufferCore
import PCMClient
import PCMClientCore
import PCMProtocol
import Synchronization
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

@Suite("hostile clients of the shared memory", .serialized, .timeLimit(.minutes(3)))
struct HostileClientTests {
    /// Plays `frames` on a good client (a generous ring: the machine is shared) while `attack`
    /// runs, then checks the daemon survived and the device got the frames bit-exactly.
    private func playWhile(_ attack: @escaping @Sendable (String) async throws -> Void, arguments: [String] = []) async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"] + arguments, directory: dir)
        let frames = testFrames(count: 96_000, seed: 99)  // 2 s
        let good = try await PCMConnection.connect(path: daemon.socket, clientName: "good")
        let stream = try await good.openPlayback(format: stereo16, latencyMicroseconds: 1_000_000, name: "good")
        let writer = Task { try await stream.write(frames.withUnsafeBytes { Array($0) }) }
        try await attack(daemon.socket)
        try await writer.value
        try await stream.drain()
        #expect(stream.status.underruns == 0, "the good client underran (a loaded machine can cause this too)")
        good.close()
        #expect(daemon.isRunning, "the daemon must survive the attack")
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let played = try daemon.playedSamples()
        let start = try #require(played.firstIndex { $0 != 0 }, "nothing reached the device")
        try #require(played.count >= start + frames.count)
        #expect(Array(played[start..<(start + frames.count)]) == frames, "the good client's audio was disturbed")
    }

    @Test("random positions, thresholds and flags every millisecond: the liar is cut off, the daemon and a good client carry on")
    func randomControlBlocks() async throws {
        try await playWhile { socket in
            var generator = SystemRandomNumberGenerator()
            var cutOff = 0
            for _ in 0..<20 {
                let liar = try BlockingConnection.connect(path: socket, clientName: "liar")
                let stream = try liar.open(OpenStream(direction: .playback, format: stereo16, latencyMicroseconds: 50_000))
                let ring = UInt64(stream.ringFrames)
                var ended = false
                for _ in 0..<200 where !ended {
                    // Half the time a position the daemon must accept (garbage samples are only
                    // noise in the liar's own stream), half the time anything at all.
                    let position = Bool.random(using: &generator) ? UInt64.random(in: 0...ring, using: &generator)
                        : UInt64.random(in: 0...UInt64.max, using: &generator)
                    stream.memory.publishClientPosition(position)
                    stream.memory.publishWakeThreshold(UInt32.random(in: 0...UInt32.max, using: &generator))
                    stream.memory.publishWaiting(Bool.random(using: &generator))
                    usleep(1000)
                    do throws(ClientCoreError) {
                        if Int.random(in: 0..<20, using: &generator) == 0 { _ = try liar.listStreams() }
                    } catch {
                        guard case .disconnected(let reply?) = error, reply.code == .sharedMemoryViolation else {
                            Issue.record("the liar was ended with \(error), not sharedMemoryViolation")
                            return
                        }
                        ended = true
                        cutOff += 1
                    }
                }
            }
            #expect(cutOff > 0, "a client writing impossible positions must be cut off")
        }
    }

    @Test("pcmplay killed with SIGKILL mid-write, ten times: the daemon and a good client carry on")
    func killedWritersAgainAndAgain() async throws {
        try await playWhile({ socket in
            let dir = try temporaryDirectory()
            let noise = dir.appendingPathComponent("noise.wav")
            try wavData(samples: testFrames(count: 480_000, seed: 7)).write(to: noise)
            for round in 0..<10 {
                let victim = try ToolProcess.start("pcmplay", ["--socket", socket, "--quiet", "--volume", "0", noise.path])
                try await Task.sleep(for: .milliseconds(Int.random(in: 30...150)))
                kill(victim.pid, SIGKILL)
                let killed = try victim.wait(timeout: 10)
                #expect(killed.status == SIGKILL, "round \(round): pcmplay ended by itself: \(killed.stderr)")
            }
            // Every victim's stream is gone again.
            let watcher = try await PCMConnection.connect(path: socket, clientName: "watcher")
            var listed = try await watcher.streams()
            for _ in 0..<100 where listed.contains(where: { $0.clientName == "pcmplay" }) {
                try await Task.sleep(for: .milliseconds(50))
                listed = try await watcher.streams()
            }
            #expect(!listed.contains { $0.clientName == "pcmplay" }, "killed players' streams remain: \(listed)")
            watcher.close()
        })
    }

    @Test("more streams than the per-connection quota: refused with tooManyClientStreams, the others keep working")
    func streamQuota() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256", "--max-streams", "32"], directory: dir)
        let greedy = try BlockingConnection.connect(path: daemon.socket, clientName: "greedy")
        var opened: [ClientStream] = []
        var refusal: ErrorReply?
        while refusal == nil, opened.count < 32 {
            do throws(ClientCoreError) {
                opened.append(try greedy.open(OpenStream(direction: .playback, format: stereo16, latencyMicroseconds: 20_000)))
            } catch {
                guard case .refused(let reply) = error else { throw error }
                refusal = reply
            }
        }
        #expect(opened.count == 8, "the quota is eight streams per connection")
        #expect(refusal?.code == .tooManyClientStreams)
        // Another client still gets a stream: the quota kept the slots free.
        let other = try BlockingConnection.connect(path: daemon.socket, clientName: "other")
        let otherStream = try other.open(OpenStream(direction: .playback, format: stereo16))
        try other.close(otherStream)
        for stream in opened { try greedy.close(stream) }
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }
}
