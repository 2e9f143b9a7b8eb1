// Connections that hold a place without using it, against a real daemon with its limits lowered
// on the command line: idle connections fill every place, are closed with `timedOut` once the
// hello deadline passes, and a well-behaved client then connects and plays; a client that
// leaves a message half-sent is closed the same way; and one user's idle connections are capped
// at that user's share, so another user (pcmplay run as nobody in the audio group) still plays
// while they are all open.
import Foundation
import PCMBufferCore
import PCMClient
import PCMDaemon
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

/// The daemon's hello deadline (ServerConfiguration.helloTimeoutSeconds).
private let helloDeadline = 5.0

@Suite("connection limits and deadlines", .serialized, .timeLimit(.minutes(3)))
struct ClientLimitTests {
    @Test("idle connections fill every place, are closed with timedOut after the hello deadline, and a client then plays")
    func idleConnectionsTimeOut() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(
            ["--device", "playout", "--period", "256", "--max-clients", "6", "--max-clients-per-user", "6"], directory: dir)
        // A client that completed hello: its welcome also proves the start-up probe is gone,
        // so the places counted below are exactly this one and the idle ones.
        let keeper = try await PCMConnection.connect(path: daemon.socket, clientName: "keeper")
        let opened = Date()
        let idle = try (0..<5).map { _ in try RawClient(path: daemon.socket) }

        // Every place is taken: one more connection is refused at once, before it says anything
        // (so it sends nothing: the daemon may already have closed it, and a send would then fail
        // with EPIPE, as it did once in CI).
        let extra = try RawClient(path: daemon.socket)
        #expect(extra.receiveError()?.code == .tooManyClients, "the idle connections must hold the places")

        for (index, connection) in idle.enumerated() {
            let error = connection.receiveError(timeout: helloDeadline + 15)
            let elapsed = Date().timeIntervalSince(opened)
            #expect(error?.code == .timedOut, "idle connection \(index) got \(String(describing: error))")
            #expect(error?.text.contains("hello") == true, "the reason names the missing hello: \(String(describing: error))")
            #expect(elapsed >= helloDeadline - 0.5, "closed after \(elapsed) s, before the deadline")
            #expect(connection.receive(timeout: 5) == nil && connection.closedByDaemon, "idle connection \(index) must be closed")
        }

        // The places are free again: a well-behaved client connects and plays.
        let frames = testFrames(count: 9_600, seed: 3)
        let player = try await PCMConnection.connect(path: daemon.socket, clientName: "player")
        let stream = try await player.openPlayback(format: stereo16, latencyMicroseconds: 200_000)
        try await stream.write(frames.withUnsafeBytes { Array($0) })
        try await stream.drain()
        try await stream.close()
        player.close()
        // A client that said hello has no deadline: the keeper is still served.
        #expect(try await keeper.devices().count == 1)
        keeper.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let played = try daemon.playedSamples()
        let start = try #require(played.firstIndex { $0 != 0 }, "the player's audio never reached the device")
        try #require(played.count >= start + frames.count)
        #expect(Array(played[start..<(start + frames.count)]) == frames)
    }

    @Test("a message left half-sent is closed with timedOut after the deadline")
    func partialMessageTimesOut() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let client = try RawClient(path: daemon.socket)
        try client.introduce()
        let request = try Envelope(.listDevices, tag: 2).encoded()
        let sent = Date()
        client.send(Array(request.prefix(11)))  // half a header
        let error = client.receiveError(timeout: helloDeadline + 15)
        let elapsed = Date().timeIntervalSince(sent)
        #expect(error?.code == .timedOut, "got \(String(describing: error))")
        #expect(elapsed >= helloDeadline - 0.5, "closed after \(elapsed) s, before the deadline")
        #expect(client.receive(timeout: 5) == nil && client.closedByDaemon)
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }

    @Test("one user's idle connections are capped at its share; another user still connects and plays",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
                   && AccessPolicy.groupID(named: "audio") != nil, "needs root, setpriv and an audio group"))
    func perUserCap() async throws {
        let dir = try temporaryDirectory()
        // Eight places, so a user's share is the minimum of 4.
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256", "--max-clients", "8"], directory: dir)
        let audio = try #require(AccessPolicy.groupID(named: "audio"))
        let sound = dir.appendingPathComponent("tone.wav")
        let frames = testFrames(count: 9_600, seed: 9)
        try wavData(samples: frames).write(to: sound)

        // Root fills every place it can with connections that never say hello.
        let idle = try (0..<8).map { _ in try RawClient(path: daemon.socket) }
        var refused = 0
        for connection in idle {
            // Refusals come at once; a held place answers nothing (well before its deadline: the
            // four held places wait 3.2 s at most in all, under the 5 s hello deadline, while a
            // refusal has 0.8 s to arrive on a loaded machine).
            if let error = connection.receiveError(timeout: 0.8) {
                #expect(error.code == .tooManyClients, "\(error)")
                refused += 1
            }
        }
        #expect(refused >= 4, "one user must hold at most 4 of the 8 places; \(8 - refused) were held")

        // Another user, allowed as a member of the audio group, plays meanwhile.
        let player = try ToolProcess.run("/usr/bin/setpriv", arguments: [
            "--reuid", "65534", "--regid", "\(audio)", "--clear-groups",
            ToolProcess.executable("pcmplay").path, "--socket", daemon.socket, "--quiet", "--latency", "200", sound.path,
        ])
        #expect(player.status == 0, "pcmplay as uid 65534 was refused: \(player.stderr)")
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.contains("client refused: too many clients of one user"), "\(result.log)")
        let played = try daemon.playedSamples()
        let start = try #require(played.firstIndex { $0 != 0 }, "the other user's audio never reached the device")
        try #require(played.count >= start + frames.count)
        #expect(Array(played[start..<(start + frames.count)]) == frames)
    }
}
