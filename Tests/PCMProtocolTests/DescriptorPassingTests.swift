// Descriptor passing over a socketpair, as the daemon will send a shared stream's memfd and the
// client will receive it: the received descriptor is the same memory, close-on-exec, in the order
// sent; a message with more descriptors than the receiver has room for is an error that leaves
// no descriptor behind; and the socket's ordinary failures come back as typed errors.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PCMBufferCore
import PCMProtocol
import Testing

@Suite("Descriptor passing", .serialized)
struct DescriptorPassingTests {
    /// A connected pair of Unix stream sockets, closed at deinit.
    struct SocketPair: ~Copyable {
        let daemon: Int32
        let client: Int32

        init() throws {
            var fds: [Int32] = [-1, -1]
            try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
            daemon = fds[0]
            client = fds[1]
        }

        deinit {
            close(daemon)
            close(client)
        }
    }

    /// A receive buffer. `withUnsafeMutableBytes` cannot return a noncopyable chunk, so the
    /// tests own their memory the way a connection's framer does.
    final class ReceiveBuffer {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        deinit { bytes.deallocate() }

        func receive(_ socket: Int32) throws(DescriptorPassingError) -> ReceivedChunk {
            try DescriptorPassing.receive(on: socket, into: bytes)
        }

        func text(_ count: Int) -> String { String(decoding: bytes[0..<count], as: UTF8.self) }
    }

    /// The device and inode of a descriptor's file.
    func identity(_ fd: Int32) throws -> [UInt64] {
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        return [UInt64(status.st_dev), UInt64(status.st_ino)]
    }

    /// How many of this process's open descriptors (from /proc/self/fd) refer to `file`.
    /// Counting by file, not all descriptors, keeps the count exact while other suites open
    /// and close descriptors in parallel.
    func openDescriptors(referringTo file: [UInt64]) throws -> Int {
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        return names.compactMap { Int32($0) }.filter { fd in
            var status = stat()
            // The listing's own directory descriptor is gone by now; it fails fstat and is skipped.
            return fstat(fd, &status) == 0 && [UInt64(status.st_dev), UInt64(status.st_ino)] == file
        }.count
    }

    func send(_ socket: Int32, _ text: String, descriptors: [Int32]) throws -> Int {
        try Array(text.utf8).withUnsafeBytes { bytes in
            try DescriptorPassing.send(on: socket, bytes: bytes, descriptors: descriptors)
        }
    }

