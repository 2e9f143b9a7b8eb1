// The client library against a scripted daemon over a socketpair: handshake, playback through
// the shared ring (bit-exact, paced by the ring's free space and the daemon's wake), capture,
// the clock and xruns read from the shared header, control calls, refusals, daemon errors and
// disconnects, garbage from the daemon, and cancellation.

import PCMBufferCore
import PCMClient
import PCMClientCore
import PCMProtocol
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct PCMConnectionTests {
    let stereo16 = StreamFormat(.s16, rate: 48_000, channels: 2)

    /// Bytes of `frames` stereo s16 frames with a recognisable ramp.
    func ramp(frames: Int, from start: Int = 0) -> [UInt8] {
        (0..<(frames * 4)).map { UInt8(truncatingIfNeeded: start * 4 + $0) }
    }

    @Test func handshake_sendsHelloWithNameAndPid_andReturnsWelcome() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        #expect(connection.welcome.daemonName == "scripted")
        let hellos = daemon.receivedMessages(.hello)
        #expect(hellos.count == 1)
        if case .hello(let hello) = hellos.first?.message {
            #expect(hello.clientName == "tester")
            #expect(hello.pid != 0)
        }
        #expect(hellos.first?.tag != 0, "requests carry a nonzero tag")
        connection.close()
    }

    @Test func playback_fillsTheSharedRing_waitsWhenFull_andArrivesBitExact() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openPlayback(format: stereo16)
        #expect(stream.id == StreamID(5))
        #expect(stream.granted.ring.bufferFrames == 1024)
        #expect(!stream.shared.converts, "equal formats are a plain copy")

        let samples = ramp(frames: 1500)
        let writer = Task { try await stream.write(samples) }
        // The ring takes 1024 frames; the rest waits for space.
        #expect(await waitUntil { stream.shared.filledFrames == 1024 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(stream.shared.filledFrames == 1024, "nothing beyond the ring")
        var received = daemon.consume(stream.id)
        try await writer.value
        received += daemon.consume(stream.id)
        #expect(received == samples)
        #expect(stream.status.framesWritten == 1500)
        connection.close()
    }

    /// Polls `condition` for up to five seconds.
    func waitUntil(_ condition: @Sendable () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func write_ofAPartialFrame_isRefusedAndSendsNothing() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openPlayback(format: stereo16)
        await #expect(throws: PCMClientError.self) { try await stream.write([1, 2, 3]) }
        try await stream.drain()
        #expect(daemon.consume(stream.id).isEmpty, "nothing reached the ring")
        connection.close()
    }

    @Test func write_onACaptureStream_isRefused() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openCapture(format: stereo16)
        await #expect(throws: PCMClientError.invalidArgument("stream #5 does not play")) { try await stream.write(ramp(frames: 1)) }
        connection.close()
    }

    @Test func refusedOpen_throwsTheDaemonsCodeAndText() async throws {
        let daemon = ScriptedDaemon { envelope, daemon in
            if case .openStream = envelope.message {
                daemon.send(Envelope(.error(ErrorReply(code: .tooManyStreams, text: "limit 8")), tag: envelope.tag))
            } else {
                ScriptedDaemon.standard(envelope, daemon)
            }
        }
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        await #expect(throws: PCMClientError.refused(ErrorReply(code: .tooManyStreams, text: "limit 8"))) {
            try await connection.openPlayback(format: stereo16)
        }
        // The connection is still usable after a refusal.
        #expect(try await connection.devices().isEmpty)
        connection.close()
    }

    @Test func capture_yieldsChunksInOrder_thenEndsOnClose() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openCapture(format: stereo16)
        var iterator = stream.captured.makeAsyncIterator()
        #expect(daemon.produce(stream.id, bytes: ramp(frames: 3)))
        #expect(try await iterator.next() == ramp(frames: 3))
        // The reader waits on the eventfd until the daemon writes more.
        let reader = Task {
            var another = stream.captured.makeAsyncIterator()
            return try await another.next()
        }
        try await Task.sleep(for: .milliseconds(30))
        #expect(daemon.produce(stream.id, bytes: ramp(frames: 2, from: 3)))
        #expect(try await reader.value == ramp(frames: 2, from: 3))
        try await stream.close()
        #expect(try await iterator.next() == nil)
        #expect(daemon.receivedMessages(.closeStream).count == 1)
        connection.close()
    }

    @Test func clockStateAndXruns_comeFromTheSharedHeader() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openPlayback(format: stereo16)
        try await stream.write(ramp(frames: 60))
        let memory = try #require(daemon.streams.withLock { $0[stream.id]?.memory })
        var sequence: UInt64 = 0
        let clock = SharedStreamClock(framesPlayed: 20, monotonicNanoseconds: 77, deviceDelay: 768)
        memory.publishClock(clock, sequence: &sequence)
        memory.publishUnderruns(3)
        memory.publishState(.running)
        // No message, no round trip: the header is read directly.
        let status = stream.status
        #expect(status.clock == clock)
        #expect(status.underruns == 3)
        #expect(status.state == .running)
        #expect(status.ringFilledFrames == 60)
        connection.close()
    }

    @Test func errorEventNamingTheStream_closesOnlyThatStream() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openPlayback(format: stereo16)
        try await stream.write(ramp(frames: 1024))  // fills the ring
        let reply = ErrorReply(code: .deviceUnavailable, text: "unplugged")
        let writer = Task { try await stream.write(ramp(frames: 10)) }
        daemon.send(Envelope(.error(reply), stream: stream.id))
        await #expect(throws: PCMClientError.streamClosed(reply)) { try await writer.value }
        #expect(try await connection.streams().isEmpty, "the connection itself is still fine")
        connection.close()
    }

    @Test func daemonHangingUp_afterAnError_failsWaitersWithTheReason() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openPlayback(format: stereo16)
        try await stream.write(ramp(frames: 1024))
        let writer = Task { try await stream.write(ramp(frames: 10)) }
        let reason = ErrorReply(code: .shuttingDown, text: "bye")
        daemon.send(Envelope(.error(reason)))
        daemon.hangUp()
        await #expect(throws: PCMClientError.disconnected(reason)) { try await writer.value }
        await #expect(throws: PCMClientError.disconnected(reason)) { try await connection.devices() }
    }

    @Test func garbageFromTheDaemon_isAProtocolViolation() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        daemon.sendRaw(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        await #expect(throws: PCMClientError.self) { try await connection.devices() }
        if case .protocolViolation(.badMagic) = connection.closedReason {} else {
            Issue.record("expected a bad-magic protocol violation, got \(String(describing: connection.closedReason))")
        }
    }

    @Test func cancellingAWriteWaitingForSpace_throwsCancelled() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        let stream = try await connection.openPlayback(format: stereo16)
        try await stream.write(ramp(frames: 1024))
        let writer = Task { try await stream.write(ramp(frames: 10)) }
        try await Task.sleep(for: .milliseconds(50))
        writer.cancel()
        await #expect(throws: PCMClientError.cancelled) { try await writer.value }
        // The stream is still usable.
        try await stream.drain()
        connection.close()
    }

    @Test func controlCalls_sendTheRightMessages() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        try await connection.setVolume(Volume(level: 0.5, muted: true), stream: StreamID(42))
        try await connection.setMasterVolume(Volume(level: 0.25), device: AudioDeviceID(1))
        let volume = daemon.receivedMessages(.setStreamVolume).first
        #expect(volume?.stream == StreamID(42))
        #expect(volume?.message == .setStreamVolume(Volume(level: 0.5, muted: true)))
        #expect(daemon.receivedMessages(.setMasterVolume).first?.message
                == .setMasterVolume(MasterVolume(device: AudioDeviceID(1), volume: Volume(level: 0.25))))
        connection.close()
        await #expect(throws: PCMClientError.disconnected(nil)) { try await connection.devices() }
    }

    @Test func droppingAStream_closesItOnTheDaemon() async throws {
        let daemon = ScriptedDaemon()
        let connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "tester")
        do {
            _ = try await connection.openPlayback(format: stereo16)
        }
        #expect(await daemon.waitUntil { $0.contains { $0.message == .closeStream } })
        #expect(try await connection.devices().isEmpty, "the unawaited reply did not upset the connection")
        connection.close()
    }

    @Test func noDaemon_namesEveryPathTried() async {
        do {
            _ = try await PCMConnection.connect(path: "/nonexistent/pcmd/socket", clientName: "tester")
            Issue.record("connecting to a missing socket must fail")
        } catch {
            guard case .noDaemon(let tried) = error else {
                Issue.record("expected noDaemon, got \(error)")
                return
            }
            #expect(tried.keys.sorted() == ["/nonexistent/pcmd/socket"])
        }
    }
}
