// A real pcmd process and real PCMClient connections over its Unix socket, on alsa-lib's
// file-backed PCMs: one client's playback reaches the device bit-exactly, two clients mix with
// saturation, capture fans out bit-exactly to two clients, and misbehaving clients are refused
// or disconnected while a well-behaved one carries on.
import Foundation
import PCMBufferCore
import PCMClient
import PCMClientCore
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

private func bytes(_ samples: [Int16]) -> [UInt8] { samples.withUnsafeBytes { Array($0) } }

@Suite("clients over the socket", .serialized, .timeLimit(.minutes(2)))
struct ClientServerTests {
    @Test("one client's playback reaches the device bit-exactly")
    func playbackBitExact() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let frames = testFrames(count: 24_000, seed: 42)
        try #require(frames[0] != 0)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "bitexact")
        // 200 ms of buffer: the machine running the tests is shared and busy.
        let stream = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 200_000, name: "test")
        #expect(stream.granted.deviceFormat == stereo16)
        try await stream.write(bytes(frames))
        try await stream.drain()
        #expect(stream.status.underruns == 0, "the client underran")
        try await stream.close()
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let played = samples(of: try Data(contentsOf: dir.appendingPathComponent("out.raw")))
        let start = try #require(played.firstIndex { $0 != 0 }, "nothing but silence reached the device")
        try #require(played.count >= start + frames.count, "only \(played.count - start) samples after the start")
        #expect(Array(played[start..<(start + frames.count)]) == frames, "the device did not get the client's frames bit-exactly")
        #expect(start % 2 == 0, "frames stay aligned")
    }

    @Test("two clients mix as their saturated sum")
    func twoClientsSaturate() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let level: Int16 = 20_000
        let tone = [Int16](repeating: level, count: 2 * 24_000)
        async let first: Void = play(tone, socket: daemon.socket, name: "a")
        async let second: Void = play(tone, socket: daemon.socket, name: "b")
        _ = try await (first, second)
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let played = samples(of: try Data(contentsOf: dir.appendingPathComponent("out.raw")))
        let values = Set(played)
        #expect(values.isSubset(of: [0, level, Int16.max]), "unexpected sample values \(values.sorted().prefix(8)): the mix wrapped or lost data")
        #expect(played.filter { $0 == Int16.max }.count > 20_000, "the overlap of the two clients must saturate at full scale")
    }

    private func play(_ samples: [Int16], socket: String, name: String) async throws {
        let connection = try await PCMConnection.connect(path: socket, clientName: name)
        let stream = try await connection.openPlayback(format: stereo16, name: name)
        try await stream.write(bytes(samples))
        try await stream.drain()
        connection.close()
    }

    @Test("capture fans out to two clients, each bit-exact")
    func captureFanOut() async throws {
        let dir = try temporaryDirectory()
        let input = testFrames(count: 96_000, seed: 5)
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(["--device", "capturein", "--mode", "capture", "--period", "256"], directory: dir)
        async let a = record(frames: 9_600, socket: daemon.socket)
        async let b = record(frames: 9_600, socket: daemon.socket)
        let (gotA, gotB) = try await (a, b)
        _ = try daemon.stop()
        for got in [gotA, gotB] {
            let start = try #require(input.firstRange(of: Array(got.prefix(16)))?.lowerBound, "recording not found in the input")
            #expect(Array(input[start..<(start + got.count)]) == got, "capture was not bit-exact")
        }
    }

    private func record(frames: Int, socket: String) async throws -> [Int16] {
        let connection = try await PCMConnection.connect(path: socket, clientName: "rec")
        // 300 ms of buffer: a busy machine must not overrun the recorder (that is not what is tested here).
        let stream = try await connection.openCapture(format: stereo16, latencyMicroseconds: 300_000)
        var collected: [UInt8] = []
        for try await chunk in stream.captured {
            collected += chunk
            if collected.count >= frames * 4 { break }
        }
        connection.close()
        return samples(of: Data(collected.prefix(frames * 4)))
    }

    @Test("misbehaving clients get clear errors; a well-behaved client is not disturbed")
    func misbehavingClients() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256", "--max-streams", "2"], directory: dir)
        let frames = testFrames(count: 48_000, seed: 77)
        let good = try await PCMConnection.connect(path: daemon.socket, clientName: "good")
        // A generous buffer: the test's own raw sockets share the machine with the daemon.
        let goodStream = try await good.openPlayback(format: stereo16, latencyMicroseconds: 500_000)
        let writer = Task { try await goodStream.write(bytes(frames)) }

        // Garbage instead of a hello (more than a header's worth, so it is judged at once).
        #expect(try rawExchange(daemon.socket, Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)) == .malformedMessage)
        // A valid message before hello.
        #expect(try rawExchange(daemon.socket, Envelope(.listStreams, tag: 1).encoded()) == .unexpectedMessage)
        // An absurd length, refused from the header alone.
        var absurd = try Envelope(.hello(Hello(pid: 1, clientName: "x")), tag: 1).encoded()
        absurd.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(try rawExchange(daemon.socket, absurd) == .payloadTooLarge)
        // An unknown protocol version.
        var future = try Envelope(.hello(Hello(pid: 1, clientName: "x")), tag: 1).encoded()
        future[4] = 9
        #expect(try rawExchange(daemon.socket, future) == .unsupportedVersion)
        // A daemon-only message from a client.
        var spoof = try Envelope(.hello(Hello(pid: 1, clientName: "x")), tag: 1).encoded()
        try Envelope(.drained, stream: StreamID(1)).encode(appendingTo: &spoof)
        #expect(try rawExchange(daemon.socket, spoof) == .unexpectedMessage)
        // An out-of-range field in a request: refused, and the connection stays usable.
        var badRate = try Envelope(.hello(Hello(pid: 1, clientName: "x")), tag: 1).encoded()
        var open = try Envelope(.openStream(OpenStream(direction: .playback, format: stereo16)), tag: 2).encoded()
        open.replaceSubrange(24..<28, with: [0xE7, 0x03, 0, 0])  // rate 999
        badRate += open
        #expect(try rawExchange(daemon.socket, badRate) == .invalidArgument)
        // A client that disconnects mid-message.
        _ = try? rawExchange(daemon.socket, Array(try Envelope(.hello(Hello(pid: 1, clientName: "x")), tag: 1).encoded().prefix(7)), expectReply: false)
        // An impossible position in the shared ring: disconnected with a reason, its stream released.
        #expect(try positionAbuse(daemon.socket) == .sharedMemoryViolation)

        // The client library refuses an impossible format before sending anything.
        let other = try await PCMConnection.connect(path: daemon.socket, clientName: "other")
        await #expect(throws: PCMClientError.invalidArgument("openStream.rate has invalid value 999")) {
            try await other.openPlayback(format: PCMProtocol.StreamFormat(.s16, rate: 999, channels: 2))
        }
        let kept = try await other.openPlayback(format: stereo16)  // the limit is 2: good's and this one
        do {
            _ = try await other.openPlayback(format: stereo16)
            Issue.record("a third stream must be refused")
        } catch {
            guard case .refused(let reply) = error else { Issue.record("expected a refusal, got \(error)"); return }
            #expect(reply.code == .tooManyStreams)
        }

        try await writer.value
        try await goodStream.drain()
        #expect(goodStream.status.underruns == 0, "the good client underran")
        let streams = try await good.streams()
        #expect(streams.map(\.id).contains(goodStream.id))
        #expect(streams.count == 2, "only the good client's and the other client's streams remain: \(streams.map(\.clientName))")
        #expect(kept.status.closed == nil)
        other.close()
        good.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "the daemon survived every bad client: \(result.log)")
        let played = samples(of: try Data(contentsOf: dir.appendingPathComponent("out.raw")))
        let start = try #require(played.firstIndex { $0 != 0 })
        try #require(played.count >= start + frames.count)
        #expect(Array(played[start..<(start + frames.count)]) == frames, "the good client's audio was disturbed")
    }

    @Test("pcmctl's view: devices, streams with client names, volume changes reach the owner")
    func control() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let owner = try await PCMConnection.connect(path: daemon.socket, clientName: "owner")
        let stream = try await owner.openPlayback(format: PCMProtocol.StreamFormat(.float32, rate: 44_100, channels: 1), name: "music")
        let controller = try await PCMConnection.connect(path: daemon.socket, clientName: "pcmctl")
        let devices = try await controller.devices()
        #expect(devices.count == 1)
        #expect(devices.first?.name == "playout")
        #expect(devices.first?.format == stereo16)
        let listed = try #require(try await controller.streams().first { $0.id == stream.id })
        #expect(listed.clientName == "owner")
        #expect(listed.name == "music")
        #expect(listed.format.rate == 44_100)
        #expect(listed.clientUID == getuid())
        try await controller.setVolume(Volume(level: 0.25, muted: true), stream: stream.id)
        try await stream.pause()  // a round trip on the owner's connection: the announcement came first
        #expect(stream.status.volume == Volume(level: 0.25, muted: true))
        await #expect(throws: PCMClientError.self) { try await controller.setVolume(.unity, stream: StreamID(9999)) }
        owner.close()
        controller.close()
        _ = try daemon.stop()
    }
}

