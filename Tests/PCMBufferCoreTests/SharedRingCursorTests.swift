// The client's end of a shared ring (SharedRingCursor): regions never wrap and never leave the
// ring, frames cross the wrap intact, commits publish the position the daemon loads, and a
// daemon position that contradicts the client's (the client may have scribbled on its own
// header) reads as nothing to do rather than as a region outside the ring.

import PCMBufferCore
import Testing

@Suite("SharedRingCursor: the client's end of a shared ring")
struct SharedRingCursorTests {
    @Test("frames written across the wrap come out in order, and the daemon sees each commit")
    func writeAcrossTheWrap() throws {
        let fixture = try SharedStreamFixture()
        let memory = try fixture.stream()  // 2048 frames of s16 stereo
        var cursor = SharedRingCursor(memory: memory)
        let first = [UInt8](repeating: 1, count: 1500 * 4)
        #expect(first.withUnsafeBytes { cursor.write($0) }.value == 1500)
        #expect(memory.loadClientPosition() == 1500, "the commit is published")
        #expect(cursor.availableFrames == 548)
        // The daemon takes 1000 frames.
        memory.publishDaemonPosition(1000)
        #expect(cursor.availableFrames == 1548)
        let ramp = (0..<(1200 * 4)).map { UInt8(truncatingIfNeeded: $0) }
        #expect(ramp.withUnsafeBytes { cursor.write($0) }.value == 1200)
        // The first region reaches only the end of the ring: 548 frames, then the rest at 0.
        var gathered: [UInt8] = []
        for frame in UInt64(1500)..<2700 {
            gathered += UnsafeRawBufferPointer(start: memory.ringAddress(ofFrame: frame), count: 4)
        }
        #expect(gathered == ramp)
        #expect(memory.loadClientPosition() == 2700)
    }

    @Test("a region never passes the end of the ring or the space available")
    func regionsStayInside() throws {
        let fixture = try SharedStreamFixture()
        let memory = try fixture.stream()
        var cursor = SharedRingCursor(memory: memory)
        let ring = memory.ring
        for step in [7, 300, 1024, 2048, 5, 2000] {
            memory.publishDaemonPosition(cursor.position)  // the daemon keeps up
            let region = cursor.region(maxFrames: step)
            #expect(region.frames.value <= step)
            #expect(region.bytes.baseAddress! >= ring.baseAddress!)
            #expect(region.bytes.baseAddress! + region.bytes.count <= ring.baseAddress! + ring.count)
            cursor.commit(region.frames)
        }
    }

    @Test("a daemon position the client's own header cannot hold reads as a full ring, never more")
    func scribbledHeaderIsClamped() throws {
        let fixture = try SharedStreamFixture()
        let memory = try fixture.stream()
        var cursor = SharedRingCursor(memory: memory)
        let frames = [UInt8](repeating: 9, count: 100 * 4)
        _ = frames.withUnsafeBytes { cursor.write($0) }
        for scribble: UInt64 in [101, 5_000, .max, .max / 2] {
            memory.publishDaemonPosition(scribble)  // ahead of what was written, or absurd
            #expect(cursor.filledFrames <= 2048)
            #expect(cursor.availableFrames <= 2048)
            #expect(cursor.region().bytes.count <= memory.ring.count)
        }
    }
}
