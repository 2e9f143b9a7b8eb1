// Rules of docs/protocol.md that a real daemon must keep, spoken in raw protocol because
// PCMClient never breaks them: openStream's device field is honoured (0 is the default, an
// unknown number is noSuchDevice), version 1's audio messages are refused as unknown types,
// and requests that arrive
// together with the client's half-close (shutdown(SHUT_WR)) are all answered before the
// daemon closes the connection.
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

@Suite("protocol rules against a real daemon", .serialized, .timeLimit(.minutes(2)))
struct ProtocolRuleTests {
    @Test("openStream on an unknown device is refused with noSuchDevice; 0 and 1 open on device 1")
    func unknownDevice() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let client = try RawClient(path: daemon.socket)
        try client.introduce()
        for (tag, device) in [(UInt32(2), UInt32(7)), (3, 2), (4, .max)] {
            try client.send(Envelope(.openStream(OpenStream(direction: .playback, format: stereo16, device: AudioDeviceID(device))), tag: tag))
            let reply = client.receive()
            guard case .error(let error) = reply?.message else {
                Issue.record("device \(device) must be refused, got \(String(describing: reply))")
                continue
            }
            #expect(error.code == .noSuchDevice, "device \(device): \(error)")
            #expect(reply?.tag == tag, "the refusal answers its request")
        }
        // The refusals left the connection usable, and the default and the real device open.
        for (tag, device) in [(UInt32(5), AudioDeviceID.defaultDevice), (6, AudioDeviceID(1))] {
            try client.send(Envelope(.openStream(OpenStream(direction: .playback, format: stereo16, device: device)), tag: tag))
            let reply = client.receive()
            guard case .streamOpened(let opened) = reply?.message else {
                Issue.record("device \(device.rawValue) must open, got \(String(describing: reply))")
                continue
            }
            #expect(opened.device == AudioDeviceID(1))
            #expect(reply?.tag == tag)
            #expect(opened.memoryBytes > 0 && opened.descriptorCount == 2, "streamOpened describes the shared memory it carries")
        }
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }

    @Test("a version-1 audioData (type 0x20, retired) is refused as an unknown type and the connection closed")
    func retiredAudioData() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let client = try RawClient(path: daemon.socket)
        try client.introduce()
        try client.send(Envelope(.openStream(OpenStream(direction: .playback, format: stereo16)), tag: 2))
        let opened = try #require(client.receive())
        guard case .streamOpened = opened.message else {
            Issue.record("expected streamOpened, got \(opened)")
            return
        }
        // Version 2 has no type for it, so the header is written by hand: 4 bytes of "audio".
        var bytes: [UInt8] = [0x50, 0x43, 0x4D, 0x44, WireLimits.version, 0x20, 0, 0, 4, 0, 0, 0]
        withUnsafeBytes(of: opened.stream.rawValue.littleEndian) { bytes += $0 }
        bytes += [0, 0, 0, 0, 1, 2, 3, 4]
        // A request behind it: a daemon that let the empty message pass answers this one instead.
        try Envelope(.listStreams, tag: 3).encode(appendingTo: &bytes)
        client.send(bytes)
        let after = client.receiveUntilClosed()
        let errors = after.compactMap { if case .error(let reply) = $0.message { reply } else { nil } }
        #expect(errors.map(\.code) == [.unknownMessageType], "got \(after.map(\.message))")
        #expect(!after.contains { if case .streamList = $0.message { true } else { false } }, "the request behind it must not be served")
        #expect(client.closedByDaemon, "the daemon must close the connection")
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }

    @Test("requests sent just before shutdown(SHUT_WR) are all answered, then the connection closes")
    func halfClose() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        // Several rounds: each is a chance for the end of the stream to arrive with the requests.
        for round in 0..<10 {
            let client = try RawClient(path: daemon.socket)
            try client.send(
                Envelope(.hello(Hello(pid: UInt32(getpid()), clientName: "half-\(round)")), tag: 1),
                Envelope(.listDevices, tag: 2),
                Envelope(.openStream(OpenStream(direction: .playback, format: stereo16)), tag: 3),
                Envelope(.listStreams, tag: 4)
            )
            client.shutdownWrite()
            let replies = client.receiveUntilClosed()
            #expect(client.closedByDaemon, "round \(round): the daemon must close after answering")
            let answered = replies.filter { $0.tag != 0 }.map { "\($0.tag) \($0.message.type)" }
            #expect(answered == ["1 welcome", "2 deviceList", "3 streamOpened", "4 streamList"], "round \(round): \(replies.map(\.message))")
        }
        // The half-closed clients' streams are gone with them.
        let watcher = try await PCMConnection.connect(path: daemon.socket, clientName: "watcher")
        #expect(try await watcher.streams().isEmpty)
        watcher.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }
}
