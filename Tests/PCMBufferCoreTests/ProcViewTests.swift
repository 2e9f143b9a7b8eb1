// Tests of the prealloc / prealloc_max proc view and its write rules
// (snd_pcm_lib_preallocate_proc_write, pcm-memory.md §1.9).

import PCMBufferCore
import Testing

@Suite("Proc view")
struct ProcViewTests {
    let id = SubstreamID.playback()

    /// Like snd-dummy with fake_buffer=0: nothing preallocated, max 64 KiB.
    func dummy(limit: ByteCount? = .mebibytes(32)) throws -> SubstreamAllocator {
        let allocator = SubstreamAllocator(cardLimit: limit)
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        try allocator.preallocate(substream: id, type: .continuous, size: 0, max: .kibibytes(64))
        return allocator
    }

    @Test("reads show KiB rounded down")
    func reads() throws {
        let allocator = try dummy()
        #expect(try allocator.procEntry(substream: id) == PreallocProcEntry(preallocKibibytes: 0, preallocMaxKibibytes: 64, runtimeBytes: nil))
        let hda = SubstreamAllocator()
        try hda.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        try hda.preallocate(substream: id, type: .scatterGather, size: ByteCount(5000), max: ByteCount(33_000_000))
        let entry = try hda.procEntry(substream: id)
        #expect(entry.preallocKibibytes == 8)  // 5000 → 8192 bytes
        #expect(entry.preallocMaxKibibytes == 32226)  // 33,000,000 / 1024 rounded down
    }

    @Test("a valid write replaces the buffer; prealloc shows pages, the limit is the exact size")
    func validWrite() throws {
        let allocator = try dummy()
        try allocator.writeProcPrealloc(substream: id, kibibytes: 9)
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 12)
        #expect(try allocator.bufferBytesMax(substream: id) == ByteCount(9216))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(12))
        try allocator.writeProcPrealloc(substream: id, kibibytes: 64)
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 64)
        #expect(try allocator.bufferBytesMax(substream: id) == .kibibytes(64))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(64))
    }

    @Test("0 frees the preallocation and makes the limit unlimited")
    func writeZero() throws {
        let allocator = try dummy()
        try allocator.writeProcPrealloc(substream: id, kibibytes: 32)
        try allocator.writeProcPrealloc(substream: id, kibibytes: 0)
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 0)
        #expect(try allocator.bufferBytesMax(substream: id) == nil)
        #expect(allocator.bytesInUse(card: 0) == .zero)
        #expect(try !allocator.status(substream: id).hasPreallocatedBuffer)
    }

    @Test("too small, above max, not a number and busy are refused and change nothing")
    func refused() throws {
        let allocator = try dummy()
        try allocator.writeProcPrealloc(substream: id, kibibytes: 16)
        #expect(throws: PCMMemoryError.procValueTooSmall(kibibytes: 4)) { try allocator.writeProcPrealloc(substream: id, kibibytes: 4) }
        #expect(throws: PCMMemoryError.procValueTooSmall(kibibytes: 7)) { try allocator.writeProcPrealloc(substream: id, kibibytes: 7) }
        #expect(throws: PCMMemoryError.procValueAboveMax(kibibytes: 65, maxKibibytes: 64)) {
            try allocator.writeProcPrealloc(substream: id, kibibytes: 65)
        }
        #expect(throws: PCMMemoryError.procValueAboveMax(kibibytes: Int.max, maxKibibytes: 64)) {
            try allocator.writeProcPrealloc(substream: id, kibibytes: Int.max)
        }
        #expect(throws: PCMMemoryError.procValueNotANumber("-8")) { try allocator.writeProcPrealloc(substream: id, kibibytes: -8) }
        for text in ["abc", "", "12k", " 12", "0x10", "\n"] {
            #expect(throws: PCMMemoryError.procValueNotANumber(text)) { try allocator.writeProcPrealloc(substream: id, text: text) }
        }
        try allocator.open(substream: id)
        #expect(throws: PCMMemoryError.busy(id)) { try allocator.writeProcPrealloc(substream: id, kibibytes: 32) }
        #expect(throws: PCMMemoryError.busy(id)) { try allocator.writeProcPrealloc(substream: id, text: "junk") }
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 16)
        #expect(try allocator.bufferBytesMax(substream: id) == .kibibytes(16))
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(16))
    }

    @Test("text writes parse like kstrtoul")
    func textWrites() throws {
        let allocator = try dummy()
        try allocator.writeProcPrealloc(substream: id, text: "32\n")
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 32)
        try allocator.writeProcPrealloc(substream: id, text: "+8")
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 8)
    }

    @Test("the new buffer is allocated before the old one is freed: the limit needs room for both")
    func newBeforeOld() throws {
        let allocator = try dummy(limit: .kibibytes(96))
        try allocator.writeProcPrealloc(substream: id, kibibytes: 48)
        #expect(throws: PCMMemoryError.cardLimitExceeded(card: 0, requested: .kibibytes(64), inUse: .kibibytes(48), limit: .kibibytes(96))) {
            try allocator.writeProcPrealloc(substream: id, kibibytes: 64)
        }
        #expect(try allocator.procEntry(substream: id).preallocKibibytes == 48)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(48))
        try allocator.writeProcPrealloc(substream: id, kibibytes: 40)
        #expect(allocator.bytesInUse(card: 0) == .kibibytes(40))
    }

    @Test("writing the current size changes nothing")
    func sameSize() throws {
        let allocator = try dummy()
        try allocator.writeProcPrealloc(substream: id, kibibytes: 32)
        try allocator.open(substream: id)
        try allocator.allocate(substream: id, bytes: .kibibytes(32))
        let buffer = try #require(try allocator.runtimeBuffer(substream: id)).buffer
        try allocator.close(substream: id)
        try allocator.writeProcPrealloc(substream: id, kibibytes: 32)
        try allocator.open(substream: id)
        try allocator.allocate(substream: id, bytes: .kibibytes(32))
        #expect(try allocator.runtimeBuffer(substream: id)?.buffer === buffer)
    }

    @Test("substreams without proc files: fixed buffers and never-preallocated ones")
    func noEntry() throws {
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 2, captureSubstreams: 0)
        try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(16), max: 0)
        let other = SubstreamID.playback(1)
        #expect(throws: PCMMemoryError.noProcEntry(id)) { try allocator.writeProcPrealloc(substream: id, kibibytes: 16) }
        #expect(throws: PCMMemoryError.noProcEntry(other)) { try allocator.procEntry(substream: other) }
        #expect(throws: PCMMemoryError.noProcEntry(other)) { try allocator.writeProcPrealloc(substream: other, text: "16") }
        #expect(other.procDirectory == "/proc/asound/card0/pcm0p/sub1")
        #expect(SubstreamID.capture(2, card: 1, device: 3).procDirectory == "/proc/asound/card1/pcm3c/sub2")
    }
}
