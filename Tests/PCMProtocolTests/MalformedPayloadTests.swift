// Every kind of bad payload yields the specific ProtocolError that names it: truncation at every
// length, trailing bytes, out-of-range fields, bad strings, lying list counts. And the encoder
// refuses to produce what the decoder would refuse.

import PCMBufferCore
import Testing
@testable import PCMProtocol

@Suite struct MalformedPayloadTests {
    /// Replaces the payload of `envelope`'s encoding with `payload` and fixes up the length.
    func message(_ envelope: Envelope, payload: [UInt8]) throws -> [UInt8] {
        let header = try MessageHeader.decode(try envelope.encoded())
        var bytes: [UInt8] = []
        MessageHeader(type: header.type, length: payload.count, stream: header.stream, tag: header.tag)
            .encode(appendingTo: &bytes)
        return bytes + payload
    }

    func payload(of envelope: Envelope) throws -> [UInt8] {
        Array(try envelope.encoded().dropFirst(WireLimits.headerBytes))
    }

    // Every payload of version 2 has an exact shape (version 1's audio data, of any length,
    // was the exception and is gone).
    @Test(arguments: SampleMessages.small)
    func everyTruncation_isRefused(envelope: Envelope) throws {
        let full = try payload(of: envelope)
        for count in 0..<full.count {
            let bytes = try message(envelope, payload: Array(full.prefix(count)))
            #expect(throws: ProtocolError.self, "cut at \(count) of \(full.count)") { try Envelope.decode(bytes) }
        }
    }

    @Test(arguments: SampleMessages.small)
    func trailingBytes_areRefused(envelope: Envelope) throws {
        let bytes = try message(envelope, payload: try payload(of: envelope) + [0])
        #expect(throws: ProtocolError.trailingBytes(envelope.message.type, count: 1)) { try Envelope.decode(bytes) }
    }

