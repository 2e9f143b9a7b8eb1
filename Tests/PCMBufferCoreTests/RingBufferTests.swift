// Tests of RingBuffer on one thread: ALSA's pointer model (boundary, wrap, avail/delay for
// both directions), contiguous regions, period boundaries, commits, and bad arguments.

import PCMBufferCore
import Testing

@Suite("Ring buffer")
struct RingBufferTests {
    let layout = FrameLayout(format: .s16, channels: 2)

    func ring(_ direction: StreamDirection = .playback, buffer: Int = 1000, period: Int = 250, boundary: Int? = nil) throws -> RingBuffer {
        try RingBuffer(layout: layout, bufferFrames: FrameCount(buffer), periodFrames: FrameCount(period), direction: direction, boundary: boundary)
    }

    @Test("the default boundary is ALSA's: the largest size·2^k with 2·boundary ≤ Int.max − size")
    func defaultBoundary() throws {
        let ring = try ring(buffer: 4800, period: 1200)
        // Seen on alsa-lib's null PCM for 4800 frames (pcm-memory.md §3).
        #expect(ring.boundary == 5_404_319_552_844_595_200)
        #expect(try self.ring(buffer: 1024, period: 256).boundary == 1 << 62)
    }

    @Test("custom boundaries must be size × 2^k with k ≥ 1")
    func boundaries() throws {
        #expect(try ring(boundary: 4000).boundary == 4000)
        for bad in [1000, 3000, 1500, 0, -2000] {
            #expect(throws: RingCreationError.ring(.invalidBoundary(bad))) { try ring(boundary: bad) }
        }
    }

    @Test("bad sizes are refused with typed errors")
    func badSizes() throws {
        #expect(throws: RingCreationError.ring(.invalidBufferSize(0))) { try ring(buffer: 0, period: 1) }
        #expect(throws: RingCreationError.ring(.invalidPeriodSize(period: 0, buffer: 100))) { try ring(buffer: 100, period: 0) }
        #expect(throws: RingCreationError.ring(.invalidPeriodSize(period: 101, buffer: 100))) { try ring(buffer: 100, period: 101) }
        #expect(throws: RingCreationError.ring(.invalidBufferSize(-5))) { try ring(buffer: -5, period: 1) }
    }

