// Every message encodes and decodes back to itself, the sample set covers every message type,
// and a few payloads are pinned byte for byte.

import PCMBufferCore
import Testing
@testable import PCMProtocol

@Suite struct RoundTripTests {
    @Test func samples_coverEveryMessageType() {
        let covered = Set(SampleMessages.all.map(\.message.type))
        #expect(covered == Set(MessageType.allCases))
    }

    @Test(arguments: SampleMessages.all)
    func everyMessage_roundTrips(envelope: Envelope) throws {
        let bytes = try envelope.mustEncode()
        let header = try MessageHeader.decode(bytes)
        #expect(header.type == envelope.message.type)
        #expect(header.length == bytes.count - WireLimits.headerBytes)
        #expect(try Envelope.decode(bytes) == envelope)
    }

    @Test func encodingAppends_withoutDisturbingWhatIsThere() throws {
        var bytes: [UInt8] = [9, 9, 9]
        try Envelope(.ok, tag: 1).encode(appendingTo: &bytes)
        try Envelope(.credits(Credits(frames: 3)), stream: StreamID(2)).encode(appendingTo: &bytes)
        #expect(bytes.prefix(3) == [9, 9, 9])
        #expect(bytes.count == 3 + 20 + 20 + 4)
    }

    @Test func hello_isPinnedByteForByte() throws {
        let bytes = try Envelope(.hello(Hello(pid: 0x0102_0304, clientName: "ab")), tag: 1).encoded()
        #expect(Array(bytes.dropFirst(WireLimits.headerBytes)) == [0x04, 0x03, 0x02, 0x01, 0x02, 0x00, 0x61, 0x62])
    }

    @Test func openStream_isPinnedByteForByte() throws {
        let open = OpenStream(
            direction: .playback, format: StreamFormat(.s16, rate: 48_000, channels: 2),
            latencyMicroseconds: 20_000, device: AudioDeviceID(1), name: "x"
        )
        let bytes = try Envelope(.openStream(open), tag: 1).encoded()
        #expect(Array(bytes.dropFirst(WireLimits.headerBytes)) == [
            0x01,                    // direction: playback
            0x01,                    // format: s16
            0x02, 0x00,              // channels
            0x80, 0xBB, 0x00, 0x00,  // rate 48000
            0x20, 0x4E, 0x00, 0x00,  // latency 20000 µs
            0x01, 0x00, 0x00, 0x00,  // device
            0x01, 0x00, 0x78,        // name "x"
        ])
    }

    @Test func audioData_appendPath_matchesTheEnumPath() throws {
        let samples: [UInt8] = (0..<200).map { UInt8($0) }
        var direct: [UInt8] = []
        try samples.withUnsafeBytes { raw in
            try Envelope.appendAudioData(stream: StreamID(4), samples: raw, to: &direct)
        }
        #expect(direct == (try Envelope(.audioData(samples), stream: StreamID(4)).encoded()))
    }

    @Test func sampleFormatCodes_areTheWireCodes() {
        // The wire carries SampleFormat.rawValue; pin it so PCMBufferCore cannot renumber silently.
        #expect(SampleFormat.s16.rawValue == 1)
        #expect(SampleFormat.s24.rawValue == 2)
        #expect(SampleFormat.s24Packed.rawValue == 3)
        #expect(SampleFormat.s32.rawValue == 4)
        #expect(SampleFormat.float32.rawValue == 5)
    }

    @Test func errorReply_fromProtocolError_carriesCodeAndText() {
        let reply = ErrorReply(ProtocolError.unsupportedFormat(9))
        #expect(reply.code == .unsupportedFormat)
        #expect(reply.text.contains("9"))
        #expect(ErrorCode(rawValue: 999).name == "code 999")
        #expect(Set(ErrorCode.known.map(\.rawValue)).count == ErrorCode.known.count)
    }
}
