// The shared stream layout, version 1, pinned byte by byte: every field the daemon or the client
// writes must land at the offset docs/protocol.md §7 gives, whatever the structs or the Swift
// accessors do. A test here failing means the layout changed: bump the version instead.
// Also: the region and ring-size arithmetic, and the checks a client makes when it maps.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PCMBufferCore
import Synchronization
import Testing

@Suite("Shared stream layout")
struct SharedStreamLayoutTests {
    @Test("the structures are 256 and 64 bytes; regions start at page 1 and page 2")
    func sizes() throws {
        #expect(SharedStreamLayout.headerBytes == 256)
        #expect(SharedStreamLayout.controlBytes == 64)
        #expect(SharedStreamLayout.magic == 0x534D_4350)
        #expect(SharedStreamLayout.version == 1)
        let regions = try SharedStreamLayout.regions(for: SharedStreamFixture.geometry, pageBytes: 4096)
        #expect(regions.controlOffset == 4096)
        #expect(regions.ringOffset == 8192)
        #expect(regions.ringBytes == 2048 * 4)
        #expect(regions.totalBytes == 16384)
        var geometry = SharedStreamFixture.geometry
        geometry.bufferFrames = 16384  // one 64 KiB page of s16 stereo
        let large = try SharedStreamLayout.regions(for: geometry, pageBytes: 65536)
        #expect(large.controlOffset == 65536)
        #expect(large.ringOffset == 131_072)
        #expect(large.totalBytes == 196_608)
    }

    @Test("the daemon's identity and geometry fields sit at their documented offsets")
    func identityOffsets() throws {
        let fixture = try SharedStreamFixture()
        let geometry = SharedStreamGeometry(
            direction: .capture, layout: FrameLayout(format: .float32, channels: 6), rate: 96_000, bufferFrames: 1536,
            devicePeriodFrames: 480, deviceBufferFrames: 1440)
        let memory = try fixture.stream(geometry)
        let fd = try #require(memory.fileDescriptor)
        let client = try ClientMapping(fd, length: memory.regions.totalBytes)
        func u32(_ offset: Int) -> UInt32 { client.base.load(fromByteOffset: offset, as: UInt32.self) }
        func u64(_ offset: Int) -> UInt64 { client.base.load(fromByteOffset: offset, as: UInt64.self) }
        #expect(Array(client.bytes[0..<4]) == Array("PCMS".utf8))
        #expect(u32(0) == 0x534D_4350)
        #expect(u32(4) == 1)
        #expect(u32(8) == 256)
        #expect(u32(12) == UInt32(PageSize.bytes))
        #expect(u64(16) == UInt64(PageSize.bytes))
        #expect(u64(24) == UInt64(2 * PageSize.bytes))
        #expect(u64(32) == 1536 * 24)
        #expect(u64(40) == UInt64(2 * PageSize.bytes + 1536 * 24))
        #expect(u32(48) == 1)  // capture
        #expect(u64(64) == 1536)
        #expect(u32(72) == 24)
        #expect(u32(76) == UInt32(SampleFormat.float32.rawValue))
        #expect(u32(80) == 6)
        #expect(u32(84) == 96_000)
        #expect(u64(88) == 480)
        #expect(u64(96) == 1440)
        #expect(u32(136) == SharedStreamState.setup.rawValue)
    }

