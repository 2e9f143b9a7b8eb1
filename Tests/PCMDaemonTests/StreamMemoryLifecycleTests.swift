// The life of one stream's shared memory, in the daemon's own slot table (no socket, no
// device): a claim allocates a fresh sealed memfd charged to the clients' virtual card, a client
// mapping of it sees what is written, and a release punches it out (the client's mapping reads
// zeros) and credits the card. Each claim gets memory no earlier stream ever saw.
import CLinux
import Foundation
import PCMBufferCore
import PCMDaemon
import Testing

@Suite("shared stream memory: claim, seal, reclaim")
struct StreamMemoryLifecycleTests {
    private let layout = FrameLayout(format: .s16, channels: 2)

    private func table(_ allocator: SubstreamAllocator, count: Int = 4) throws -> SlotTable {
        try SlotTable(allocator: allocator, card: 100, direction: .playback, count: count, layout: layout, maximumFrames: 48_128)
    }

    private func claim(_ table: SlotTable) throws -> StreamSlot {
        try table.claim(ringFrames: 4096, rate: 48_000, devicePeriodFrames: 256, deviceBufferFrames: 768,
                        startThreshold: 4096, latencyFrames: 4096, initialState: .prefilling)
    }

    @Test("a released stream's pages read as zeros in the client, and the card is credited")
    func releasePunchesAndCredits() throws {
        let allocator = SubstreamAllocator()
        let slots = try table(allocator)
        #expect(allocator.bytesInUse(card: 100) == .zero, "nothing is preallocated for shared streams")
        let slot = try claim(slots)
        let memory = try #require(slot.attachedMemory)
        let charged = allocator.bytesInUse(card: 100)
        #expect(charged.value >= memory.regions.totalBytes, "the stream's memory is charged to the clients' card")

        // The client's view: its own mapping of the descriptor the daemon would send.
        let descriptor = try #require(memory.fileDescriptor)
        let client = try SharedStreamMemory(mapping: descriptor)
        var cursor = SharedRingCursor(memory: client)
        let frames = [Int16](repeating: 0x1234, count: 2 * 1000)
        let written = frames.withUnsafeBytes { cursor.write($0) }
        #expect(written.value == 1000)
        #expect(memory.ring.load(as: Int16.self) == 0x1234, "both mappings share the pages")

        #expect(slots.release(slot) == nil)
        #expect(allocator.bytesInUse(card: 100) == .zero, "the card is credited at release")
        let ring = client.ring
        #expect(ring.allSatisfy { $0 == 0 }, "the client's old mapping reads zeros after the punch")
    }

    @Test("the memfd is sealed: a client cannot shrink or grow it")
    func sealedAgainstTruncation() throws {
        let allocator = SubstreamAllocator()
        let slots = try table(allocator)
        let slot = try claim(slots)
        let memory = try #require(slot.attachedMemory)
        let descriptor = try #require(memory.fileDescriptor)
        let size = off_t(memory.regions.totalBytes)
        #expect(ftruncate(descriptor, 0) == -1 && errno == EPERM, "shrinking must be refused")
        #expect(ftruncate(descriptor, size + 4096) == -1 && errno == EPERM, "growing must be refused")
        #expect(try MemorySeals.of(fileDescriptor: descriptor).isSuperset(of: MemorySeals.sharedStream))
        slots.release(slot)
    }

    @Test("every claim gets fresh memory: a new stream never sees an old one's frames")
    func freshMemoryEveryClaim() throws {
        let allocator = SubstreamAllocator()
        let slots = try table(allocator)
        for round in 0..<8 {
            let slot = try claim(slots)
            let memory = try #require(slot.attachedMemory)
            #expect(memory.ring.allSatisfy { $0 == 0 }, "round \(round): the ring starts zeroed")
            memory.ring.initializeMemory(as: UInt8.self, repeating: 0xA5)
            slots.release(slot)
        }
        #expect(allocator.bytesInUse(card: 100) == .zero)
    }

    @Test("the card's limit bounds the clients' memory: a claim beyond it is refused, not granted")
    func cardLimitRefusesClaims() throws {
        let allocator = SubstreamAllocator(cardLimit: .mebibytes(1))
        let slots = try table(allocator, count: 8)
        // 48,128 frames × 4 bytes + two pages = 200,704 bytes: five fit in 1 MiB, a sixth does not.
        var claimed: [StreamSlot] = []
        var refusal: SlotError?
        while refusal == nil, claimed.count < 8 {
            do throws(SlotError) {
                claimed.append(try slots.claim(ringFrames: 48_128, rate: 48_000, devicePeriodFrames: 256, deviceBufferFrames: 768,
                                               startThreshold: 1, latencyFrames: 48_128, initialState: .active))
            } catch {
                refusal = error
            }
        }
        #expect(claimed.count == 5, "five streams fit under the limit")
        #expect(refusal != nil, "the sixth is refused")
        #expect(allocator.bytesInUse(card: 100).value <= 1 << 20, "never more than the card's limit")
        for slot in claimed { slots.release(slot) }
        #expect(allocator.bytesInUse(card: 100) == .zero)
    }
}