/// Sends raw bytes on a fresh connection and returns the error code the daemon answers with
/// before it closes the connection.
private func rawExchange(_ path: String, _ bytes: [UInt8], expectReply: Bool = true) throws -> ErrorCode? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(connected == 0)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    guard expectReply else { return nil }
    return readErrorCode(fd)
}

/// Reads messages until an error arrives or the daemon closes the connection.
private func readErrorCode(_ fd: Int32) -> ErrorCode? {
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var framer = MessageFramer()
    while true {
        let space = framer.receiveBuffer()
        let count = read(fd, space.baseAddress, space.count)
        if count <= 0 { return nil }
        framer.didReceive(count)
        while let envelope = try? framer.next() {
            if case .error(let reply) = envelope.message { return reply.code }
        }
    }
}

/// Opens a stream with the synchronous core, claims to have written ten rings' worth, and
/// returns the error code the daemon disconnects it with.
private func positionAbuse(_ path: String) throws -> ErrorCode? {
    let connection = try BlockingConnection.connect(path: path, clientName: "liar")
    let stream = try connection.open(OpenStream(direction: .playback, format: stereo16))
    stream.memory.publishClientPosition(UInt64(10 * stream.ringFrames))
    // The audio thread sees it within a period; requests then fail with the daemon's reason.
    for _ in 0..<250 {
        do throws(ClientCoreError) {
            _ = try connection.listStreams()
        } catch {
            switch error {
            case .disconnected(let reply?), .streamClosed(let reply?), .refused(let reply): return reply.code
            default:
                Issue.record("expected the daemon's reason, got \(error)")
                return nil
            }
        }
        usleep(20_000)
    }
    Issue.record("the daemon must end a stream whose writer lies about its position")
    return nil
}
