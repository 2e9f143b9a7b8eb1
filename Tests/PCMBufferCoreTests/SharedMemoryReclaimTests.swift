// Memory that went to one client never reaches another: the allocator refuses to preallocate
// shared memory, gives every allocation a new memfd, and at release punches the pages out so
// that they are freed at once (the card is credited and the file holds no storage) and a client
// that kept its mapping reads zeros.

#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import Testing

@Suite("Shared memory reclaim and freshness")
struct SharedMemoryReclaimTests {
    @Test("release punches the pages: the client's mapping reads zeros, the file holds nothing, the card is credited")
    func releasePunches() throws {
        let fixture = try SharedStreamFixture()
        let buffer = try fixture.allocate(.kibibytes(64))
        let fd = try #require(buffer.buffer.fileDescriptor)
        let client = try ClientMapping(fd, length: 64 * 1024)
        fillPattern(buffer.area)
        #expect(client.bytes.allSatisfy { $0 != 0 })
        #expect(fixture.allocator.bytesInUse(card: 0) == .kibibytes(64))
        #expect(try allocatedBytes(fd) >= 64 * 1024)

        try fixture.allocator.release(substream: fixture.id)

        #expect(fixture.allocator.bytesInUse(card: 0) == .zero)
        #expect(try allocatedBytes(fd) == 0)
        // Checked after the storage: touching a hole in shmem, even to read it, faults a fresh
        // zero page into the file, which is why the daemon must not touch released memory.
        #expect(client.bytes.allSatisfy { $0 == 0 })
        // The daemon still holds its reference here, and it too reads zeros.
        #expect(buffer.area.allSatisfy { $0 == 0 })
        #expect(try fixture.allocator.runtimeBuffer(substream: fixture.id) == nil)
        // Releasing again is harmless, as in the kernel.
        try fixture.allocator.release(substream: fixture.id)
        #expect(fixture.allocator.bytesInUse(card: 0) == .zero)
    }

    @Test("a client's mapping knows the memory was reclaimed: the zeros are not an empty ring it may fill")
    func clientSeesReclaim() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let client = try SharedStreamMemory(mapping: try #require(daemon.fileDescriptor))
        // The client has written well ahead of a daemon that played some of it: 1024 frames are free.
        daemon.publishDaemonPosition(1_000_000)
        client.publishClientPosition(1_000_000 + 1024)
        #expect(!client.isReclaimed)
        #expect(client.availableFrames(clientPosition: client.loadClientPosition()) == 1024)

        try fixture.allocator.close(substream: fixture.id)

        #expect(client.isReclaimed)
        // What the zeroed positions alone say: a whole ring free. ClientStream reports none.
        #expect(client.availableFrames(clientPosition: client.loadClientPosition()) == 2048)
    }

    @Test("close punches the pages too")
    func closePunches() throws {
        let fixture = try SharedStreamFixture()
        let buffer = try fixture.allocate(.kibibytes(16))
        let fd = try #require(buffer.buffer.fileDescriptor)
        let client = try ClientMapping(fd, length: 16 * 1024)
        fillPattern(client.bytes)
        try fixture.allocator.close(substream: fixture.id)
        #expect(try allocatedBytes(fd) == 0)
        #expect(client.bytes.allSatisfy { $0 == 0 })
        #expect(fixture.allocator.bytesInUse(card: 0) == .zero)
        #expect(try !fixture.allocator.status(substream: fixture.id).isOpen)
    }

    @Test("a client writing after the punch only allocates in its own mapping; the daemon's account stays credited")
    func writeAfterPunch() throws {
        let fixture = try SharedStreamFixture()
        let buffer = try fixture.allocate(.kibibytes(16))
        let fd = try #require(buffer.buffer.fileDescriptor)
        let client = try ClientMapping(fd, length: 16 * 1024)
        try fixture.allocator.release(substream: fixture.id)
        // No SIGBUS (the size is sealed); the page this faults in belongs to the file the client
        // keeps alive, not to the card.
        client.base.storeBytes(of: 0xDEAD_BEEF, toByteOffset: 100, as: UInt32.self)
        #expect(client.base.load(fromByteOffset: 100, as: UInt32.self) == 0xDEAD_BEEF)
        #expect(try allocatedBytes(fd) == PageSize.bytes)
        #expect(fixture.allocator.bytesInUse(card: 0) == .zero)
        // A new stream gets none of it.
        let next = try fixture.allocate(.kibibytes(16))
        #expect(next.area.allSatisfy { $0 == 0 })
    }