    @Test func lengthDisagreeingWithTheBytes_isRefused() throws {
        var bytes = try Envelope(.setStreamVolume(Volume(level: 1)), stream: StreamID(1)).encoded()
        let header = try MessageHeader.decode(bytes)
        bytes.removeLast()
        #expect(throws: ProtocolError.truncated(.setStreamVolume, needed: 5, available: 4)) {
            try bytes.withUnsafeBytes { raw in
                _ = try Envelope.decode(header: header, payload: UnsafeRawBufferPointer(rebasing: raw[20...]))
            }
        }
    }

    @Test func versionOneAudioTypes_areUnknown() throws {
        for type: UInt8 in [0x20, 0x21, 0x22, 0x23] {
            let bytes = rawHeader(type: type, length: 4, stream: 1) + [1, 2, 3, 4]
            #expect(throws: ProtocolError.unknownMessageType(type)) { try Envelope.decode(bytes) }
        }
    }

    /// An openStream payload with one field replaced.
    func openStream(direction: UInt8 = 1, format: UInt8 = 1, channels: UInt16 = 2, rate: UInt32 = 48_000,
                    latency: UInt32 = 0, name: [UInt8] = [0, 0]) -> [UInt8] {
        var bytes: [UInt8] = [direction, format]
        withUnsafeBytes(of: channels.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: rate.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: latency.littleEndian) { bytes += $0 }
        bytes += [0, 0, 0, 0]  // device
        return bytes + name
    }

    func decodeOpen(_ payload: [UInt8]) throws -> Envelope {
        var bytes = rawHeader(type: MessageType.openStream.rawValue, length: UInt32(payload.count))
        bytes += payload
        return try Envelope.decode(bytes)
    }

    @Test func openStream_baseline_decodes() throws {
        let decoded = try decodeOpen(openStream())
        #expect(decoded.message == .openStream(OpenStream(direction: .playback, format: StreamFormat(.s16, rate: 48_000, channels: 2))))
    }

    @Test(arguments: [UInt8(0), 4, 255])
    func unknownDirection_isInvalid(raw: UInt8) {
        #expect(throws: ProtocolError.invalidValue(.openStream, field: "direction", value: Int64(raw))) {
            try decodeOpen(openStream(direction: raw))
        }
    }

    @Test(arguments: [UInt8(0), 6, 0x80, 255])
    func unknownFormat_isUnsupportedFormat(raw: UInt8) {
        #expect(throws: ProtocolError.unsupportedFormat(raw)) { try decodeOpen(openStream(format: raw)) }
        #expect(ProtocolError.unsupportedFormat(raw).code == .unsupportedFormat)
    }

    @Test(arguments: [UInt16(0), 33, .max])
    func channelsOutOfRange_areInvalid(raw: UInt16) {
        #expect(throws: ProtocolError.invalidValue(.openStream, field: "channels", value: Int64(raw))) {
            try decodeOpen(openStream(channels: raw))
        }
    }

    @Test(arguments: [UInt32(0), 999, 768_001, .max])
    func rateOutOfRange_isInvalid(raw: UInt32) {
        #expect(throws: ProtocolError.invalidValue(.openStream, field: "rate", value: Int64(raw))) {
            try decodeOpen(openStream(rate: raw))
        }
    }

    @Test func absurdLatency_isInvalid() {
        #expect(throws: ProtocolError.invalidValue(.openStream, field: "latency", value: Int64(UInt32.max))) {
            try decodeOpen(openStream(latency: .max))
        }
    }

    @Test func invalidUTF8_isRefused() {
        #expect(throws: ProtocolError.invalidString(.openStream, field: "name")) {
            try decodeOpen(openStream(name: [2, 0, 0xC3, 0x28]))
        }
        #expect(throws: ProtocolError.invalidString(.openStream, field: "name")) {
            try decodeOpen(openStream(name: [1, 0, 0xFF]))
        }
    }

    @Test func overlongName_isRefusedBeforeItsBytesAreRead() {
        // Length 256 but only 3 bytes follow: refused on the length alone.
        #expect(throws: ProtocolError.invalidString(.openStream, field: "name")) {
            try decodeOpen(openStream(name: [0x00, 0x01, 0x61, 0x61, 0x61]))
        }
        // A string longer than the bytes left is truncation.
        #expect(throws: ProtocolError.truncated(.openStream, needed: 10, available: 1)) {
            try decodeOpen(openStream(name: [10, 0, 0x61]))
        }
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity, 1.0001, -0.5, 2])
    func volumeOutOfRange_isInvalid(level: Float) throws {
        var payload: [UInt8] = []
        withUnsafeBytes(of: level.bitPattern.littleEndian) { payload += $0 }
        payload.append(0)
        var bytes = rawHeader(type: MessageType.setStreamVolume.rawValue, length: 5, stream: 1)
        bytes += payload
        #expect(throws: ProtocolError.invalidValue(.setStreamVolume, field: "volume", value: Int64(level.bitPattern))) {
            try Envelope.decode(bytes)
        }
        #expect(throws: ProtocolError.self) {
            try Envelope(.setStreamVolume(Volume(level: level)), stream: StreamID(1)).encoded()
        }
    }

    @Test func booleanOtherThanZeroOrOne_isInvalid() {
        var bytes = rawHeader(type: MessageType.setStreamVolume.rawValue, length: 5, stream: 1)
        bytes += [0, 0, 0x80, 0x3F, 2]  // 1.0, muted = 2
        #expect(throws: ProtocolError.invalidValue(.setStreamVolume, field: "muted", value: 2)) { try Envelope.decode(bytes) }
    }

    @Test func periodLargerThanBuffer_orZero_isInvalid() throws {
        for (buffer, period) in [(UInt32(256), UInt32(512)), (256, 0)] {
            var payload: [UInt8] = [1]
            withUnsafeBytes(of: buffer.littleEndian) { payload += $0 }
            withUnsafeBytes(of: period.littleEndian) { payload += $0 }
            payload += [1, 0, 0, 0, 1, 2, 0, 0x80, 0xBB, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]
            payload += [0, 0x10, 0, 0, 0, 0, 0, 0, 2]
            var bytes = rawHeader(type: MessageType.streamOpened.rawValue, length: UInt32(payload.count), stream: 1)
            bytes += payload
            #expect(throws: ProtocolError.invalidValue(.streamOpened, field: "periodFrames", value: Int64(period))) {
                try Envelope.decode(bytes)
            }
        }
        let bad = StreamOpened(
            direction: .playback, ring: BufferGeometry(bufferFrames: 10, periodFrames: 20), device: AudioDeviceID(1),
            deviceFormat: SampleMessages.deviceFormat, startThresholdFrames: 5,
            deviceBuffer: BufferGeometry(bufferFrames: 8, periodFrames: 8), memoryBytes: 4096
        )
        #expect(throws: ProtocolError.self) { try Envelope(.streamOpened(bad), stream: StreamID(1)).encoded() }
    }

    @Test func unknownEnumBytes_inListings_areInvalid() throws {
        var good = try payload(of: Envelope(.streamList([SampleMessages.stream])))
        good[good.count - 1] = 9  // the entry's state
        #expect(throws: ProtocolError.self) { try Envelope.decode(try message(Envelope(.streamList([])), payload: good)) }
    }

    @Test func listingPeaks_outsideZeroToOne_areInvalid() throws {
        var entry = SampleMessages.stream
        for bad in [Float(1.5), -0.1, .nan, .infinity] {
            entry.peak = bad
            #expect(throws: ProtocolError.self, "peak \(bad)") { try Envelope(.streamList([entry])).encoded() }
        }
        // A peer that sends one anyway is refused at decode too: 1.5 in the device's peak field.
        var good = try payload(of: Envelope(.deviceList([SampleMessages.device])))
        let peakAt = good.count - 1 - 4
        withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian) { for (i, byte) in $0.enumerated() { good[peakAt + i] = byte } }
        #expect(throws: ProtocolError.self) { try Envelope.decode(try message(Envelope(.deviceList([])), payload: good)) }
    }

    @Test func deviceListEntry_withUnknownFlags_isInvalid() throws {
        var good = try payload(of: Envelope(.deviceList([SampleMessages.device])))
        good[good.count - 1] = 0x03  // the entry's flags: bit 1 means nothing (yet)
        #expect(throws: ProtocolError.invalidValue(.deviceList, field: "flags", value: 3)) {
            try Envelope.decode(try message(Envelope(.deviceList([])), payload: good))
        }
    }

    @Test func lyingListCount_isRefusedBeforeReserving() throws {
        // 65535 device entries claimed in a 2-byte payload: refused without reserving 65535 entries.
        var bytes = rawHeader(type: MessageType.deviceList.rawValue, length: 2)
        bytes += [0xFF, 0xFF]
        #expect(throws: ProtocolError.truncated(.deviceList, needed: 65_535 * DeviceInfo.minimumBytes, available: 0)) {
            try Envelope.decode(bytes)
        }
    }

    @Test func streamListEntry_withStreamZero_isInvalid() throws {
        var entry = SampleMessages.stream
        entry.id = .connection
        #expect(throws: ProtocolError.invalidValue(.streamList, field: "id", value: 0)) {
            try Envelope(.streamList([entry])).encoded()
        }
        var good = try payload(of: Envelope(.streamList([SampleMessages.stream])))
        good.replaceSubrange(2..<6, with: [0, 0, 0, 0])
        #expect(throws: ProtocolError.invalidValue(.streamList, field: "id", value: 0)) {
            try Envelope.decode(try message(Envelope(.streamList([])), payload: good))
        }
    }

    @Test func encoder_refusesWhatTheDecoderWould_andLeavesTheBufferUntouched() {
        var bytes: [UInt8] = [1, 2, 3]
        let long = String(repeating: "é", count: 200)  // 400 UTF-8 bytes
        #expect(throws: ProtocolError.invalidString(.hello, field: "clientName")) {
            try Envelope(.hello(Hello(pid: 1, clientName: long))).encode(appendingTo: &bytes)
        }
        #expect(throws: ProtocolError.misplacedStream(.drained, stream: 0)) {
            try Envelope(.drained, stream: .connection).encode(appendingTo: &bytes)
        }
        #expect(throws: ProtocolError.misplacedStream(.welcome, stream: 2)) {
            try Envelope(.welcome(Welcome(daemonPID: 1, maxStreams: 1, daemonName: "")), stream: StreamID(2)).encode(appendingTo: &bytes)
        }
        #expect(throws: ProtocolError.self) {
            try Envelope(.streamList([StreamInfo](repeating: SampleMessages.stream, count: 1000))).encode(appendingTo: &bytes)
        }
        #expect(bytes == [1, 2, 3])
    }

    // Found by fuzz-protocol: a prealloc or max of u64::MAX (the "none" value of the runtime
    // size only) decoded as Int.max, which re-encodes as 0x7FFF...: a non-canonical decode.
    @Test(arguments: [UInt64(0x0102_0304_0506_0708), 0x0203_0405_0607_0809])
    func memoryListPreallocOrMax_ofU64Max_isInvalid(marker: UInt64) throws {
        let status = SubstreamStatus(
            bufferType: .continuous, preallocatedBytes: ByteCount(Int(0x0102_0304_0506_0708)), hasPreallocatedBuffer: true,
            preallocationMax: ByteCount(Int(0x0203_0405_0607_0809)), hasProcEntry: true, isOpen: false, runtimeBytes: nil,
            bufferBytesMax: nil)
        let listing = MemoryListing(cardLimit: nil, cards: [], substreams: [
            SubstreamMemory(substream: SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0), status: status),
        ])
        var bytes = try Envelope(.memoryList(listing), tag: 1).encoded()
        #expect(try Envelope.decode(bytes) == Envelope(.memoryList(listing), tag: 1))
        let field = withUnsafeBytes(of: marker.littleEndian) { Array($0) }
        let at = try #require((0...(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == field })
        bytes.replaceSubrange(at..<(at + 8), with: repeatElement(0xFF, count: 8))
        #expect(throws: ProtocolError.self) { try Envelope.decode(bytes) }
    }

    @Test func listTooLongForOnePayload_isRefusedByTheEncoder() {
        let many = [StreamInfo](repeating: SampleMessages.stream, count: 1000)
        #expect(throws: ProtocolError.self) { try Envelope(.streamList(many)).encoded() }
    }
}
