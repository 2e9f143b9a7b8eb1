// Tests of preallocate / preallocateForAll / freeAllPreallocated against the kernel rules of
// pcm-memory.md §1.3-1.6: halving on out-of-memory and the card limit, fixed buffers, and
// every refused argument.

import PCMBufferCore
import Testing

@Suite("Preallocation")
struct PreallocationTests {
    let id = SubstreamID.playback()

    func allocator(limit: ByteCount? = SubstreamAllocator.defaultCardLimit, backend: any MemoryBackend = SystemMemoryBackend()) throws -> SubstreamAllocator {
        let allocator = SubstreamAllocator(cardLimit: limit, backend: backend)
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 2, captureSubstreams: 1)
        return allocator
    }

    @Test("a preallocation that fits gets its page-aligned size and sets buffer_bytes_max")
    func fits() throws {
        let allocator = try allocator()
        let got = try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: .kibibytes(128))
        #expect(got == .kibibytes(64))
        #expect(try allocator.bufferBytesMax(substream: id) == .kibibytes(64))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
        let status = try allocator.status(substream: id)
        #expect(status.bufferType == .continuous)
        #expect(status.hasPreallocatedBuffer)
        #expect(status.hasProcEntry)
        #expect(status.preallocationMax == .kibibytes(128))

        // Sizes are rounded up to pages; the recorded size and the limit are the rounded ones.
        let other = SubstreamID.playback(1)
        #expect(try allocator.preallocate(substream: other, type: .continuous, size: ByteCount(20000), max: .kibibytes(64)) == ByteCount(20480))
        #expect(try allocator.bufferBytesMax(substream: other) == ByteCount(20480))
    }

    @Test("out of memory halves the size by shifting, down to 16 KiB, and records what it got")
    func halvesOnOutOfMemory() throws {
        let backend = LimitedMemoryBackend(largestAllocation: .kibibytes(20))
        let allocator = try allocator(backend: backend)
        let got = try allocator.preallocate(substream: id, type: .scatterGather, size: .kibibytes(160), max: .kibibytes(256))
        // 160 KiB → 80 → 40 → 20 KiB fits.
        #expect(backend.requests == [160 * kib, 80 * kib, 40 * kib, 20 * kib])
        #expect(got == .kibibytes(20))
        #expect(try allocator.bufferBytesMax(substream: id) == .kibibytes(20))
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 20)
    }

    @Test("the halving is a plain shift: 48000 → 24000 → 12000 stops below 16384")
    func halvingStopsAtFloor() throws {
        let backend = LimitedMemoryBackend(largestAllocation: .kibibytes(8))
        let allocator = try allocator(backend: backend)
        let got = try allocator.preallocate(substream: id, type: .continuous, size: ByteCount(48000), max: .kibibytes(64))
        // Each try is page-aligned: 48000 → 49152, 24000 → 24576; 12000 is never tried.
        #expect(backend.requests == [49152, 24576])
        #expect(got == .zero)
        // No preallocation: the limit stays unlimited and the proc file shows 0.
        #expect(try allocator.bufferBytesMax(substream: id) == nil)
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 0)
        #expect(allocator.bytesInUse(card: 0) == .zero)
    }

    @Test("the card limit makes the fallback halve too, checked against the unaligned size")
    func cardLimitHalves() throws {
        let allocator = try allocator(limit: .kibibytes(100))
        #expect(try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(256), max: .kibibytes(256)) == .kibibytes(64))
        // 36 KiB left: 128 → 64 → 32 fits.
        let second = SubstreamID.playback(1)
        #expect(try allocator.preallocate(substream: second, type: .continuous, size: .kibibytes(128), max: .kibibytes(128)) == .kibibytes(32))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(96))
        // 4 KiB left: 16 KiB is the smallest try and fails; nothing is preallocated.
        #expect(try allocator.preallocate(substream: .capture(), type: .continuous, size: .kibibytes(64), max: .kibibytes(64)) == .zero)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(96))
    }

    @Test("the card limit is per card and configurable; nil means unlimited")
    func cardLimitPerCard() throws {
        let allocator = SubstreamAllocator(cardLimit: .kibibytes(64))
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        try allocator.addPCM(card: 1, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        #expect(try allocator.preallocate(substream: .playback(), type: .continuous, size: .kibibytes(64), max: 0) == .kibibytes(64))
        #expect(try allocator.preallocate(substream: .playback(card: 1), type: .continuous, size: .kibibytes(64), max: 0) == .kibibytes(64))
        #expect(allocator.bytesInUse(card: 1) == .kibibytes(64))
        #expect(SubstreamAllocator().cardLimit == .mebibytes(32))
        allocator.cardLimit = nil
        #expect(allocator.cardLimit == nil)
        try allocator.addPCM(card: 0, device: 1, playbackSubstreams: 1, captureSubstreams: 0)
        #expect(try allocator.preallocate(substream: .playback(device: 1), type: .continuous, size: .mebibytes(1), max: 0) == .mebibytes(1))
    }

    @Test("a fixed buffer (max 0) gets exactly its size or a typed error, with no halving and no change")
    func fixedBuffer() throws {
        let backend = LimitedMemoryBackend(largestAllocation: .kibibytes(32))
        let allocator = try allocator(backend: backend)
        #expect(throws: PCMMemoryError.outOfMemory(requested: .kibibytes(64))) {
            try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: 0)
        }
        #expect(backend.requests == [64 * kib])
        // Nothing changed: the substream can still be preallocated.
        #expect(try allocator.status(substream: id).bufferType == nil)
        #expect(try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(32), max: 0) == .kibibytes(32))
        // A fixed buffer has no proc file.
        #expect(try !allocator.status(substream: id).hasProcEntry)
        #expect(throws: PCMMemoryError.noProcEntry(id)) { try allocator.procEntry(substream: id) }

        let limited = try self.allocator(limit: .kibibytes(16))
        #expect(throws: PCMMemoryError.cardLimitExceeded(card: 0, requested: .kibibytes(32), inUse: .zero, limit: .kibibytes(16))) {
            try limited.preallocate(substream: id, type: .continuous, size: .kibibytes(32), max: 0)
        }
    }

    @Test("size 0 preallocates nothing but records the type, so allocate works later")
    func sizeZero() throws {
        let allocator = try allocator()
        #expect(try allocator.preallocate(substream: id, type: .virtuallyContiguous, size: 0, max: 0) == .zero)
        let status = try allocator.status(substream: id)
        #expect(status.bufferType == .virtuallyContiguous)
        #expect(!status.hasPreallocatedBuffer)
        #expect(status.bufferBytesMax == nil)
        try allocator.open(substream: id)
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(12)) == .changed)
    }

    @Test("subdevices at or above maximumSubstreams, or all without preallocateDMA, skip fallback preallocation")
    func moduleParameters() throws {
        let allocator = SubstreamAllocator(maximumSubstreams: 1)
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 2, captureSubstreams: 0)
        #expect(try allocator.preallocateForAll(card: 0, device: 0, type: .continuous, size: .kibibytes(64), max: .kibibytes(64)) == [.kibibytes(64), .zero])
        #expect(try allocator.bufferBytesMax(substream: .playback(1)) == nil)
        #expect(try allocator.status(substream: .playback(1)).hasProcEntry)

        let off = SubstreamAllocator(preallocateDMA: false)
        try off.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        #expect(try off.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: .kibibytes(64)) == .zero)
        // A fixed buffer ignores both parameters.
        try off.addPCM(card: 0, device: 1, playbackSubstreams: 1, captureSubstreams: 0)
        #expect(try off.preallocate(substream: .playback(device: 1), type: .continuous, size: .kibibytes(64), max: 0) == .kibibytes(64))
    }

    @Test("bad arguments are refused with typed errors and change nothing")
    func badArguments() throws {
        let allocator = try allocator()
        let unknown = SubstreamID.playback(5)
        #expect(throws: PCMMemoryError.unknownSubstream(unknown)) {
            try allocator.preallocate(substream: unknown, type: .continuous, size: .kibibytes(64), max: .kibibytes(64))
        }
        #expect(throws: PCMMemoryError.maxBelowSize(size: .kibibytes(64), max: .kibibytes(32))) {
            try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: .kibibytes(32))
        }
        #expect(throws: PCMMemoryError.negativeSize(-1)) {
            try allocator.preallocate(substream: id, type: .continuous, size: ByteCount(-1), max: .kibibytes(32))
        }
        #expect(throws: PCMMemoryError.negativeSize(-4096)) {
            try allocator.preallocate(substream: id, type: .continuous, size: .zero, max: ByteCount(-4096))
        }
        #expect(try allocator.status(substream: id).bufferType == nil)
        #expect(allocator.bytesInUse(card: 0) == .zero)

        try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: .kibibytes(64))
        #expect(throws: PCMMemoryError.alreadyPreallocated(id)) {
            try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(16), max: .kibibytes(64))
        }
        let second = SubstreamID.playback(1)
        try allocator.open(substream: second)
        #expect(throws: PCMMemoryError.busy(second)) {
            try allocator.preallocate(substream: second, type: .continuous, size: .kibibytes(16), max: .kibibytes(64))
        }
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))

        let broken = try self.allocator(backend: BrokenMemoryBackend())
        #expect(throws: PCMMemoryError.backendFailure(.systemCall(name: "mmap", errno: 5))) {
            try broken.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: .kibibytes(64))
        }
        #expect(try broken.status(substream: id).bufferType == nil)
    }

    @Test("PCMs: duplicates, bad counts and unknown PCMs are refused")
    func pcmManagement() throws {
        let allocator = try allocator()
        #expect(throws: PCMMemoryError.pcmAlreadyExists(PCMID(card: 0, device: 0))) {
            try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        }
        #expect(throws: PCMMemoryError.invalidSubstreamCount(playback: 0, capture: 0)) {
            try allocator.addPCM(card: 0, device: 1, playbackSubstreams: 0, captureSubstreams: 0)
        }
        #expect(throws: PCMMemoryError.invalidSubstreamCount(playback: -1, capture: 2)) {
            try allocator.addPCM(card: 0, device: 1, playbackSubstreams: -1, captureSubstreams: 2)
        }
        #expect(throws: PCMMemoryError.invalidPCMNumber(card: -1, device: 0)) {
            try allocator.addPCM(card: -1, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        }
        #expect(throws: PCMMemoryError.invalidPCMNumber(card: 0, device: -2)) {
            try allocator.addPCM(card: 0, device: -2, playbackSubstreams: 1, captureSubstreams: 0)
        }
        #expect(throws: PCMMemoryError.unknownPCM(PCMID(card: 3, device: 0))) {
            try allocator.freeAllPreallocated(card: 3, device: 0)
        }
        #expect(try allocator.substreams(card: 0, device: 0) == [.playback(0), .playback(1), .capture(0)])
    }

    @Test("preallocateForAll covers both directions and checks every substream before changing any")
    func forAll() throws {
        let allocator = try allocator()
        try allocator.open(substream: .capture())
        #expect(throws: PCMMemoryError.busy(.capture())) {
            try allocator.preallocateForAll(card: 0, device: 0, type: .continuous, size: .kibibytes(64), max: .kibibytes(64))
        }
        #expect(allocator.bytesInUse(card: 0) == .zero)
        try allocator.close(substream: .capture())
        let got = try allocator.preallocateForAll(card: 0, device: 0, type: .continuous, size: .kibibytes(64), max: .kibibytes(64))
        #expect(got == [.kibibytes(64), .kibibytes(64), .kibibytes(64)])
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(192))
    }

    @Test("freeAllPreallocated returns the bytes but keeps the recorded size and limit")
    func freeAll() throws {
        let allocator = try allocator()
        try allocator.preallocateForAll(card: 0, device: 0, type: .scatterGather, size: .kibibytes(64), max: .kibibytes(64))
        try allocator.freeAllPreallocated(card: 0, device: 0)
        #expect(allocator.bytesInUse(card: 0) == .zero)
        let status = try allocator.status(substream: id)
        #expect(!status.hasPreallocatedBuffer)
        #expect(status.preallocatedBytes == .kibibytes(64))
        #expect(status.bufferBytesMax == .kibibytes(64))
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 64)
        // Freeing again is harmless.
        try allocator.freeAllPreallocated(card: 0, device: 0)
        #expect(allocator.bytesInUse(card: 0) == .zero)
        // With the preallocation gone, allocate falls back to a dynamic buffer.
        try allocator.open(substream: id)
        #expect(try allocator.allocate(substream: id, bytes: .kibibytes(16)) == .changed)
        #expect(try allocator.runtimeBuffer(substream: id)?.isPreallocated == false)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(16))
    }

    @Test("removePCM frees everything, refuses while open")
    func removePCM() throws {
        let allocator = try allocator()
        try allocator.preallocateForAll(card: 0, device: 0, type: .continuous, size: .kibibytes(16), max: .kibibytes(16))
        try allocator.open(substream: id)
        #expect(throws: PCMMemoryError.busy(id)) { try allocator.removePCM(card: 0, device: 0) }
        try allocator.close(substream: id)
        try allocator.removePCM(card: 0, device: 0)
        #expect(allocator.bytesInUse(card: 0) == .zero)
        #expect(throws: PCMMemoryError.unknownSubstream(id)) { try allocator.status(substream: id) }
    }
}