    @Test("each runtime field the daemon publishes lands at its documented offset and nowhere else")
    func headerOffsets() throws {
        let fixture = try SharedStreamFixture()
        let memory = try fixture.stream()
        let fd = try #require(memory.fileDescriptor)
        let client = try ClientMapping(fd, length: memory.regions.totalBytes)
        var sequence: UInt64 = 0
        let before = Array(client.bytes[0..<256])
        memory.publishDaemonPosition(0x1111_2222_3333_4444)
        memory.publishState(.draining)
        memory.publishUnderruns(0x5555_6666_7777_8888)
        memory.publishOverruns(0x9999_AAAA_BBBB_CCCC)
        memory.publishClock(SharedStreamClock(framesPlayed: 0xABCD, monotonicNanoseconds: 0x1234_5678_9ABC, deviceDelay: 777), sequence: &sequence)
        func u64(_ offset: Int) -> UInt64 { client.base.load(fromByteOffset: offset, as: UInt64.self) }
        #expect(u64(128) == 0x1111_2222_3333_4444)
        #expect(client.base.load(fromByteOffset: 136, as: UInt32.self) == SharedStreamState.draining.rawValue)
        #expect(u64(144) == 0x5555_6666_7777_8888)
        #expect(u64(152) == 0x9999_AAAA_BBBB_CCCC)
        #expect(u64(192) == 2)  // one complete write: even, and the daemon's count was 0
        #expect(u64(200) == 0xABCD)
        #expect(u64(208) == 0x1234_5678_9ABC)
        #expect(u64(216) == 777)
        #expect(sequence == 1)
        // Nothing outside those fields changed.
        let changed: Set<Int> = Set([128..<140, 144..<160, 192..<224].joined())
        let after = Array(client.bytes[0..<256])
        for offset in 0..<256 where !changed.contains(offset) { #expect(before[offset] == after[offset], "byte \(offset) changed") }
    }

    @Test("each field the client publishes lands at its documented offset in the control page")
    func controlOffsets() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let fd = try #require(daemon.fileDescriptor)
        let client = try SharedStreamMemory(mapping: fd)
        client.publishClientPosition(0x0102_0304_0506_0708)
        client.publishWakeThreshold(0x0A0B_0C0D)
        client.publishWaiting(true)
        let raw = try ClientMapping(fd, length: daemon.regions.totalBytes)
        let control = PageSize.bytes
        #expect(raw.base.load(fromByteOffset: control + 0, as: UInt64.self) == 0x0102_0304_0506_0708)
        #expect(raw.base.load(fromByteOffset: control + 8, as: UInt32.self) == 0x0A0B_0C0D)
        #expect(raw.base.load(fromByteOffset: control + 12, as: UInt32.self) == 1)
        #expect(daemon.loadClientPosition() == 0x0102_0304_0506_0708)
        #expect(daemon.loadWaiting())
    }

    @Test("the ring must fill whole pages with whole frames: lcm(page, bytesPerFrame)")
    func ringQuantum() throws {
        #expect(SharedStreamLayout.ringFrameQuantum(bytesPerFrame: 4, pageBytes: 4096) == 1024)
        #expect(SharedStreamLayout.ringFrameQuantum(bytesPerFrame: 6, pageBytes: 4096) == 2048)  // lcm 12288
        #expect(SharedStreamLayout.ringFrameQuantum(bytesPerFrame: 3, pageBytes: 4096) == 4096)
        #expect(SharedStreamLayout.ringFrameQuantum(bytesPerFrame: 24, pageBytes: 4096) == 512)
        #expect(SharedStreamLayout.ringFrameQuantum(bytesPerFrame: 4096 * 3, pageBytes: 4096) == 1)
        let packed = FrameLayout(format: .s24Packed, channels: 2)
        #expect(SharedStreamLayout.ringFrames(atLeast: 1, layout: packed, pageBytes: 4096) == 2048)
        #expect(SharedStreamLayout.ringFrames(atLeast: 2048, layout: packed, pageBytes: 4096) == 2048)
        #expect(SharedStreamLayout.ringFrames(atLeast: 2049, layout: packed, pageBytes: 4096) == 4096)
        #expect(SharedStreamLayout.ringFrames(atLeast: 0, layout: packed, pageBytes: 4096) == 2048)
        for channels in 1...8 {
            for format in SampleFormat.allCases {
                let layout = FrameLayout(format: format, channels: channels)
                let frames = SharedStreamLayout.ringFrames(atLeast: 1000, layout: layout)
                #expect(layout.bytes(for: frames).value % PageSize.bytes == 0)
                #expect(frames.value >= 1000)
            }
        }
    }