    @Test("a ring over a runtime buffer must fit in the bytes in use")
    func overRuntimeBuffer() throws {
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        let id = SubstreamID.playback()
        try allocator.preallocate(substream: id, type: .virtuallyContiguous, size: .kibibytes(64), max: .kibibytes(64))
        try allocator.open(substream: id)
        try allocator.allocate(substream: id, bytes: ByteCount(4000))
        let runtime = try #require(try allocator.runtimeBuffer(substream: id))
        #expect(throws: RingBufferError.memoryTooSmall(needed: ByteCount(4004), available: ByteCount(4000))) {
            try RingBuffer(buffer: runtime, layout: layout, bufferFrames: FrameCount(1001), periodFrames: 100, direction: .playback)
        }
        let ring = try RingBuffer(buffer: runtime, layout: layout, bufferFrames: FrameCount(1000), periodFrames: 250, direction: .playback)
        let region = ring.writableRegion()
        #expect(region.bytes.baseAddress == runtime.baseAddress)
        #expect(region.frames == 1000)
        #expect(ring.memoryBuffer === runtime.buffer)
    }

    @Test("playback: appl is the write pointer, hw the read pointer; avail is free space, delay the queue")
    func playbackPointers() throws {
        let ring = try ring(.playback)
        #expect(ring.avail == 1000)
        #expect(ring.delay == 0)
        try ring.commitWrite(600)
        #expect(ring.applicationPointer == 600)
        #expect(ring.hardwarePointer == 0)
        #expect(ring.avail == 400)
        #expect(ring.delay == 600)
        try ring.commitRead(250)
        #expect(ring.hardwarePointer == 250)
        #expect(ring.avail == 650)
        #expect(ring.delay == 350)
    }

    @Test("capture: hw is the write pointer, appl the read pointer; avail is what can be read")
    func capturePointers() throws {
        let ring = try ring(.capture)
        #expect(ring.avail == 0)
        try ring.commitWrite(300)
        #expect(ring.hardwarePointer == 300)
        #expect(ring.applicationPointer == 0)
        #expect(ring.avail == 300)
        #expect(ring.delay == 300)
        try ring.commitRead(300)
        #expect(ring.avail == 0)
        #expect(ring.applicationPointer == 300)
    }

    @Test("pointers wrap to 0 at the boundary and avail stays right across the wrap")
    func wrapAtBoundary() throws {
        let ring = try ring(buffer: 1000, period: 250, boundary: 4000)
        var written = 0
        // Advance both pointers to 3900, just below the boundary.
        while written < 3900 {
            let step = min(700, 3900 - written)
            try ring.commitWrite(FrameCount(step))
            try ring.commitRead(FrameCount(step))
            written += step
        }
        #expect(ring.writePosition == 3900)
        try ring.commitWrite(600)
        #expect(ring.writePosition == 500)  // 4500 − 4000
        #expect(ring.readPosition == 3900)
        #expect(ring.readableFrames == 600)
        #expect(ring.writableFrames == 400)
        #expect(ring.delay == 600)
        try ring.commitRead(600)
        #expect(ring.readPosition == 500)
        #expect(ring.readableFrames == 0)
        #expect(ring.avail == 1000)
    }

    @Test("regions are contiguous: they stop at the end of the ring and at maxFrames")
    func regions() throws {
        let ring = try ring(buffer: 1000, period: 250)
        try ring.commitWrite(900)
        try ring.commitRead(900)
        let region = ring.writableRegion()
        #expect(region.offset == 900)
        #expect(region.frames == 100)  // to the end of the ring
        #expect(region.bytes.count == 400)
        #expect(ring.writableRegion(maxFrames: 30).frames == 30)
        #expect(ring.writableRegion(maxFrames: -3).frames == 0)
        try ring.commitWrite(100)
        let next = ring.writableRegion()
        #expect(next.offset == 0)
        #expect(next.frames == 900)
        let readable = ring.readableRegion()
        #expect(readable.offset == 900)
        #expect(readable.frames == 100)
    }

    @Test("commits beyond what is available, or negative, are refused and move nothing")
    func badCommits() throws {
        let ring = try ring()
        #expect(throws: RingBufferError.commitOutOfRange(requested: 1001, available: 1000)) { try ring.commitWrite(1001) }
        #expect(throws: RingBufferError.commitOutOfRange(requested: -1, available: 1000)) { try ring.commitWrite(-1) }
        #expect(throws: RingBufferError.commitOutOfRange(requested: 1, available: 0)) { try ring.commitRead(1) }
        try ring.commitWrite(10)
        #expect(throws: RingBufferError.commitOutOfRange(requested: 11, available: 10)) { try ring.commitRead(11) }
        #expect(throws: RingBufferError.commitOutOfRange(requested: -2, available: 10)) { try ring.commitRead(-2) }
        #expect(ring.writePosition == 10)
        #expect(ring.readPosition == 0)
    }

    @Test("period boundaries: index, distance to the next boundary, and the ring end")
    func periods() throws {
        let ring = try ring(buffer: 1000, period: 300)  // periods at 0, 300, 600, 900; the last is short
        #expect(ring.periodIndex(of: 0) == 0)
        #expect(ring.periodIndex(of: 299) == 0)
        #expect(ring.periodIndex(of: 300) == 1)
        #expect(ring.periodIndex(of: 1300) == 1)  // pointers are taken modulo the buffer
        #expect(ring.framesToPeriodBoundary(from: 0) == 300)
        #expect(ring.framesToPeriodBoundary(from: 250) == 50)
        #expect(ring.framesToPeriodBoundary(from: 950) == 50)  // the ring end is a boundary
        #expect(ring.isPeriodBoundary(600))
        #expect(ring.isPeriodBoundary(2000))
        #expect(!ring.isPeriodBoundary(601))
    }

    @Test("copying write and read move whole frames bit-exactly across the wrap")
    func copying() throws {
        let ring = try ring(buffer: 100, period: 25)
        var source = [UInt32](0..<70)
        var destination = [UInt32](repeating: 0, count: 70)
        #expect(source.withUnsafeBytes { ring.write($0) } == 70)
        #expect(destination.withUnsafeMutableBytes { ring.read(into: $0) } == 70)
        #expect(destination == source)
        source = (1000..<1070).map { UInt32($0) }
        // 70 frames starting at offset 70: wraps after 30.
        #expect(source.withUnsafeBytes { ring.write($0) } == 70)
        #expect(source.withUnsafeBytes { ring.write($0) } == 30)  // only 30 free
        #expect(destination.withUnsafeMutableBytes { ring.read(into: $0) } == 70)
        #expect(destination == source)
        // A partial frame is not copied.
        let odd = [UInt8](repeating: 1, count: 3)
        #expect(odd.withUnsafeBytes { ring.write($0) } == 0)
    }

    @Test("reset empties the ring and moves both pointers to 0")
    func reset() throws {
        let ring = try ring()
        try ring.commitWrite(700)
        try ring.commitRead(200)
        ring.reset()
        #expect(ring.writePosition == 0)
        #expect(ring.readPosition == 0)
        #expect(ring.avail == 1000)
    }

    @Test("a standalone ring has its own shareable memory")
    func standalone() throws {
        let ring = try ring()
        let memory = try #require(ring.memoryBuffer)
        #expect(memory.fileDescriptor != nil)
        #expect(memory.bytes.value >= 4000)
        #expect(throws: RingCreationError.memory(.systemCall(name: "mmap", errno: 5))) {
            try RingBuffer(layout: layout, bufferFrames: 100, periodFrames: 10, direction: .capture, backend: BrokenMemoryBackend())
        }
    }
}
