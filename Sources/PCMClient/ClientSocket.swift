// The client's only contact with the kernel: a connected AF_UNIX stream socket and a socket pair
// that wakes the I/O thread (Glibc's Swift module exports neither eventfd nor pipe2). Every raw call lives here, returns a typed Errno, and retries EINTR.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMProtocol
import SystemPackage

/// A connected, non-blocking Unix stream socket plus the wakeup pair that interrupts its poll.
///
/// Owns both descriptors and closes them when it goes away.
struct ClientSocket: ~Copyable {
    /// The connected socket (non-blocking once connected).
    let socket: Int32
    /// One end of the wakeup pair, polled next to the socket.
    let wakeupReader: Int32
    /// The other end: a byte written here wakes a thread blocked in ``wait(forWriting:)``.
    let wakeup: Int32

    /// Connects to the daemon at `path`.
    static func connect(path: String) throws(PCMClientError) -> ClientSocket {
        guard SocketLocation.isUsable(path) else { throw .unusableSocketPath(path) }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: .current) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)  // isUsable guarantees it fits with the NUL after it
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                retryingInterrupts { Glibc.connect(fd, socketAddress, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard connected == 0 else {
            let error = Errno.current
            _ = Glibc.close(fd)
            throw .system(call: "connect", errno: error)
        }
        return try ClientSocket(adopting: fd)
    }

    /// Takes ownership of an already connected socket (for example one end of a `socketpair`).
    init(adopting fd: Int32) throws(PCMClientError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            let error = Errno.current
            _ = Glibc.close(fd)
            throw .system(call: "fcntl", errno: error)
        }
        var pipeEnds: [Int32] = [-1, -1]
        let pairType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, pairType, 0, &pipeEnds) == 0 else {
            let error = Errno.current
            _ = Glibc.close(fd)
            throw .system(call: "socketpair", errno: error)
        }
        socket = fd
        wakeupReader = pipeEnds[0]
        wakeup = pipeEnds[1]
    }

    deinit {
        // Errors from close are ignored because the descriptors are gone either way and
        // there is nobody left to tell.
        _ = Glibc.close(socket)
        _ = Glibc.close(wakeupReader)
        _ = Glibc.close(wakeup)
    }

    /// What ``wait(forWriting:)`` saw.
    struct Readiness {
        var readable = false
        var writable = false
        var hangUp = false
        var woken = false
    }

    /// Blocks until the socket is readable (or writable, if asked) or the wakeup pair is signalled.
    func wait(forWriting: Bool) throws(PCMClientError) -> Readiness {
        var fds = [
            pollfd(fd: socket, events: Int16(POLLIN) | (forWriting ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakeupReader, events: Int16(POLLIN), revents: 0),
        ]
        let result = fds.withUnsafeMutableBufferPointer { buffer in
            retryingInterrupts { poll(buffer.baseAddress, 2, -1) }
        }
        guard result >= 0 else { throw .system(call: "poll", errno: .current) }
        var readiness = Readiness()
        readiness.readable = fds[0].revents & Int16(POLLIN) != 0
        readiness.writable = fds[0].revents & Int16(POLLOUT) != 0
        readiness.hangUp = fds[0].revents & Int16(POLLHUP | POLLERR) != 0
        if fds[1].revents & Int16(POLLIN) != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            // Ignored: this only empties the wakeup pair; EAGAIN once it is empty is the expected end.
            while drain.withUnsafeMutableBytes({ Glibc.read(wakeupReader, $0.baseAddress, 64) }) > 0 {}
            readiness.woken = true
        }
        return readiness
    }

    /// Wakes a thread blocked in ``wait(forWriting:)``; safe from any thread.
    static func wake(_ wakeup: Int32) {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeup, &byte, 1)  // ignored: fails only when the pair is full, i.e. already woken
    }

    /// Reads into `buffer`; returns the byte count, 0 at end of stream, `nil` when it would block.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(PCMClientError) -> Int? {
        let count = retryingInterrupts { Glibc.read(socket, buffer.baseAddress, buffer.count) }
        if count >= 0 { return count }
        let error = Errno.current
        if error == .wouldBlock || error == .resourceTemporarilyUnavailable { return nil }
        throw .system(call: "read", errno: error)
    }

    /// Writes from `bytes`; returns the count written, 0 when it would block.
    func send(_ bytes: UnsafeRawBufferPointer) throws(PCMClientError) -> Int {
        let count = retryingInterrupts { Glibc.send(socket, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        if count >= 0 { return count }
        let error = Errno.current
        if error == .wouldBlock || error == .resourceTemporarilyUnavailable { return 0 }
        throw .system(call: "send", errno: error)
    }

    /// Shuts the socket down both ways, so the daemon sees the client leave at once.
    func shutDown() {
        _ = Glibc.shutdown(socket, Int32(SHUT_RDWR))  // ignored: fails only if already disconnected
    }
}

/// Runs a system call again while it fails with EINTR.
@inline(__always)
func retryingInterrupts<Result: BinaryInteger>(_ call: () -> Result) -> Result {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

extension Errno {
    /// The calling thread's `errno`.
    static var current: Errno { Errno(rawValue: errno) }
}