    @Test("allocate, write, release, allocate: the new buffer is zeros, in a different memfd, unseen by the old client")
    func freshAfterRelease() throws {
        let fixture = try SharedStreamFixture()
        let first = try fixture.allocate(.kibibytes(32))
        let firstFD = try #require(first.buffer.fileDescriptor)
        let oldClient = try ClientMapping(firstFD, length: 32 * 1024)
        fillPattern(first.area)
        try fixture.allocator.release(substream: fixture.id)

        let second = try fixture.allocate(.kibibytes(32))
        let secondFD = try #require(second.buffer.fileDescriptor)
        #expect(second.isPreallocated == false)
        #expect(second.buffer !== first.buffer)
        #expect(try fileIdentity(secondFD) != fileIdentity(firstFD))
        #expect(second.area.allSatisfy { $0 == 0 })
        #expect(try second.buffer.seals() == MemorySeals.sharedStream)
        fillPattern(second.area, seed: 0x33)
        #expect(oldClient.bytes.allSatisfy { $0 == 0 })
        #expect(fixture.allocator.bytesInUse(card: 0) == .kibibytes(32))
    }

    @Test("allocate on a runtime that has shared memory never keeps it, even when it is large enough")
    func neverKept() throws {
        let fixture = try SharedStreamFixture()
        let first = try fixture.allocate(.kibibytes(32))
        let firstFD = try #require(first.buffer.fileDescriptor)
        let oldClient = try ClientMapping(firstFD, length: 32 * 1024)
        fillPattern(first.area)
        #expect(try fixture.allocator.allocate(substream: fixture.id, bytes: .kibibytes(16)) == .changed)
        let second = try #require(try fixture.allocator.runtimeBuffer(substream: fixture.id))
        #expect(try fileIdentity(#require(second.buffer.fileDescriptor)) != fileIdentity(firstFD))
        #expect(second.area.allSatisfy { $0 == 0 })
        #expect(oldClient.bytes.allSatisfy { $0 == 0 })
        #expect(fixture.allocator.bytesInUse(card: 0) == .kibibytes(16))
    }

    @Test("shared memory is never preallocated: a size or a max is refused and changes nothing")
    func neverPreallocated() throws {
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 2, captureSubstreams: 1)
        let id = SubstreamID.playback()
        #expect(throws: PCMMemoryError.exportedMemoryPreallocated(id)) {
            try allocator.preallocate(substream: id, type: .sealedShared, size: .kibibytes(64), max: 0)
        }
        #expect(throws: PCMMemoryError.exportedMemoryPreallocated(id)) {
            try allocator.preallocate(substream: id, type: .sealedShared, size: .kibibytes(64), max: .kibibytes(64))
        }
        #expect(throws: PCMMemoryError.exportedMemoryPreallocated(id)) {
            try allocator.preallocate(substream: id, type: .sealedShared, size: 0, max: .kibibytes(64))
        }
        #expect(throws: PCMMemoryError.exportedMemoryPreallocated(id)) {
            try allocator.preallocateForAll(card: 0, device: 0, type: .sealedShared, size: .kibibytes(64), max: .kibibytes(64))
        }
        #expect(PCMMemoryError.exportedMemoryPreallocated(id).kernelErrno == -EINVAL)
        for substream in try allocator.substreams(card: 0, device: 0) {
            #expect(try allocator.status(substream: substream).bufferType == nil)
        }
        #expect(allocator.bytesInUse(card: 0) == .zero)
        // The size-0 form is accepted for all, with no proc file through which memory could
        // be preallocated later.
        #expect(try allocator.preallocateForAll(card: 0, device: 0, type: .sealedShared, size: 0, max: 0) == [0, 0, 0])
        #expect(throws: PCMMemoryError.noProcEntry(id)) { try allocator.writeProcPrealloc(substream: id, kibibytes: 64) }
        #expect(allocator.bytesInUse(card: 0) == .zero)
    }

    @Test("shared allocations are charged to the card and refused past its limit")
    func cardLimit() throws {
        let fixture = try SharedStreamFixture(cardLimit: .kibibytes(96))
        _ = try fixture.allocate(.kibibytes(64))
        #expect(fixture.allocator.bytesInUse(card: 0) == .kibibytes(64))
        // The old buffer is freed first, as in the kernel, so 96 KiB fits in a 96 KiB limit...
        _ = try fixture.allocate(.kibibytes(96))
        #expect(fixture.allocator.bytesInUse(card: 0) == .kibibytes(96))
        // ...and 100 KiB does not; the runtime is left without a buffer.
        #expect(throws: PCMMemoryError.self) { _ = try fixture.allocate(.kibibytes(100)) }
        #expect(fixture.allocator.bytesInUse(card: 0) == .zero)
        #expect(try fixture.allocator.runtimeBuffer(substream: fixture.id) == nil)
    }
}
