// The receive-side framer: byte-at-a-time delivery, several messages per read, the maximum
// message, early refusal of bad headers, poisoning after a bad header, and recovery after a bad
// payload.

import Testing
@testable import PCMProtocol

@Suite struct FramerTests {
    @Test func oneByteAtATime_yieldsEachMessageExactlyWhenComplete() throws {
        let envelope = Envelope(.hello(Hello(pid: 7, clientName: "test")), tag: 1)
        let bytes = try envelope.encoded()
        var framer = MessageFramer()
        for (index, byte) in bytes.enumerated() {
            _ = [byte].withUnsafeBytes { framer.receive($0) }
            let message = try framer.next()
            if index == bytes.count - 1 {
                #expect(message == envelope)
            } else {
                #expect(message == nil, "no message after \(index + 1) of \(bytes.count) bytes")
            }
        }
        let left = framer.bufferedBytes
        #expect(left == 0)
    }

    @Test func severalMessagesInOneRead_areAllReturned() throws {
        var bytes: [UInt8] = []
        for tag in UInt32(1)...5 { try Envelope(.ok, tag: tag).encode(appendingTo: &bytes) }
        var framer = MessageFramer()
        let accepted = bytes.withUnsafeBytes { framer.receive($0) }
        #expect(accepted == bytes.count)
        var tags: [UInt32] = []
        while let envelope = try framer.next() { tags.append(envelope.tag) }
        #expect(tags == [1, 2, 3, 4, 5])
    }

    @Test func maximumSizeMessage_fitsAfterAPartialOne() throws {
        let big = try SampleMessages.largest
        #expect(try big.encoded().count == WireLimits.maxMessageBytes)
        var bytes = try Envelope(.ok, tag: 1).encoded()
        bytes += try big.encoded()
        bytes += try Envelope(.ok, tag: 2).encoded()
        var framer = MessageFramer()
        var received: [Envelope] = []
        var offset = 0
        while offset < bytes.count {
            let space = framer.receiveBuffer()
            #expect(!space.isEmpty, "after draining, there is always room to read")
            let count = min(space.count, bytes.count - offset)
            bytes[offset..<(offset + count)].withUnsafeBytes { space.copyMemory(from: $0) }
            framer.didReceive(count)
            offset += count
            while let envelope = try framer.next() { received.append(envelope) }
        }
        #expect(received == [Envelope(.ok, tag: 1), big, Envelope(.ok, tag: 2)])
    }

    @Test func zeroCopyView_seesTheExactPayload() throws {
        let volume = Volume(level: 0.5, muted: true)
        let bytes = try Envelope(.setStreamVolume(volume), stream: StreamID(9)).encoded()
        var framer = MessageFramer()
        _ = bytes.withUnsafeBytes { framer.receive($0) }
        let seen = try framer.nextMessage { header, payload in (header.stream, Array(payload)) }
        #expect(seen?.0 == StreamID(9))
        #expect(seen?.1 == Array(bytes.dropFirst(WireLimits.headerBytes)))
    }

    @Test func absurdLength_isRefusedAsSoonAsTheHeaderArrives() {
        var framer = MessageFramer()
        let header = rawHeader(type: MessageType.streamList.rawValue, length: 0xFFFF_FFF0)
        _ = header.withUnsafeBytes { framer.receive($0) }
        do {
            _ = try framer.next()
            Issue.record("an absurd length must be refused")
        } catch {
            #expect(error == .payloadTooLarge(length: 0xFFFF_FFF0, limit: WireLimits.maxPayloadBytes))
        }
    }

    @Test func badHeader_poisonsTheFramer() throws {
        var framer = MessageFramer()
        var bytes = rawHeader(version: 9, type: MessageType.ok.rawValue, length: 0)
        bytes += try Envelope(.ok, tag: 1).encoded()
        _ = bytes.withUnsafeBytes { framer.receive($0) }
        for _ in 0..<2 {
            // The valid message behind the bad header is never handed out: the stream cannot be trusted.
            do {
                _ = try framer.next()
                Issue.record("a bad header must be refused, every time")
            } catch {
                #expect(error == .unsupportedVersion(9))
            }
        }
        let failed = framer.hasFailed
        #expect(failed)
    }

    @Test func badPayload_doesNotPoison_theNextMessageStillArrives() throws {
        var framer = MessageFramer()
        var bytes = rawHeader(type: MessageType.setStreamVolume.rawValue, length: 3, stream: 1)
        bytes += [1, 2, 3]
        bytes += try Envelope(.ok, tag: 4).encoded()
        _ = bytes.withUnsafeBytes { framer.receive($0) }
        do {
            _ = try framer.next()
            Issue.record("a truncated payload must be refused")
        } catch {
            #expect(error == .truncated(.setStreamVolume, needed: 4, available: 3))
        }
        let failed = framer.hasFailed
        #expect(!failed)
        let next = try framer.next()
        #expect(next == Envelope(.ok, tag: 4))
    }

    @Test func receive_acceptsOnlyWhatFits() {
        var framer = MessageFramer()
        let tooMuch = [UInt8](repeating: 0, count: WireLimits.maxMessageBytes + 100)
        let accepted = tooMuch.withUnsafeBytes { framer.receive($0) }
        #expect(accepted == WireLimits.maxMessageBytes)
        let buffered = framer.bufferedBytes
        #expect(buffered == WireLimits.maxMessageBytes)
    }
}
