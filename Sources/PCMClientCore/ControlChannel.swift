// The client's end of the control socket: a connected, non-blocking AF_UNIX stream socket, its
// receive framer, and the FIFO of descriptors that arrived with the bytes. Since protocol
// version 2 the daemon attaches a stream's memfd and eventfd to the first byte of its
// `streamOpened`; the kernel hands them over with whatever recvmsg returns, and because both the
// descriptors and the messages keep their order, the reply simply takes its two from the front
// of the FIFO. Descriptors nobody took are closed with the channel.
//
// Every send uses MSG_NOSIGNAL (through DescriptorPassing), so a daemon that hangs up is an error
// to report, never a SIGPIPE that kills the host application.

#if canImport(Glibc)
import Glibc
#endif
import PCMProtocol

/// A connected control socket with its framer and received descriptors. Owns all of them.
public struct ControlChannel: ~Copyable {
    /// The socket (non-blocking); poll it for readability alongside the streams' eventfds.
    public let fd: Int32
    private var framer = MessageFramer()
    /// Received descriptors not yet taken, in arrival order.
    private var descriptors: [Int32] = []

    /// Connects to the daemon socket at `path`.
    public init(connectingTo path: String) throws(ClientCoreError) {
        guard SocketLocation.isUsable(path) else { throw .unusableSocketPath(path) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)  // isUsable guarantees it fits with the NUL after it
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                retryingInterrupts { connect(fd, socketAddress, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard connected == 0 else {
            let code = errno
            _ = close(fd)
            throw .system(call: "connect", errno: code)
        }
        try self.init(adopting: fd)
    }

    /// Takes ownership of an already connected socket (a `socketpair` end in a test, an
    /// inherited descriptor) and makes it non-blocking.
    public init(adopting fd: Int32) throws(ClientCoreError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            let code = errno
            _ = close(fd)
            throw .system(call: "fcntl", errno: code)
        }
        self.fd = fd
    }

    deinit {
        for descriptor in descriptors { _ = close(descriptor) }
        _ = close(fd)  // the descriptor is gone either way; nobody is left to tell
    }

    /// Sends all of `bytes`, waiting (poll) while the socket is full, at most `timeoutMilliseconds`
    /// in all (negative: no limit).
    ///
    /// - Throws: ``ClientCoreError/disconnected(_:)`` when the daemon hung up (EPIPE,
    ///   ECONNRESET); ``ClientCoreError/timedOut``; ``ClientCoreError/system(call:errno:)``.
    public func send(_ bytes: UnsafeRawBufferPointer, timeoutMilliseconds: Int32 = -1) throws(ClientCoreError) {
        var offset = 0
        while offset < bytes.count {
            do throws(DescriptorPassingError) {
                offset += try DescriptorPassing.send(on: fd, bytes: UnsafeRawBufferPointer(rebasing: bytes[offset...]), descriptors: [])
            } catch .wouldBlock {
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = retryingInterrupts { poll(&entry, 1, timeoutMilliseconds) }
                guard ready >= 0 else { throw .system(call: "poll", errno: errno) }
                guard ready > 0 else { throw .timedOut }
            } catch .systemCall(_, let code) where code == EINTR {
                continue
            } catch .systemCall(_, let code) where code == EPIPE || code == ECONNRESET {
                throw .disconnected(nil)
            } catch {
                throw .system(call: "sendmsg", errno: errnoOf(error))
            }
        }
    }

    /// Sends what the socket takes now, without waiting: returns the bytes sent (0 when it is
    /// full). For an I/O thread that polls the socket itself.
    ///
    /// - Throws: ``ClientCoreError/disconnected(_:)`` when the daemon hung up;
    ///   ``ClientCoreError/system(call:errno:)``.
    public func sendAvailable(_ bytes: UnsafeRawBufferPointer) throws(ClientCoreError) -> Int {
        while true {
            do throws(DescriptorPassingError) {
                return try DescriptorPassing.send(on: fd, bytes: bytes, descriptors: [])
            } catch .wouldBlock {
                return 0
            } catch .systemCall(_, let code) where code == EINTR {
                continue
            } catch .systemCall(_, let code) where code == EPIPE || code == ECONNRESET {
                throw .disconnected(nil)
            } catch {
                throw .system(call: "sendmsg", errno: errnoOf(error))
            }
        }
    }

    /// Reads what the socket holds now (one recvmsg), keeping any descriptors that came with it.
    ///
    /// - Returns: false at end of stream (the daemon closed the connection), true otherwise,
    ///   also when nothing was waiting.
    /// - Throws: ``ClientCoreError/descriptors(_:)`` when the daemon attached more descriptors
    ///   than fit (they were closed, and the stream of bytes no longer lines up with them);
    ///   ``ClientCoreError/system(call:errno:)``; ``ClientCoreError/disconnected(_:)`` on a reset.
    public mutating func receiveAvailable() throws(ClientCoreError) -> Bool {
        let buffer = framer.receiveBuffer()
        guard !buffer.isEmpty else { return true }  // a whole message is waiting to be taken
        while true {
            do throws(DescriptorPassingError) {
                var chunk = try DescriptorPassing.receive(on: fd, into: buffer)
                while let descriptor = chunk.takeDescriptor() { descriptors.append(descriptor.take()) }
                guard chunk.byteCount > 0 else { return false }
                framer.didReceive(chunk.byteCount)
                return true
            } catch .wouldBlock {
                return true
            } catch .systemCall(_, let code) where code == EINTR {
                continue
            } catch .systemCall(_, let code) where code == ECONNRESET {
                throw .disconnected(nil)
            } catch .controlTruncated(let bytes) {
                throw .descriptors("more descriptors than fit in one receive (with \(bytes) bytes); the connection cannot continue")
            } catch {
                throw .system(call: "recvmsg", errno: errnoOf(error))
            }
        }
    }

    /// The next whole message the framer holds, or nil when it needs more bytes.
    public mutating func nextEnvelope() throws(ClientCoreError) -> Envelope? {
        do throws(ProtocolError) {
            return try framer.next()
        } catch {
            throw .protocolViolation(error)
        }
    }

    /// Takes the oldest received descriptor the caller now owns, or nil when none is waiting.
    public mutating func takeDescriptor() -> Int32? {
        descriptors.isEmpty ? nil : descriptors.removeFirst()
    }

    /// Received descriptors not yet taken.
    public var waitingDescriptors: Int { descriptors.count }

    /// Waits until the socket is readable, at most `timeoutMilliseconds` (negative: no limit).
    /// Returns false on timeout.
    public func waitReadable(timeoutMilliseconds: Int32) throws(ClientCoreError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = retryingInterrupts { poll(&entry, 1, timeoutMilliseconds) }
        guard ready >= 0 else { throw .system(call: "poll", errno: errno) }
        return ready > 0
    }

    /// Shuts the socket down both ways, so the daemon sees the client leave at once.
    public func shutDown() {
        _ = shutdown(fd, Int32(SHUT_RDWR))  // fails only if already disconnected
    }
}

/// The errno a descriptor-passing failure carries (0 when it carries none).
func errnoOf(_ error: DescriptorPassingError) -> Int32 {
    if case .systemCall(_, let code) = error { return code }
    return 0
}

/// Runs a system call again while it fails with EINTR.
@inline(__always)
func retryingInterrupts<Result: BinaryInteger>(_ call: () -> Result) -> Result {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}
