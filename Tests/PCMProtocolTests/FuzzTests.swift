// Fuzz-style tests: random bytes, random mutations of valid messages, and random truncations
// through the header and payload decoders and the framer. The property is totality (a value or
// a ProtocolError, never a trap) plus canonical encoding: anything that decodes re-encodes to
// exactly the bytes it came from. Seeds are fixed so every failure can be replayed.

import Testing
@testable import PCMProtocol

@Suite struct FuzzTests {
    /// Decodes `bytes`; if that succeeds, the re-encoding must be byte-identical.
    func checkCanonical(_ bytes: [UInt8], seed: UInt64) {
        guard let envelope = try? Envelope.decode(bytes) else { return }
        let again = try? envelope.encoded()
        #expect(again == bytes, "seed \(seed): decoded \(envelope.message.type) did not re-encode identically")
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomBytes_neverTrap(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...64, using: &random)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            checkCanonical(bytes, seed: seed)
        }
    }

    @Test(arguments: [UInt64(11), 12, 13, 14])
    func randomPayloads_behindValidHeaders_neverTrap(seed: UInt64) {
        // Random bytes almost never pass the magic; put a valid header in front so the payload
        // decoders themselves are exercised for every message type.
        var random = SeededGenerator(seed: seed)
        var decodedSomething = 0
        for _ in 0..<20_000 {
            let type = MessageType.allCases.randomElement(using: &random)!
            let count = Int.random(in: 0...96, using: &random)
            var bytes = rawHeader(type: type.rawValue, length: UInt32(count), stream: type.streamField == .required ? 1 : 0)
            bytes += (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            if (try? Envelope.decode(bytes)) != nil { decodedSomething += 1 }
            checkCanonical(bytes, seed: seed)
        }
        #expect(decodedSomething > 0, "the fuzzer should also reach successful decodes")
    }

    @Test(arguments: [UInt64(21), 22, 23])
    func mutatedValidMessages_neverTrap_andStayCanonical(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let encoded = try SampleMessages.small.map { try $0.mustEncode() }
        for _ in 0..<20_000 {
            var bytes = encoded.randomElement(using: &random)!
            switch Int.random(in: 0..<4, using: &random) {
            case 0:  // flip one bit anywhere
                let index = Int.random(in: 0..<bytes.count, using: &random)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1:  // overwrite one byte
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 2:  // truncate
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
            default:  // append junk
                bytes += (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            checkCanonical(bytes, seed: seed)
        }
    }

    @Test(arguments: [UInt64(31), 32])
    func framer_survivesRandomChunking_ofValidTraffic(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        var stream: [UInt8] = []
        var expected: [Envelope] = []
        for _ in 0..<300 {
            let envelope = SampleMessages.all.randomElement(using: &random)!
            try envelope.encode(appendingTo: &stream)
            expected.append(envelope)
        }
        var framer = MessageFramer()
        var received: [Envelope] = []
        var offset = 0
        while offset < stream.count {
            let chunk = min(Int.random(in: 1...9000, using: &random), stream.count - offset)
            var fed = 0
            while fed < chunk {
                fed += stream[(offset + fed)..<(offset + chunk)].withUnsafeBytes { framer.receive($0) }
                while let envelope = try framer.next() { received.append(envelope) }
            }
            offset += chunk
        }
        #expect(received == expected)
        let left = framer.bufferedBytes
        #expect(left == 0)
    }

    @Test(arguments: [UInt64(41), 42])
    func framer_randomGarbage_failsCleanly(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<2_000 {
            var framer = MessageFramer()
            let bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = bytes.withUnsafeBytes { framer.receive($0) }
            var failed = false
            do {
                while try framer.next() != nil {}
            } catch {
                failed = true
            }
            if bytes.count >= WireLimits.headerBytes {
                #expect(failed, "seed \(seed): 20+ random bytes should fail at the magic")
            }
        }
    }
}
