// The client's only contact with the daemon's socket: a connected AF_UNIX stream socket, polled
// next to the connection's wake eventfd. Every raw call lives here, returns a typed Errno, and
// retries EINTR. Sends use MSG_NOSIGNAL: a daemon that hangs up is an error to report, never a
// SIGPIPE that kills the host application.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMProtocol
import SystemPackage

/// A connected, non-blocking Unix stream socket.
///
/// Owns the descriptor and closes it when it goes away.
struct ClientSocket: ~Copyable {
    /// The connected socket (non-blocking once connected).
    let socket: Int32

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
        socket = fd
    }

    deinit {
        // An error from close is ignored: the descriptor is gone either way and nobody is left to tell.
        _ = Glibc.close(socket)
    }

    /// What ``wait(forWriting:wake:)`` saw.
    struct Readiness {
        var readable = false
        var writable = false
        var hangUp = false
        var woken = false
    }

    /// Blocks until the socket is readable (or writable, if asked) or `wake` is signalled.
    func wait(forWriting: Bool, wake: WakeEvent) throws(PCMClientError) -> Readiness {
        var fds = (
            pollfd(fd: socket, events: Int16(POLLIN) | (forWriting ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)
        )
        let result = withUnsafeMutableBytes(of: &fds) { raw in
            retryingInterrupts { poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, -1) }
        }
        guard result >= 0 else { throw .system(call: "poll", errno: .current) }
        var readiness = Readiness()
        readiness.readable = fds.0.revents & Int16(POLLIN) != 0
        readiness.writable = fds.0.revents & Int16(POLLOUT) != 0
        readiness.hangUp = fds.0.revents & Int16(POLLHUP | POLLERR) != 0
        if fds.1.revents & Int16(POLLIN) != 0 {
            wake.drain()
            readiness.woken = true
        }
        return readiness
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
