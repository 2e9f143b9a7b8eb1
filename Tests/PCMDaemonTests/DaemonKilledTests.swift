// The daemon dies under an application: a real pcmd is killed with SIGKILL while the test process
// (the application) writes to two streams, changes a volume and closes a stream from several
// tasks. The application must survive every time (a SIGPIPE would kill this test process) and
// every call must end in a typed end-of-connection error, promptly: nothing waits forever on a
// daemon that is gone. The same race against a scripted daemon runs 1000 times in PCMClientTests;
// this is the real thing, fewer times because each round starts a daemon.
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

@Suite("the daemon killed under its clients", .serialized, .timeLimit(.minutes(3)))
struct DaemonKilledTests {
    @Test("pcmd stopped (SIGTERM) while pcmplay plays at the defaults: pcmplay ends at once with an error, it does not spin")
    func stoppedUnderPlayer() async throws {
        // A stopping daemon closes every stream and reclaims its memory (punched out: the client's
        // mapping reads zeros), then exits. Zeroed positions say "the ring is empty": a client that
        // believed them woke at once, found nothing it could write (its own position is far ahead)
        // and waited again, forever, at full CPU, never reading the socket that says why.
        for round in 0..<5 {
            let dir = try temporaryDirectory()
            let daemon = try await ServedDaemon.start(["--device", "playout"], directory: dir)
            let music = dir.appendingPathComponent("music.wav")
            try wavData(samples: testFrames(count: 480_000, seed: UInt32(round + 7))).write(to: music)  // 10 s
            let player = try ToolProcess.start("pcmplay", ["--socket", daemon.socket, "--quiet", music.path])
            let control = try await PCMConnection.connect(path: daemon.socket, clientName: "watcher")
            let playing = try await waitForStreams(control, seconds: 10) { streams in
                streams.contains { $0.clientName == "pcmplay" && $0.state == .running && $0.position > 0 }
            }
            control.close()
            try #require(playing.contains { $0.clientName == "pcmplay" && $0.state == .running },
                         "round \(round): pcmplay never started playing: \(playing)")
            try await Task.sleep(for: .milliseconds(UInt64(round) * 100))
            let stopped = try daemon.stop()
            #expect(stopped.status == 0, "round \(round): \(stopped.log)")
            // The daemon is gone: pcmplay must have noticed by now, or within a second.
            let ended = try player.wait(timeout: 3)
            #expect(ended.status != 0, "round \(round): pcmplay claimed success with its daemon gone")
            #expect(ended.stderr.contains("disconnected by the daemon: shutting down"),
                    "round \(round): pcmplay did not say why it ended: \(ended.stderr)")
        }
    }

    @Test("SIGKILL of pcmd mid-stream (SIGTERM every tenth round), 100 rounds: the application lives and every call ends in a typed error")
    func killedMidStream() async throws {
        let format = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)
        let chunk = [UInt8](repeating: 0x11, count: 256 * 4)
        var unexpected: [String] = []
        for round in 0..<100 {
            let dir = try temporaryDirectory()
            let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
            let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "victim-app")
            let first = try await connection.openPlayback(format: format, latencyMicroseconds: 50_000, name: "first")
            let second = try await connection.openPlayback(format: format, latencyMicroseconds: 50_000, name: "second")
            let killAfter = UInt64.random(in: 0...150_000_000)
            let failures = await withTaskGroup(of: [String].self) { group in
                for stream in [first, second] {
                    group.addTask {
                        while true {
                            do throws(PCMClientError) {
                                try await stream.write(chunk)
                            } catch {
                                return error.endsConnection ? [] : ["write ended with \(error)"]
                            }
                        }
                    }
                }
                group.addTask {
                    var step = 0
                    while true {
                        step += 1
                        do throws(PCMClientError) {
                            try await first.setVolume(Volume(level: Float(step % 10) / 10))
                        } catch {
                            return error.endsConnection ? [] : ["setVolume ended with \(error)"]
                        }
                    }
                }
                group.addTask {
                    try? await Task.sleep(nanoseconds: killAfter / 2)
                    do throws(PCMClientError) {
                        try await second.close()
                    } catch {
                        if !error.endsConnection { return ["close ended with \(error)"] }
                    }
                    return []
                }
                group.addTask {
                    try? await Task.sleep(nanoseconds: killAfter)
                    // A stop (SIGTERM) also reclaims the streams' memory before the daemon exits.
                    daemon.process.signal(round % 10 == 9 ? SIGTERM : SIGKILL)
                    return []
                }
                var all: [String] = []
                for await result in group { all += result }
                return all
            }
            unexpected += failures.map { "round \(round): \($0)" }
            #expect(connection.closedReason != nil, "round \(round): the connection must know the daemon is gone")
            connection.close()
            _ = try? daemon.process.wait(timeout: 10)
        }
        let firstFew = Array(unexpected.prefix(5))
        #expect(unexpected.count == 0, "the first of them: \(firstFew)")
    }
}
