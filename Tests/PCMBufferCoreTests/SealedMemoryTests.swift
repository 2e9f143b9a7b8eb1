// The seals on shared stream memory, tested as a hostile client would attack them: with the
// raw descriptor it was sent, and with a second descriptor it reopened through /proc. Whatever it
// tries, the size cannot change (no SIGBUS for the daemon) and the seal set cannot change.

#if canImport(Glibc)
import Glibc
#endif
import CLinux
import PCMBufferCore
import Testing

@Suite("Sealed shared memory")
struct SealedMemoryTests {
    /// A sealed buffer of 64 KiB and its descriptor.
    func sealedBuffer(_ fixture: SharedStreamFixture) throws -> (RuntimeBuffer, Int32) {
        let buffer = try fixture.allocate(.kibibytes(64))
        return (buffer, try #require(buffer.buffer.fileDescriptor))
    }

    /// Runs `call` and returns the errno it failed with, or 0 when it succeeded.
    func failure(_ call: () -> Int32) -> Int32 {
        errno = 0
        return call() == 0 ? 0 : errno
    }

    @Test("the memfd carries exactly shrink, grow and seal: no write seals, which would stop the reclaim")
    func sealSet() throws {
        let fixture = try SharedStreamFixture()
        let (buffer, fd) = try sealedBuffer(fixture)
        #expect(try MemorySeals.of(fileDescriptor: fd) == [.shrink, .grow, .seal])
        #expect(try buffer.buffer.seals() == MemorySeals.sharedStream)
        #expect(try !buffer.buffer.seals().contains(.futureWrite))
        #expect(try !buffer.buffer.seals().contains(.write))
        #expect(MemorySeals.sharedStream.description == "[seal, shrink, grow]")
    }

    @Test("ftruncate fails with EPERM, whether it would shrink, empty or grow the file")
    func truncate() throws {
        let fixture = try SharedStreamFixture()
        let (_, fd) = try sealedBuffer(fixture)
        let size = off_t(64 * 1024)
        #expect(failure { ftruncate(fd, size - 4096) } == EPERM)
        #expect(failure { ftruncate(fd, 0) } == EPERM)
        #expect(failure { ftruncate(fd, size + 4096) } == EPERM)
        #expect(failure { ftruncate(fd, size) } == 0)  // the same size changes nothing and is allowed
        var status = stat()
        #expect(fstat(fd, &status) == 0)
        #expect(status.st_size == size)
    }

    @Test("the file cannot grow by fallocate or by writing past its end; writes inside it work")
    func grow() throws {
        let fixture = try SharedStreamFixture()
        let (buffer, fd) = try sealedBuffer(fixture)
        let size = off_t(64 * 1024)
        #expect(posix_fallocate(fd, size, 4096) == EPERM)
        var byte: UInt8 = 0x42
        errno = 0
        #expect(pwrite(fd, &byte, 1, size) == -1)
        #expect(errno == EPERM)
        #expect(pwrite(fd, &byte, 1, size - 1) == 1)
        #expect(buffer.buffer.baseAddress.load(fromByteOffset: Int(size) - 1, as: UInt8.self) == 0x42)
    }

    @Test("no seal can be added, through the sent descriptor or one reopened from /proc; none can be removed")
    func sealsAreFinal() throws {
        let fixture = try SharedStreamFixture()
        let (_, fd) = try sealedBuffer(fixture)
        let reopened = open("/proc/self/fd/\(fd)", O_RDWR | O_CLOEXEC)
        try #require(reopened >= 0, "reopen failed: errno \(errno)")
        defer { close(reopened) }
        #expect(try fileIdentity(reopened) == fileIdentity(fd))
        for descriptor in [fd, reopened] {
            for seal in [CLINUX_SEAL_WRITE, CLINUX_SEAL_FUTURE_WRITE, CLINUX_SEAL_SHRINK, 0] {
                #expect(failure { clinux_add_seals(descriptor, UInt32(seal)) } == EPERM, "seal \(seal)")
            }
            #expect(failure { ftruncate(descriptor, 0) } == EPERM)
        }
        // Linux has no call that removes a seal; what matters is that the set is still the same.
        #expect(try MemorySeals.of(fileDescriptor: fd) == MemorySeals.sharedStream)
        #expect(try MemorySeals.of(fileDescriptor: reopened) == MemorySeals.sharedStream)
    }

    @Test("a client can still map the memory writable and write its ring")
    func writableMapping() throws {
        let fixture = try SharedStreamFixture()
        let (buffer, fd) = try sealedBuffer(fixture)
        let client = try ClientMapping(fd, length: 64 * 1024)
        client.base.storeBytes(of: 0xC0FF_EE00, toByteOffset: 12_340, as: UInt32.self)
        #expect(buffer.buffer.baseAddress.load(fromByteOffset: 12_340, as: UInt32.self) == 0xC0FF_EE00)
    }

    @Test("memory that is not for clients is not sealable at all (the kernel seals it with F_SEAL_SEAL at birth)")
    func plainMemfd() throws {
        let backend = SystemMemoryBackend()
        let pages = try backend.map(.virtuallyContiguous, bytes: 4096)
        let descriptor = pages.fileDescriptor
        let fd = try #require(descriptor)
        #expect(try MemorySeals.of(fileDescriptor: fd) == [.seal])
        #expect(failure { clinux_add_seals(fd, UInt32(CLINUX_SEAL_SHRINK)) } == EPERM)
    }

    @Test("the seal query reports a bad descriptor as a typed error")
    func badDescriptor() {
        #expect(throws: MemoryBackendError.systemCall(name: "fcntl(F_GET_SEALS)", errno: EBADF)) {
            _ = try MemorySeals.of(fileDescriptor: -1)
        }
    }
}