    @Test("a shared stream's memfd arrives as the same memory: written through one mapping, read through the other")
    func sameMemory() throws {
        let pair = try SocketPair()
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 100, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        let id = SubstreamID(card: 100, device: 0, direction: .playback, subdevice: 0)
        try allocator.preallocate(substream: id, type: .sealedShared, size: 0, max: 0)
        try allocator.open(substream: id)
        let geometry = SharedStreamGeometry(
            direction: .playback, layout: FrameLayout(format: .s16, channels: 2), rate: 48_000, bufferFrames: 2048,
            devicePeriodFrames: 1024, deviceBufferFrames: 3072)
        try allocator.allocate(substream: id, bytes: ByteCount(try SharedStreamLayout.regions(for: geometry).totalBytes))
        let daemon = try SharedStreamMemory(formatting: try #require(try allocator.runtimeBuffer(substream: id)), geometry: geometry)
        let memfd = try #require(daemon.fileDescriptor)

        #expect(try send(pair.daemon, "streamOpened", descriptors: [memfd]) == 12)
        let buffer = ReceiveBuffer()
        var chunk = try buffer.receive(pair.client)
        #expect(chunk.byteCount == 12)
        #expect(buffer.text(12) == "streamOpened")
        #expect(chunk.descriptorCount == 1)
        guard let received = chunk.takeDescriptor() else {
            Issue.record("no descriptor arrived")
            return
        }
        #expect(chunk.descriptorCount == 0)
        #expect(received.rawValue != memfd)
        #expect(try identity(received.rawValue) == identity(memfd))
        #expect(try MemorySeals.of(fileDescriptor: received.rawValue) == MemorySeals.sharedStream)

        let client = try SharedStreamMemory(mapping: received.rawValue)
        #expect(client.geometry == geometry)
        daemon.ring.storeBytes(of: 0x1234_5678, toByteOffset: 400, as: UInt32.self)
        #expect(client.ring.load(fromByteOffset: 400, as: UInt32.self) == 0x1234_5678)
        client.ring.storeBytes(of: 0x9ABC_DEF0, toByteOffset: 8188, as: UInt32.self)
        #expect(daemon.ring.load(fromByteOffset: 8188, as: UInt32.self) == 0x9ABC_DEF0)
        client.publishClientPosition(1500)
        #expect(daemon.loadClientPosition() == 1500)
    }

    @Test("a received descriptor is close-on-exec even when the sender's was not")
    func closeOnExec() throws {
        let pair = try SocketPair()
        let pages = try SystemMemoryBackend().map(.sealedShared, bytes: 4096)
        let descriptor = pages.fileDescriptor
        let memfd = try #require(descriptor)
        let inheritable = dup(memfd)  // dup clears FD_CLOEXEC
        try #require(inheritable >= 0)
        defer { close(inheritable) }
        #expect(fcntl(inheritable, F_GETFD) & FD_CLOEXEC == 0)
        _ = try send(pair.daemon, "x", descriptors: [inheritable])
        let buffer = ReceiveBuffer()
        var chunk = try buffer.receive(pair.client)
        guard let received = chunk.takeDescriptor() else {
            Issue.record("no descriptor arrived")
            return
        }
        #expect(fcntl(received.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test("several descriptors arrive in the order sent; those not taken are closed with the chunk")
    func orderAndCleanup() throws {
        let pair = try SocketPair()
        let first = try SystemMemoryBackend().map(.sealedShared, bytes: 4096)
        let second = try SystemMemoryBackend().map(.virtuallyContiguous, bytes: 4096)
        let (firstFD, secondFD) = (first.fileDescriptor, second.fileDescriptor)
        let firstID = try identity(try #require(firstFD))
        let secondID = try identity(try #require(secondFD))
        _ = try send(pair.daemon, "ab", descriptors: [try #require(firstFD), try #require(secondFD)])
        let buffer = ReceiveBuffer()
        do {
            var chunk = try buffer.receive(pair.client)
            #expect(chunk.descriptorCount == 2)
            #expect(try openDescriptors(referringTo: secondID) == 2)
            guard let taken = chunk.takeDescriptor() else {
                Issue.record("no descriptor arrived")
                return
            }
            #expect(try identity(taken.rawValue) == firstID)
            let raw = taken.take()  // handed on: now ours to close
            #expect(try openDescriptors(referringTo: firstID) == 2)
            close(raw)
        }
        // The chunk is gone: the second descriptor, never taken, was closed with it.
        #expect(try openDescriptors(referringTo: firstID) == 1)
        #expect(try openDescriptors(referringTo: secondID) == 1)
    }

    @Test("more descriptors than the receiver has room for: controlTruncated, and no descriptor leaks")
    func truncatedControl() throws {
        let pair = try SocketPair()
        let pages = try SystemMemoryBackend().map(.sealedShared, bytes: 4096)
        let descriptor = pages.fileDescriptor
        let memfd = try #require(descriptor)
        let file = try identity(memfd)
        let before = try openDescriptors(referringTo: file)
        #expect(before == 1)
        let count = DescriptorPassing.receiveLimit + 2
        #expect(try send(pair.daemon, "too many", descriptors: Array(repeating: memfd, count: count)) == 8)
        let buffer = ReceiveBuffer()
        #expect(throws: DescriptorPassingError.controlTruncated(bytesReceived: 8)) {
            _ = try buffer.receive(pair.client)
        }
        #expect(try openDescriptors(referringTo: file) == before)
        // Exactly the limit is fine.
        _ = try send(pair.daemon, "enough", descriptors: Array(repeating: memfd, count: DescriptorPassing.receiveLimit))
        do {
            let chunk = try buffer.receive(pair.client)
            #expect(chunk.descriptorCount == DescriptorPassing.receiveLimit)
            #expect(try openDescriptors(referringTo: file) == before + DescriptorPassing.receiveLimit)
        }
        #expect(try openDescriptors(referringTo: file) == before)
    }

    @Test("the socket's own conditions are typed errors: would block, hang-up (no SIGPIPE), bad requests, end of stream")
    func socketErrors() throws {
        let buffer = ReceiveBuffer()
        do {
            let pair = try SocketPair()
            #expect(throws: DescriptorPassingError.wouldBlock) {
                _ = try buffer.receive(pair.client)
            }
            #expect(throws: DescriptorPassingError.noBytesToCarryDescriptors) { _ = try send(pair.daemon, "", descriptors: [0]) }
            let tooMany = Array(repeating: Int32(0), count: DescriptorPassing.sendLimit + 1)
            #expect(throws: DescriptorPassingError.tooManyDescriptors(count: DescriptorPassing.sendLimit + 1, limit: DescriptorPassing.sendLimit)) {
                _ = try send(pair.daemon, "x", descriptors: tooMany)
            }
            #expect(try send(pair.daemon, "no descriptors", descriptors: []) == 14)
            let chunk = try buffer.receive(pair.client)
            #expect(chunk.byteCount == 14)
            #expect(chunk.descriptorCount == 0)
        }
        do {
            let pair = try SocketPair()
            shutdown(pair.client, Int32(SHUT_RDWR))
            #expect(throws: DescriptorPassingError.systemCall(name: "sendmsg", errno: EPIPE)) {
                _ = try send(pair.daemon, "late", descriptors: [])
            }
            let end = try buffer.receive(pair.daemon)
            #expect(end.byteCount == 0)
        }
        #expect(throws: DescriptorPassingError.systemCall(name: "recvmsg", errno: EBADF)) {
            _ = try buffer.receive(-1)
        }
    }
}