    @Test("geometries out of range or off the quantum are refused")
    func invalidGeometry() {
        var geometry = SharedStreamFixture.geometry
        geometry.bufferFrames = 1000
        #expect(throws: SharedStreamError.ringNotAligned(bufferFrames: 1000, quantum: 1024)) {
            _ = try SharedStreamLayout.regions(for: geometry, pageBytes: 4096)
        }
        geometry.bufferFrames = 0
        #expect(throws: SharedStreamError.invalidGeometry(field: "bufferFrames", value: 0)) {
            _ = try SharedStreamLayout.regions(for: geometry)
        }
        geometry = SharedStreamFixture.geometry
        geometry.rate = 0
        #expect(throws: SharedStreamError.invalidGeometry(field: "rate", value: 0)) { _ = try SharedStreamLayout.regions(for: geometry) }
        geometry = SharedStreamFixture.geometry
        geometry.deviceBufferFrames = 512
        #expect(throws: SharedStreamError.invalidGeometry(field: "deviceBufferFrames", value: 512)) {
            _ = try SharedStreamLayout.regions(for: geometry)
        }
        geometry = SharedStreamFixture.geometry
        geometry.bufferFrames = FrameCount(SharedStreamLayout.maxRingBytes / 4 + 1024)
        #expect(throws: SharedStreamError.self) { _ = try SharedStreamLayout.regions(for: geometry) }
    }

    @Test("only sealed shared memory, large enough, can be formatted")
    func formattingChecks() throws {
        let fixture = try SharedStreamFixture()
        let small = try fixture.allocate(.kibibytes(12))
        #expect(throws: SharedStreamError.memoryTooSmall(needed: .kibibytes(16), available: .kibibytes(12))) {
            _ = try SharedStreamMemory(formatting: small, geometry: SharedStreamFixture.geometry)
        }
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        try allocator.preallocate(substream: .playback(), type: .virtuallyContiguous, size: 0, max: 0)
        try allocator.open(substream: .playback())
        try allocator.allocate(substream: .playback(), bytes: .kibibytes(16))
        let plain = try #require(try allocator.runtimeBuffer(substream: .playback()))
        #expect(throws: SharedStreamError.notSealedSharedMemory(.virtuallyContiguous)) {
            _ = try SharedStreamMemory(formatting: plain, geometry: SharedStreamFixture.geometry)
        }
    }

    @Test("the client's mapping reads back the daemon's geometry and regions")
    func clientMapping() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let client = try SharedStreamMemory(mapping: try #require(daemon.fileDescriptor))
        #expect(client.geometry == SharedStreamFixture.geometry)
        #expect(client.regions == daemon.regions)
        #expect(client.fileDescriptor == nil)
        #expect(client.ring.count == 2048 * 4)
        // The ring is the same memory on both sides.
        client.ring.storeBytes(of: 0xFEED_F00D, toByteOffset: 4 * 2047, as: UInt32.self)
        #expect(daemon.ringAddress(ofFrame: 2047).load(as: UInt32.self) == 0xFEED_F00D)
        #expect(daemon.ringAddress(ofFrame: 2047 + 2048 * 1_000_000).load(as: UInt32.self) == 0xFEED_F00D)
        #expect(daemon.ringAddress(ofFrame: UInt64.max) == daemon.ringAddress(ofFrame: UInt64.max % 2048))
        // Published state, counters and clock reach the client.
        var sequence: UInt64 = 0
        daemon.publishState(.running)
        daemon.publishDaemonPosition(4096)
        daemon.publishUnderruns(3)
        daemon.publishOverruns(4)
        let clock = SharedStreamClock(framesPlayed: 4000, monotonicNanoseconds: 123_456_789, deviceDelay: 2048)
        daemon.publishClock(clock, sequence: &sequence)
        #expect(client.state() == .running)
        #expect(client.daemonPosition() == 4096)
        #expect(client.underruns() == 3)
        #expect(client.overruns() == 4)
        #expect(client.readClock() == clock)
    }

    @Test("a client refuses memory whose header is not a consistent version-1 header")
    func clientRefusals() throws {
        let fixture = try SharedStreamFixture()
        // Never formatted: all zeros.
        let blank = try fixture.allocate(.kibibytes(16))
        let blankFD = try #require(blank.buffer.fileDescriptor)
        #expect(throws: SharedStreamError.badMagic(0)) { _ = try SharedStreamMemory(mapping: blankFD) }

        let daemon = try fixture.stream()
        let fd = try #require(daemon.fileDescriptor)
        let raw = try ClientMapping(fd, length: daemon.regions.totalBytes)
        raw.base.storeBytes(of: 2, toByteOffset: 4, as: UInt32.self)
        #expect(throws: SharedStreamError.unsupportedVersion(2)) { _ = try SharedStreamMemory(mapping: fd) }
        raw.base.storeBytes(of: 1, toByteOffset: 4, as: UInt32.self)
        raw.base.storeBytes(of: 4096 * 4, toByteOffset: 32, as: UInt64.self)  // ring_bytes
        #expect(throws: SharedStreamError.invalidHeader(field: "ring_bytes", value: 4096 * 4)) {
            _ = try SharedStreamMemory(mapping: fd)
        }
        raw.base.storeBytes(of: 8192, toByteOffset: 32, as: UInt64.self)
        raw.base.storeBytes(of: 3, toByteOffset: 48, as: UInt32.self)  // direction
        #expect(throws: SharedStreamError.invalidHeader(field: "direction", value: 3)) { _ = try SharedStreamMemory(mapping: fd) }
        raw.base.storeBytes(of: 0, toByteOffset: 48, as: UInt32.self)
        raw.base.storeBytes(of: 6, toByteOffset: 72, as: UInt32.self)  // bytes_per_frame
        #expect(throws: SharedStreamError.invalidHeader(field: "bytes_per_frame", value: 6)) {
            _ = try SharedStreamMemory(mapping: fd)
        }
        raw.base.storeBytes(of: 4, toByteOffset: 72, as: UInt32.self)
        // A ring that would reach past the end of the file.
        raw.base.storeBytes(of: 4096, toByteOffset: 64, as: UInt64.self)  // buffer_frames
        raw.base.storeBytes(of: 4096 * 4, toByteOffset: 32, as: UInt64.self)
        raw.base.storeBytes(of: UInt64(2 * PageSize.bytes + 4096 * 4), toByteOffset: 40, as: UInt64.self)
        #expect(throws: SharedStreamError.memoryTooSmall(needed: ByteCount(2 * PageSize.bytes + 16384), available: .kibibytes(16))) {
            _ = try SharedStreamMemory(mapping: fd)
        }
    }

    @Test("a client refuses a descriptor whose file could still shrink, before reading anything")
    func clientRequiresSeals() throws {
        let pages = try SystemMemoryBackend().map(.virtuallyContiguous, bytes: 4 * PageSize.bytes)
        let descriptor = pages.fileDescriptor
        let fd = try #require(descriptor)
        #expect(throws: SharedStreamError.notSealed([.seal])) { _ = try SharedStreamMemory(mapping: fd) }
        #expect(throws: SharedStreamError.systemCall(name: "fstat", errno: EBADF)) {
            _ = try SharedStreamMemory(mapping: -1)
        }
    }

    @Test("a clock whose sequence stays odd (the daemon died mid-write) reads as nil")
    func tornClock() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let fd = try #require(daemon.fileDescriptor)
        let client = try SharedStreamMemory(mapping: fd)
        #expect(client.readClock() == SharedStreamClock(framesPlayed: 0, monotonicNanoseconds: 0, deviceDelay: 0))
        let raw = try ClientMapping(fd, length: daemon.regions.totalBytes)
        raw.base.storeBytes(of: 7, toByteOffset: 192, as: UInt64.self)
        #expect(client.readClock(attempts: 10) == nil)
        raw.base.storeBytes(of: 0xFFFF_FFFF, toByteOffset: 136, as: UInt32.self)
        #expect(client.state() == nil)
    }

    @Test("a client reading the clock while the daemon writes it never sees a torn reading", .timeLimit(.minutes(1)))
    func clockUnderConcurrentWrites() throws {
        let fixture = try SharedStreamFixture()
        let daemon = try fixture.stream()
        let client = try SharedStreamMemory(mapping: try #require(daemon.fileDescriptor))
        let done = Atomic<Bool>(false)
        let writer = Thread {
            var sequence: UInt64 = 0
            for frames in UInt64(1)...200_000 {
                daemon.publishClock(
                    SharedStreamClock(framesPlayed: frames, monotonicNanoseconds: frames &* 1000, deviceDelay: frames &* 3),
                    sequence: &sequence)
            }
            done.store(true, ordering: .releasing)
        }
        writer.start()
        var reads = 0
        var torn = 0
        var backwards = 0
        var last: UInt64 = 0
        while !done.load(ordering: .acquiring) || reads == 0 {
            guard let clock = client.readClock() else { continue }
            reads += 1
            if clock.monotonicNanoseconds != clock.framesPlayed &* 1000 || clock.deviceDelay != clock.framesPlayed &* 3 { torn += 1 }
            if clock.framesPlayed < last { backwards += 1 }
            last = clock.framesPlayed
        }
        #expect(torn == 0)
        #expect(backwards == 0)
        #expect(client.readClock()?.framesPlayed == 200_000)
    }
}
