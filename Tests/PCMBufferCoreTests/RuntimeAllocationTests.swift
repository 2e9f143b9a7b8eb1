// Tests of open/close, allocate and release against snd_pcm_lib_malloc_pages and
// snd_pcm_lib_free_pages (pcm-memory.md §1.7-1.8): changed/unchanged, reuse of the
// preallocation, dynamic buffers without halving, fixed buffers, and the error cases.

import Foundation
import PCMBufferCore
import Synchronization
import Testing

@Suite("Runtime allocation")
struct RuntimeAllocationTests {
    let id = SubstreamID.playback()

    func openAllocator(size: ByteCount = .kibibytes(64), max: ByteCount = .kibibytes(128), limit: ByteCount? = .mebibytes(32),
                       backend: any MemoryBackend = SystemMemoryBackend()) throws -> SubstreamAllocator {
        let allocator = SubstreamAllocator(cardLimit: limit, backend: backend)
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 1)
        try allocator.preallocate(substream: id, type: .continuous, size: size, max: max)
        try allocator.open(substream: id)
        return allocator
    }

    @Test("allocate reuses the preallocated buffer when it fits; the size in use is the request")
    func reusesPreallocation() throws {
        let allocator = try openAllocator()
        #expect(try allocator.allocate(substream: id, bytes: ByteCount(10000)) == .changed)
        let runtime = try #require(try allocator.runtimeBuffer(substream: id))
        #expect(runtime.isPreallocated)
        #expect(runtime.bytes == ByteCount(10000))
        #expect(runtime.buffer.bytes == .kibibytes(64))
        #expect(runtime.area.count == 10000)
        // No new memory was charged.
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
    }

    @Test("allocate returns unchanged while the current buffer is large enough, and keeps a larger one")
    func unchanged() throws {
        let allocator = try openAllocator()
        try allocator.allocate(substream: id, bytes: .kibibytes(64))
        let first = try #require(try allocator.runtimeBuffer(substream: id)).buffer
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(8)) == .unchanged)
        let second = try #require(try allocator.runtimeBuffer(substream: id))
        #expect(second.buffer === first)
        #expect(second.bytes == .kibibytes(8))
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(64)) == .unchanged)
    }

    @Test("a request above the preallocation allocates exactly that size, with no halving")
    func dynamic() throws {
        let backend = LimitedMemoryBackend(largestAllocation: .mebibytes(1))
        let allocator = try openAllocator(backend: backend)
        #expect(try allocator.allocate(substream: id, bytes: ByteCount(100_000)) == .changed)
        let runtime = try #require(try allocator.runtimeBuffer(substream: id))
        #expect(!runtime.isPreallocated)
        #expect(runtime.buffer.bytes == ByteCount(102_400))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64) + ByteCount(102_400))

        // Too large for the backend: out of memory, no halving (only one more request), and
        // the old dynamic buffer is gone, as in the kernel.
        let before = backend.requests.count
        #expect(throws: PCMMemoryError.outOfMemory(requested: .mebibytes(2))) {
            try allocator.allocate(substream: id, bytes: .mebibytes(2))
        }
        #expect(backend.requests.count == before + 1)
        #expect(try allocator.runtimeBuffer(substream: id) == nil)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
    }

    @Test("growing a dynamic buffer frees the old one first, so the card limit counts it as free")
    func growDynamicUnderLimit() throws {
        let allocator = try openAllocator(size: .kibibytes(16), max: .kibibytes(64), limit: .kibibytes(96))
        try allocator.allocate(substream: id, bytes: .kibibytes(40))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(56))
        // 16 prealloc + 80 new = 96 fits only because the old 40 are returned first.
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(80)) == .changed)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(96))
        #expect(throws: PCMMemoryError.cardLimitExceeded(card: 0, requested: .kibibytes(84), inUse: .kibibytes(16), limit: .kibibytes(96))) {
            try allocator.allocate(substream: id, bytes: .kibibytes(84))
        }
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(16))
    }

    @Test("shrinking back into the preallocation switches to it and frees the dynamic buffer")
    func backToPreallocation() throws {
        let allocator = try openAllocator()
        try allocator.allocate(substream: id, bytes: .kibibytes(100))
        try allocator.release(substream: id)
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(32)) == .changed)
        #expect(try allocator.runtimeBuffer(substream: id)?.isPreallocated == true)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
    }

    @Test("a fixed preallocation never falls back to a dynamic buffer")
    func fixed() throws {
        let allocator = try openAllocator(size: .kibibytes(32), max: 0)
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(32)) == .changed)
        try allocator.release(substream: id)
        #expect(throws: PCMMemoryError.fixedBufferTooSmall(fixed: .kibibytes(32), requested: .kibibytes(33))) {
            try allocator.allocate(substream: id, bytes: .kibibytes(33))
        }
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(32))
    }

    @Test("release is idempotent, detaches the preallocation and frees a dynamic buffer")
    func release() throws {
        let allocator = try openAllocator()
        try allocator.release(substream: id)
        try allocator.allocate(substream: id, bytes: .kibibytes(64))
        try allocator.release(substream: id)
        try allocator.release(substream: id)
        #expect(try allocator.runtimeBuffer(substream: id) == nil)
        #expect(try allocator.status(substream: id).hasPreallocatedBuffer)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
        try allocator.allocate(substream: id, bytes: .kibibytes(128))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(192))
        try allocator.release(substream: id)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
    }

    @Test("memory stays mapped while a RuntimeBuffer is held, after release and close")
    func lifetime() throws {
        let allocator = try openAllocator()
        try allocator.allocate(substream: id, bytes: .kibibytes(100))
        let runtime = try #require(try allocator.runtimeBuffer(substream: id))
        try allocator.close(substream: id)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
        // Still writable and readable: no crash, the bytes are ours.
        runtime.area.storeBytes(of: 0xDEAD_BEEF, toByteOffset: 4096, as: UInt32.self)
        #expect(runtime.area.load(fromByteOffset: 4096, as: UInt32.self) == 0xDEAD_BEEF)
    }

    @Test("close releases the runtime buffer and makes the substream closed")
    func close() throws {
        let allocator = try openAllocator()
        try allocator.allocate(substream: id, bytes: .kibibytes(100))
        try allocator.close(substream: id)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
        #expect(try !allocator.status(substream: id).isOpen)
        #expect(throws: PCMMemoryError.notOpen(id)) { try allocator.close(substream: id) }
        // It can be opened again.
        try allocator.open(substream: id)
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(4)) == .changed)
    }

    @Test("bad calls are refused with typed errors and change nothing")
    func badCalls() throws {
        let allocator = try openAllocator()
        let unknown = SubstreamID.capture(3)
        #expect(throws: PCMMemoryError.unknownSubstream(unknown)) { try allocator.allocate(substream: unknown, bytes: .kibibytes(4)) }
        #expect(throws: PCMMemoryError.unknownSubstream(unknown)) { try allocator.open(substream: unknown) }
        #expect(throws: PCMMemoryError.unknownSubstream(unknown)) { try allocator.release(substream: unknown) }
        #expect(throws: PCMMemoryError.unknownSubstream(unknown)) { try allocator.bufferBytesMax(substream: unknown) }
        #expect(throws: PCMMemoryError.alreadyOpen(id)) { try allocator.open(substream: id) }
        #expect(throws: PCMMemoryError.zeroSize) { try allocator.allocate(substream: id, bytes: .zero) }
        #expect(throws: PCMMemoryError.negativeSize(-5)) { try allocator.allocate(substream: id, bytes: ByteCount(-5)) }

        let capture = SubstreamID.capture()
        #expect(throws: PCMMemoryError.notOpen(capture)) { try allocator.allocate(substream: capture, bytes: .kibibytes(4)) }
        #expect(throws: PCMMemoryError.notOpen(capture)) { try allocator.release(substream: capture) }
        #expect(throws: PCMMemoryError.notOpen(capture)) { try allocator.runtimeBuffer(substream: capture) }
        try allocator.open(substream: capture)
        #expect(throws: PCMMemoryError.notPreallocated(capture)) { try allocator.allocate(substream: capture, bytes: .kibibytes(4)) }
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
        #expect(try allocator.runtimeBuffer(substream: id) == nil)
    }

    @Test("absurd sizes are refused as out of memory or over the limit, without overflowing")
    func absurdSizes() throws {
        let allocator = try openAllocator()
        let huge = ByteCount(Int.max)
        #expect(throws: PCMMemoryError.cardLimitExceeded(card: 0, requested: huge, inUse: .kibibytes(64), limit: .mebibytes(32))) {
            try allocator.allocate(substream: id, bytes: huge)
        }
        allocator.cardLimit = nil
        try allocator.open(substream: .capture())
        #expect(throws: PCMMemoryError.outOfMemory(requested: huge)) { try allocator.allocate(substream: id, bytes: huge) }
        #expect(throws: PCMMemoryError.outOfMemory(requested: ByteCount(1 << 50))) {
            try allocator.allocate(substream: id, bytes: ByteCount(1 << 50))
        }
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))

        // A fallback preallocation of an absurd size halves down to what the card limit allows.
        let limited = SubstreamAllocator()
        try limited.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        #expect(try limited.preallocate(substream: id, type: .continuous, size: huge, max: huge) == .mebibytes(32))  // Int.max >> 38, page-aligned
    }

    @Test("errors carry the kernel's errno")
    func errnos() {
        #expect(PCMMemoryError.busy(id).kernelErrno == -16)
        #expect(PCMMemoryError.outOfMemory(requested: .zero).kernelErrno == -12)
        #expect(PCMMemoryError.cardLimitExceeded(card: 0, requested: .zero, inUse: .zero, limit: .zero).isOutOfMemory)
        #expect(PCMMemoryError.procValueTooSmall(kibibytes: 4).kernelErrno == -22)
        #expect(!PCMMemoryError.notOpen(id).isOutOfMemory)
    }
}

