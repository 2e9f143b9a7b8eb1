// Tests of the three buffer types: page lookup (nil past the end), scattered backing for
// scatter-gather, and memfd sharing for the shareable types.

#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import Testing

@Suite("Buffer types")
struct BufferTypeTests {
    func runtimeBuffer(_ type: BufferType, bytes: ByteCount) throws -> RuntimeBuffer {
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        let id = SubstreamID.playback()
        try allocator.preallocate(substream: id, type: type, size: 0, max: 0)
        try allocator.open(substream: id)
        try allocator.allocate(substream: id, bytes: bytes)
        return try #require(try allocator.runtimeBuffer(substream: id))
    }

    @Test("page(at:) returns each page and nil past the page-aligned end", arguments: BufferType.allCases)
    func pages(type: BufferType) throws {
        let runtime = try runtimeBuffer(type, bytes: ByteCount(10_000))
        let buffer = runtime.buffer
        let page = PageSize.bytes
        #expect(buffer.bytes == ByteCount(3 * page))
        #expect(buffer.pageCount == 3)
        for index in 0..<3 {
            let found = try #require(buffer.page(at: ByteCount(index * page + 17)))
            #expect(found.index == index)
            #expect(found.address == UInt(bitPattern: buffer.baseAddress + index * page))
        }
        #expect(buffer.page(at: ByteCount(3 * page - 1))?.index == 2)
        #expect(buffer.page(at: ByteCount(3 * page)) == nil)
        #expect(buffer.page(at: ByteCount(-1)) == nil)
        #expect(buffer.type == type)
    }

    @Test("the whole area is writable and reads back", arguments: BufferType.allCases)
    func writable(type: BufferType) throws {
        let runtime = try runtimeBuffer(type, bytes: .kibibytes(300))
        let words = runtime.buffer.area.bindMemory(to: UInt32.self)
        for i in words.indices { words[i] = UInt32(truncatingIfNeeded: i &* 2_654_435_761) }
        for i in words.indices { #expect(words[i] == UInt32(truncatingIfNeeded: i &* 2_654_435_761)) }
        runtime.buffer.zero()
        #expect(words.allSatisfy { $0 == 0 })
    }

    @Test("scatter-gather pages are contiguous in address but not in backing; runs are at most 32 pages")
    func scattered() throws {
        let buffer = try runtimeBuffer(.scatterGather, bytes: .kibibytes(300)).buffer
        let page = PageSize.bytes
        let chunk = 32 * page
        #expect(buffer.chunks.count == (buffer.bytes.value + chunk - 1) / chunk)
        let first = try #require(buffer.page(at: .zero))
        let second = try #require(buffer.page(at: ByteCount(page)))
        #expect(second.backingOffset == first.backingOffset + page)  // same run
        let nextRun = try #require(buffer.page(at: ByteCount(chunk)))
        #expect(nextRun.backingOffset != first.backingOffset + chunk)  // a new run elsewhere
        #expect(buffer.contiguousBytes(at: .zero, limit: .mebibytes(1)) == ByteCount(chunk))
        #expect(buffer.contiguousBytes(at: ByteCount(100), limit: .mebibytes(1)) == ByteCount(chunk - 100))
        #expect(buffer.contiguousBytes(at: ByteCount(100), limit: ByteCount(50)) == ByteCount(50))
        #expect(buffer.contiguousBytes(at: buffer.bytes, limit: ByteCount(50)) == .zero)
        let backing = Set((0..<buffer.pageCount).compactMap { buffer.page(at: ByteCount($0 * page))?.backingOffset })
        #expect(backing.count == buffer.pageCount)
    }

    @Test("memfd-backed buffers can be mapped again through their descriptor and share bytes",
          arguments: [BufferType.virtuallyContiguous, .scatterGather])
    func shared(type: BufferType) throws {
        let buffer = try runtimeBuffer(type, bytes: .kibibytes(64)).buffer
        let fd = try #require(buffer.fileDescriptor)
        let length = buffer.bytes.value
        let mapping = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
        #expect(mapping != UnsafeMutableRawPointer(bitPattern: -1))
        defer { munmap(mapping, length) }
        // Write through the buffer, read through the second mapping at the page's backing offset.
        let offset = 40 * 1024 + 12
        buffer.baseAddress.storeBytes(of: 0x1234_5678, toByteOffset: offset, as: UInt32.self)
        let page = try #require(buffer.page(at: ByteCount(offset)))
        let backing = page.backingOffset + offset % PageSize.bytes
        #expect(mapping.load(fromByteOffset: backing, as: UInt32.self) == 0x1234_5678)
    }

    @Test("continuous memory has no descriptor")
    func continuousNotShared() throws {
        #expect(try runtimeBuffer(.continuous, bytes: .kibibytes(4)).buffer.fileDescriptor == nil)
    }

    @Test("the system backend refuses sizes that are not whole pages")
    func backendSizes() {
        let backend = SystemMemoryBackend()
        #expect(throws: MemoryBackendError.invalidSize(bytes: 0)) { _ = try backend.map(.continuous, bytes: 0) }
        #expect(throws: MemoryBackendError.invalidSize(bytes: 100)) { _ = try backend.map(.virtuallyContiguous, bytes: 100) }
        #expect(throws: MemoryBackendError.invalidSize(bytes: -4096)) { _ = try backend.map(.scatterGather, bytes: -4096) }
        #expect(PageSize.align(1) == PageSize.bytes)
        #expect(PageSize.align(PageSize.bytes) == PageSize.bytes)
        #expect(PageSize.align(0) == 0)
    }
}
