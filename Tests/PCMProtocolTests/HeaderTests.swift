// The fixed header: its exact byte layout (pinned, since the protocol is frozen once shipped)
// and every way a header can be refused.

import Testing
@testable import PCMProtocol

@Suite struct HeaderTests {
    @Test func layout_isPinnedByteForByte() throws {
        let header = MessageHeader(type: .drained, length: 0x0102, stream: StreamID(0x0A0B_0C0D), tag: 0x1122_3344)
        var bytes: [UInt8] = []
        header.encode(appendingTo: &bytes)
        #expect(bytes == [
            0x50, 0x43, 0x4D, 0x44,  // "PCMD"
            0x02,                    // version
            0x16,                    // type: drained
            0x00, 0x00,              // flags
            0x02, 0x01, 0x00, 0x00,  // length, little-endian
            0x0D, 0x0C, 0x0B, 0x0A,  // stream
            0x44, 0x33, 0x22, 0x11,  // tag
        ])
        #expect(try MessageHeader.decode(bytes) == header)
    }

    @Test func constants_matchTheDocumentation() {
        #expect(WireLimits.headerBytes == 20)
        #expect(WireLimits.maxPayloadBytes == 65_536)
        #expect(WireLimits.version == 2)
        #expect(Array("PCMD".utf8) == withUnsafeBytes(of: WireLimits.magic.littleEndian) { Array($0) })
    }

    @Test func everyMessageTypeCode_isUniqueAndStable() {
        let codes = MessageType.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(MessageType(rawValue: 0x01) == .hello)
        #expect(MessageType(rawValue: 0x11) == .streamOpened)
        #expect(MessageType(rawValue: 0x43) == .streamList)
    }

    @Test func badMagic_isRefused() {
        let bytes = rawHeader(magic: 0x5454_4547, type: MessageType.ok.rawValue, length: 0)  // "GETT" of "GET /"
        #expect(throws: ProtocolError.badMagic(0x5454_4547)) { try MessageHeader.decode(bytes) }
    }

    @Test(arguments: [UInt8(0), 1, 3, 255])
    func unknownVersion_isRefusedBeforeTheType(version: UInt8) {
        // An unknown type too: the version is what a newer peer needs to hear about.
        let bytes = rawHeader(version: version, type: 0xEE, length: 0)
        #expect(throws: ProtocolError.unsupportedVersion(version)) { try MessageHeader.decode(bytes) }
        #expect(ProtocolError.unsupportedVersion(version).code == .unsupportedVersion)
    }

    /// 0x20-0x23 carried audio, credits, the clock and xruns in version 1: retired in version 2.
    @Test(arguments: [UInt8(0), 0x05, 0x0F, 0x17, 0x20, 0x21, 0x22, 0x23, 0x24, 0x35, 0x49, 0xFF])
    func unknownType_isRefused(type: UInt8) {
        #expect(throws: ProtocolError.unknownMessageType(type)) {
            try MessageHeader.decode(rawHeader(type: type, length: 0))
        }
    }

    @Test func reservedFlags_areRefused() {
        let bytes = rawHeader(type: MessageType.ok.rawValue, flags: 0x8000, length: 0)
        #expect(throws: ProtocolError.reservedFlagsSet(0x8000)) { try MessageHeader.decode(bytes) }
    }

    @Test(arguments: [UInt32(WireLimits.maxPayloadBytes + 1), 0x7FFF_FFFF, .max])
    func absurdLength_isRefusedFromTheHeaderAlone(length: UInt32) {
        // Only the 20 header bytes exist: the length is judged before any payload is looked for.
        let bytes = rawHeader(type: MessageType.streamList.rawValue, length: length)
        #expect(throws: ProtocolError.payloadTooLarge(length: length, limit: WireLimits.maxPayloadBytes)) {
            try MessageHeader.decode(bytes)
        }
    }

    @Test func maximumLength_isAccepted() throws {
        let bytes = rawHeader(type: MessageType.streamList.rawValue, length: UInt32(WireLimits.maxPayloadBytes))
        #expect(try MessageHeader.decode(bytes).length == WireLimits.maxPayloadBytes)
    }

    @Test func streamMessages_mustNameAStream_andConnectionMessagesMustNot() {
        #expect(throws: ProtocolError.misplacedStream(.drained, stream: 0)) {
            try MessageHeader.decode(rawHeader(type: MessageType.drained.rawValue, length: 1, stream: 0))
        }
        #expect(throws: ProtocolError.misplacedStream(.hello, stream: 3)) {
            try MessageHeader.decode(rawHeader(type: MessageType.hello.rawValue, length: 0, stream: 3))
        }
        // Replies and errors may name the stream their request concerned, or none.
        for stream: UInt32 in [0, 9] {
            #expect(throws: Never.self) { try MessageHeader.decode(rawHeader(type: MessageType.ok.rawValue, length: 0, stream: stream)) }
        }
        for type in MessageType.allCases {
            let stream: UInt32 = type.streamField == .required ? 5 : 0
            #expect(throws: Never.self) { try MessageHeader.decode(rawHeader(type: type.rawValue, length: 0, stream: stream)) }
        }
    }

    @Test func shortHeader_isTruncated() {
        let full = rawHeader(type: MessageType.ok.rawValue, length: 0)
        for count in 0..<WireLimits.headerBytes {
            #expect(throws: ProtocolError.truncatedHeader(available: count)) {
                try MessageHeader.decode(Array(full.prefix(count)))
            }
        }
    }

    @Test func requestsAndSenders_areConsistent() {
        for type in MessageType.allCases where type.isRequest {
            #expect(type.sender == .client, "\(type) is a request, so a client sends it")
        }
        #expect(MessageType.allCases.allSatisfy { $0.sender != .either }, "no version-2 message goes both ways")
        #expect(MessageType.streamOpened.sender == .daemon)
    }
}
