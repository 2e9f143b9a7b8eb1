// What the shared-memory tests share: an allocator with one sealed-shared substream (as the
// daemon will set one up), a standard geometry, a raw second mapping that stands in for the
// client, and fstat probes for a memfd's identity and its allocated pages.

#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import Testing

/// An allocator with card 0's playback substream 0 set up for shared memory and open.
struct SharedStreamFixture {
    let allocator: SubstreamAllocator
    let id = SubstreamID.playback()

    /// 1024-frame device periods, a 2048-frame ring of s16 stereo: 8 KiB of ring, 16 KiB total.
    static let geometry = SharedStreamGeometry(
        direction: .playback, layout: FrameLayout(format: .s16, channels: 2), rate: 48_000, bufferFrames: 2048,
        devicePeriodFrames: 1024, deviceBufferFrames: 3072)

    init(cardLimit: ByteCount? = SubstreamAllocator.defaultCardLimit) throws {
        allocator = SubstreamAllocator(cardLimit: cardLimit)
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        try allocator.preallocate(substream: id, type: .sealedShared, size: 0, max: 0)
        try allocator.open(substream: id)
    }

    /// A new runtime buffer of `bytes` bytes.
    func allocate(_ bytes: ByteCount) throws -> RuntimeBuffer {
        try allocator.allocate(substream: id, bytes: bytes)
        return try #require(try allocator.runtimeBuffer(substream: id))
    }

    /// A runtime buffer sized for `geometry` and formatted as a shared stream.
    func stream(_ geometry: SharedStreamGeometry = SharedStreamFixture.geometry) throws -> SharedStreamMemory {
        let regions = try SharedStreamLayout.regions(for: geometry)
        return try SharedStreamMemory(formatting: try allocate(ByteCount(regions.totalBytes)), geometry: geometry)
    }
}

/// A plain `mmap` of a descriptor, as a client would make it; unmapped at deinit.
struct ClientMapping: ~Copyable {
    let base: UnsafeMutableRawPointer
    let length: Int

    init(_ fd: Int32, length: Int) throws {
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        try #require(mapped != nil && mapped != MAP_FAILED, "mmap failed: errno \(errno)")
        base = mapped!
        self.length = length
    }

    var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: length) }

    deinit { munmap(base, length) }
}

/// The device and inode behind a descriptor: equal for two descriptors of the same file.
func fileIdentity(_ fd: Int32) throws -> [UInt64] {
    var status = stat()
    try #require(fstat(fd, &status) == 0)
    return [UInt64(status.st_dev), UInt64(status.st_ino)]
}

/// Bytes of storage the file holds now (`st_blocks` × 512): what a punch gives back.
func allocatedBytes(_ fd: Int32) throws -> Int {
    var status = stat()
    try #require(fstat(fd, &status) == 0)
    return Int(status.st_blocks) * 512
}

/// Fills `bytes` with a pattern that is nonzero in every byte.
func fillPattern(_ bytes: UnsafeMutableRawBufferPointer, seed: UInt8 = 0x5A) {
    for index in bytes.indices { bytes[index] = (UInt8(truncatingIfNeeded: index &* 7) ^ seed) | 0x80 }
}