@Suite("Allocator, many threads")
struct AllocatorThreadTests {
    @Test("threads cycling open/allocate/release/close on their own substreams keep the accounting exact")
    func concurrentCycles() throws {
        let allocator = SubstreamAllocator(cardLimit: nil)
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 4, captureSubstreams: 0)
        try allocator.preallocateForAll(card: 0, device: 0, type: .continuous, size: .kibibytes(16), max: .kibibytes(16))
        let failures = Locked<[String]>([])
        let threads = (0..<4).map { sub in
            Thread {
                let id = SubstreamID.playback(sub)
                do {
                    for round in 0..<200 {
                        try allocator.open(substream: id)
                        // Alternate between reusing the preallocation and a dynamic buffer.
                        let bytes = ByteCount.kibibytes(round % 2 == 0 ? 8 : 24)
                        guard try allocator.allocate(substream: id, bytes: bytes) == .changed else { throw PCMMemoryError.zeroSize }
                        try allocator.release(substream: id)
                        try allocator.close(substream: id)
                    }
                } catch {
                    failures.withLock { $0.append("\(id): \(error)") }
                }
            }
        }
        for thread in threads { thread.start() }
        // Foundation's Thread has no join; isFinished turns true once the closure has returned.
        while !threads.allSatisfy(\.isFinished) { sched_yield() }
        #expect(failures.withLock { $0 } == [])
        #expect(try (0..<4).allSatisfy { try !allocator.status(substream: .playback($0)).isOpen })
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
    }
}
