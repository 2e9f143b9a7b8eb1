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
        try Envelope(.setStreamVolume(Volume(level: 1)), stream: StreamID(2)).encode(appendingTo: &bytes)
        #expect(bytes.prefix(3) == [9, 9, 9])
        #expect(bytes.count == 3 + 20 + 20 + 5)
    }

    @Test func hello_isPinnedByteForByte() throws {
        let bytes = try Envelope(.hello(Hello(pid: 0x0102_0304, clientName: "ab")), tag: 1).encoded()
        #expect(Array(bytes.dropFirst(WireLimits.headerBytes)) == [0x04, 0x03, 0x02, 0x01, 0x02, 0x00, 0x61, 0x62])
    }

    @Test func setPreallocation_isPinnedByteForByte() throws {
        let bytes = try Envelope(.setPreallocation(SetPreallocation(
            substream: SubstreamID(card: 2, device: 1, direction: .capture, subdevice: 3), kibibytes: 128)), tag: 9).encoded()
        #expect(Array(bytes[5...5]) == [0x46])
        #expect(Array(bytes[WireLimits.headerBytes...]) == [2, 0, 0, 0, 1, 0, 0, 0, 1, 3, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func memoryList_refusesUnknownBufferTypesAndFlags() throws {
        var bytes = try Envelope(.memoryList(SampleMessages.memory), tag: 1).encoded()
        // The first substream's buffer type byte follows the limit (8), the card count (2), two
        // cards (2 × 12), the substream count (2) and its name (13).
        let typeOffset = WireLimits.headerBytes + 8 + 2 + 24 + 2 + 13
        #expect(bytes[typeOffset] == UInt8(BufferType.continuous.rawValue))
        bytes[typeOffset] = 42
        #expect(throws: ProtocolError.invalidValue(.memoryList, field: "bufferType", value: 42)) { try Envelope.decode(bytes) }
        bytes[typeOffset] = 1
        bytes[typeOffset + 1] = 0b1000
        #expect(throws: ProtocolError.invalidValue(.memoryList, field: "flags", value: 8)) { try Envelope.decode(bytes) }
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

    @Test func streamOpened_isPinnedByteForByte() throws {
        let opened = StreamOpened(
            direction: .playback, ring: BufferGeometry(bufferFrames: 4096, periodFrames: 256), device: AudioDeviceID(1),
            deviceFormat: StreamFormat(.s16, rate: 48_000, channels: 2), startThresholdFrames: 4000,
            deviceBuffer: BufferGeometry(bufferFrames: 768, periodFrames: 256), memoryBytes: 0x1_2000)
        let bytes = try Envelope(.streamOpened(opened), stream: StreamID(3), tag: 1).encoded()
        #expect(Array(bytes.dropFirst(WireLimits.headerBytes)) == [
            0x01,                    // direction: playback
            0x00, 0x10, 0x00, 0x00,  // ring frames 4096
            0x00, 0x01, 0x00, 0x00,  // device period 256
            0x01, 0x00, 0x00, 0x00,  // device
            0x01,                    // device format: s16
            0x02, 0x00,              // channels
            0x80, 0xBB, 0x00, 0x00,  // rate 48000
            0xA0, 0x0F, 0x00, 0x00,  // start threshold 4000
            0x00, 0x03, 0x00, 0x00,  // device buffer 768
            0x00, 0x01, 0x00, 0x00,  // device period 256
            0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,  // memfd bytes
            0x02,                    // descriptors: memfd, eventfd
        ])
    }

    @Test func streamOpened_refusesDuplexAndBadThresholdsAndDescriptorCounts() throws {
        let good = StreamOpened(
            direction: .capture, ring: BufferGeometry(bufferFrames: 100, periodFrames: 10), device: AudioDeviceID(1),
            deviceFormat: StreamFormat(.s16, rate: 48_000, channels: 2), startThresholdFrames: 100,
            deviceBuffer: BufferGeometry(bufferFrames: 30, periodFrames: 10), memoryBytes: 4096)
        let bytes = try Envelope(.streamOpened(good), stream: StreamID(3), tag: 1).encoded()
        let payload = WireLimits.headerBytes
        var duplex = bytes
        duplex[payload] = StreamMode.duplex.rawValue
        #expect(throws: ProtocolError.self) { try Envelope.decode(duplex) }
        var threshold = bytes
        threshold[payload + 20] = 101  // start threshold beyond the ring
        #expect(throws: ProtocolError.self) { try Envelope.decode(threshold) }
        var zero = bytes
        zero[payload + 20] = 0
        #expect(throws: ProtocolError.self) { try Envelope.decode(zero) }
        var descriptors = bytes
        descriptors[descriptors.count - 1] = 3
        #expect(throws: ProtocolError.self) { try Envelope.decode(descriptors) }
        #expect(try Envelope.decode(bytes) == Envelope(.streamOpened(good), stream: StreamID(3), tag: 1))
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
