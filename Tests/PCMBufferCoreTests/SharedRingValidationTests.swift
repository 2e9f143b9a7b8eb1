// The audio thread's one defence against a hostile client: the client's position, loaded once,
// checked against the daemon's own position and the ring size. Whatever the client writes,
// including values that wrap UInt64 or sit just past the ring, the daemon is never given more
// than bufferFrames frames to move, and every address it computes stays inside the ring.

import PCMBufferCore
import Testing

@Suite("Shared ring validation")
struct SharedRingValidationTests {
    /// A generator with a fixed seed, so a failure reproduces (SplitMix64).
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Values a hostile client would try against the daemon's position `own`: anything, and
    /// especially the edges (equal, one past the ring, just behind, around 2^64).
    func hostileValue(near own: UInt64, buffer: UInt64, using random: inout SeededGenerator) -> UInt64 {
        let offset = UInt64.random(in: 0...3, using: &random)
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return random.next()
        case 1: return own &+ buffer &+ offset  // at and just past the ring
        case 2: return own &+ buffer &- offset
        case 3: return own &- 1 &- offset  // just behind: wraps to a huge distance
        case 4: return UInt64.max &- offset
        case 5: return offset
        case 6: return own &+ UInt64.random(in: 0...buffer, using: &random)
        default: return own ^ (1 << UInt64.random(in: 0..<64, using: &random))
        }
    }

    @Test("playback: W − R frames while that fits the ring, a violation beyond it")
    func playbackEdges() {
        let buffer: UInt64 = 2048
        #expect(SharedRingValidation.readable(clientProduced: 100, daemonConsumed: 100, bufferFrames: buffer) == .frames(0))
        #expect(SharedRingValidation.readable(clientProduced: 2148, daemonConsumed: 100, bufferFrames: buffer) == .frames(2048))
        #expect(SharedRingValidation.readable(clientProduced: 2149, daemonConsumed: 100, bufferFrames: buffer) == .violation(distance: 2049))
        #expect(SharedRingValidation.readable(clientProduced: 99, daemonConsumed: 100, bufferFrames: buffer) == .violation(distance: UInt64.max))
        #expect(SharedRingValidation.readable(clientProduced: 0, daemonConsumed: 1, bufferFrames: buffer).frames == 0)
        // Across 2^64: the daemon at max − 10, the client 16 frames ahead, wrapped to 5.
        #expect(SharedRingValidation.readable(clientProduced: 5, daemonConsumed: UInt64.max - 10, bufferFrames: buffer) == .frames(16))
        #expect(SharedRingValidation.readable(clientProduced: UInt64.max, daemonConsumed: 0, bufferFrames: buffer) == .violation(distance: UInt64.max))
    }

    @Test("capture: the free space buffer − (W − R), a violation when R is ahead of W or too far behind")
    func captureEdges() {
        let buffer: UInt64 = 2048
        #expect(SharedRingValidation.writable(clientConsumed: 500, daemonProduced: 500, bufferFrames: buffer) == .frames(2048))
        #expect(SharedRingValidation.writable(clientConsumed: 500, daemonProduced: 2548, bufferFrames: buffer) == .frames(0))
        #expect(SharedRingValidation.writable(clientConsumed: 499, daemonProduced: 2548, bufferFrames: buffer) == .violation(distance: 2049))
        #expect(SharedRingValidation.writable(clientConsumed: 501, daemonProduced: 500, bufferFrames: buffer) == .violation(distance: UInt64.max))
        #expect(SharedRingValidation.writable(clientConsumed: UInt64.max - 2, daemonProduced: 3, bufferFrames: buffer) == .frames(2042))
    }

    @Test("a million hostile positions, wrapping ones included, never yield more than the ring", arguments: [1 as UInt64, 1024, 2048, 12288, 1 << 28])
    func hostileNeverExceeds(buffer: UInt64) {
        var random = SeededGenerator(state: buffer)
        var violations = 0
        for _ in 0..<200_000 {
            let own = Bool.random(using: &random) ? random.next() : UInt64.max &- UInt64.random(in: 0...buffer, using: &random)
            let client = hostileValue(near: own, buffer: buffer, using: &random)
            let readable = SharedRingValidation.readable(clientProduced: client, daemonConsumed: own, bufferFrames: buffer)
            let writable = SharedRingValidation.writable(clientConsumed: client, daemonProduced: own, bufferFrames: buffer)
            #expect(readable.frames <= buffer)
            #expect(writable.frames <= buffer)
            switch readable {
            case .frames(let frames): #expect(frames == client &- own)
            case .violation(let distance):
                #expect(distance > buffer)
                violations += 1
            }
            if case .frames(let free) = writable { #expect(free == buffer - (own &- client)) }
        }
        // The edges were really exercised: both outcomes happened many times.
        #expect(violations > 10_000 && violations < 190_000)
    }

    @Test("end to end: whatever a client stores, the daemon's single load validates within the ring and addresses stay inside it")
    func throughSharedMemory() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let client = try SharedStreamMemory(mapping: try #require(daemon.fileDescriptor))
        let buffer = UInt64(daemon.geometry.bufferFrames.value)
        let ring = daemon.ring
        let ringStart = UInt(bitPattern: ring.baseAddress)
        let ringEnd = ringStart + UInt(ring.count)
        var random = SeededGenerator(state: 42)
        var consumed: UInt64 = UInt64.max - 5000  // the daemon's private R, about to wrap
        for _ in 0..<50_000 {
            client.publishClientPosition(hostileValue(near: consumed, buffer: buffer, using: &random))
            let produced = daemon.loadClientPosition()
            let frames = SharedRingValidation.readable(clientProduced: produced, daemonConsumed: consumed, bufferFrames: buffer).frames
            #expect(frames <= buffer)
            let take = min(frames, 1024)
            let first = UInt(bitPattern: daemon.ringAddress(ofFrame: consumed))
            #expect(first >= ringStart && first + 4 <= ringEnd)
            consumed &+= take
        }
    }

    @Test("the wake threshold is clamped to 1 ... bufferFrames whatever the client writes")
    func wakeThreshold() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let client = try SharedStreamMemory(mapping: try #require(daemon.fileDescriptor))
        for (written, expected) in [(UInt32(0), UInt64(1)), (1, 1), (1024, 1024), (2048, 2048), (2049, 2048), (.max, 2048)] {
            client.publishWakeThreshold(written)
            #expect(daemon.loadWakeThreshold() == expected)
        }
        client.publishWaiting(false)
        #expect(!daemon.loadWaiting())
        client.publishWaiting(true)
        #expect(daemon.loadWaiting())
    }
}
