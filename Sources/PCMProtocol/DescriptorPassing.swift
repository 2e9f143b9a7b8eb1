// File descriptors sent alongside protocol bytes over the Unix socket (SCM_RIGHTS): how the daemon
// will hand a client the memfd and eventfd of a shared stream (protocol version 2).
//
// It lives in PCMProtocol because both ends need it and both already depend on this module: the
// daemon's ClientSession sends, PCMClient's ClientSocket receives, and which message carries
// which descriptors is part of the protocol (docs/protocol.md §7). The system calls are in CLinux,
// because the CMSG_* macros that build and walk the control buffer cannot be imported into Swift.
//
// A received descriptor is owned from the moment it arrives: ReceivedChunk closes every one the
// caller does not take, so an error path can never leak one. The receive side refuses a message
// whose descriptors did not all fit (MSG_CTRUNC), closing those that did: from then on the byte
// stream and the descriptors no longer line up, and the connection must be dropped.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CLinux

/// Why descriptors could not be sent or received.
public enum DescriptorPassingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// More descriptors than one message may carry.
    case tooManyDescriptors(count: Int, limit: Int)
    /// Descriptors need at least one byte to travel with.
    case noBytesToCarryDescriptors
    /// The socket is non-blocking and nothing could be sent or received now (`EAGAIN`).
    case wouldBlock
    /// `sendmsg` or `recvmsg` failed; `errno` says why (`EPIPE` when the peer hung up).
    case systemCall(name: String, errno: Int32)
    /// The peer sent more descriptors than fit in the control buffer (`MSG_CTRUNC`), so the
    /// kernel dropped some. The ones that did arrive were closed; `bytesReceived` bytes left
    /// the socket with them. The connection cannot continue.
    case controlTruncated(bytesReceived: Int)

    public var description: String {
        switch self {
        case .tooManyDescriptors(let count, let limit): "\(count) descriptors in one message; at most \(limit)"
        case .noBytesToCarryDescriptors: "descriptors must travel with at least one byte"
        case .wouldBlock: "the socket would block"
        case .systemCall(let name, let errno): "\(name) failed: errno \(errno)"
        case .controlTruncated(let bytes): "the peer sent more descriptors than fit (\(bytes) bytes received); they were closed"
        }
    }
}

/// An open file descriptor this value owns: it is closed when the value goes away, unless it
/// was handed on with ``take()``.
public struct OwnedDescriptor: ~Copyable, Sendable {
    /// The descriptor number, valid while this value exists.
    public let rawValue: Int32

    /// Takes ownership of an open descriptor.
    public init(takingOwnershipOf rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Gives up ownership without closing: the caller closes the descriptor from now on.
    public consuming func take() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    deinit { close(rawValue) }
}

/// The bytes one receive read, and the descriptors that came with them, in the order the peer
/// attached them. Descriptors not taken are closed with this value.
public struct ReceivedChunk: ~Copyable, Sendable {
    /// How many bytes were written into the buffer; 0 means the peer closed the connection.
    public let byteCount: Int
    private var descriptors: [Int32]
    private var next = 0

    init(byteCount: Int, descriptors: [Int32]) {
        self.byteCount = byteCount
        self.descriptors = descriptors
    }

    /// How many descriptors have not been taken yet.
    public var descriptorCount: Int { descriptors.count - next }

    /// Takes the next descriptor in arrival order, or `nil` when none is left.
    public mutating func takeDescriptor() -> OwnedDescriptor? {
        guard next < descriptors.count else { return nil }
        defer { next += 1 }
        return OwnedDescriptor(takingOwnershipOf: descriptors[next])
    }

    deinit {
        for fd in descriptors[next...] { close(fd) }
    }
}

/// Sending and receiving bytes with descriptors attached, on a connected Unix stream socket.
public enum DescriptorPassing {
    /// The most descriptors one receive accepts; more in one message is ``DescriptorPassingError/controlTruncated(bytesReceived:)``.
    /// A shared stream needs two (its memfd and its eventfd).
    public static let receiveLimit = Int(CLINUX_RECEIVE_FDS_MAX)
    /// The most descriptors one send attaches. Larger than ``receiveLimit`` so that a test (or a
    /// hostile peer) can overflow a receiver.
    public static let sendLimit = Int(CLINUX_SEND_FDS_MAX)

    /// Sends `bytes` with `descriptors` attached, without blocking and without SIGPIPE.
    ///
    /// The kernel duplicates the descriptors into the receiver; the caller still owns its own.
    /// On a stream socket they travel with the first byte: when this returns fewer bytes than
    /// given, the descriptors have gone, and the rest of the bytes must be sent without them.
    ///
    /// - Returns: the number of bytes sent (at least 1 whenever descriptors were attached).
    /// - Throws: ``DescriptorPassingError/tooManyDescriptors(count:limit:)``,
    ///   ``DescriptorPassingError/noBytesToCarryDescriptors``, ``DescriptorPassingError/wouldBlock``,
    ///   or ``DescriptorPassingError/systemCall(name:errno:)`` (`EPIPE` when the peer hung up).
    public static func send(on socket: Int32, bytes: UnsafeRawBufferPointer, descriptors: [Int32]) throws(DescriptorPassingError) -> Int {
        guard descriptors.count <= sendLimit else { throw .tooManyDescriptors(count: descriptors.count, limit: sendLimit) }
        if !descriptors.isEmpty, bytes.isEmpty { throw .noBytesToCarryDescriptors }
        let sent = descriptors.withUnsafeBufferPointer { fds in
            clinux_send_with_fds(socket, bytes.baseAddress, bytes.count, fds.baseAddress, Int32(fds.count))
        }
        guard sent >= 0 else {
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK { throw .wouldBlock }
            throw .systemCall(name: "sendmsg", errno: error)
        }
        return sent
    }

    /// Receives into `buffer`, without blocking, taking ownership of any descriptors that came
    /// with the bytes. Received descriptors are close-on-exec.
    ///
    /// - Returns: the bytes received (0 when the peer closed the connection) and the
    ///   descriptors, which are closed unless taken.
    /// - Throws: ``DescriptorPassingError/wouldBlock``; ``DescriptorPassingError/controlTruncated(bytesReceived:)``
    ///   when the peer attached more than ``receiveLimit`` descriptors (every one that arrived
    ///   has been closed); ``DescriptorPassingError/systemCall(name:errno:)``.
    public static func receive(on socket: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(DescriptorPassingError) -> ReceivedChunk {
        var count: Int32 = 0
        var truncated: Int32 = 0
        // The descriptors land on the stack; an array is made only when some arrived.
        let (received, descriptors) = withUnsafeTemporaryAllocation(of: Int32.self, capacity: receiveLimit) { fds in
            let received = clinux_receive_with_fds(socket, buffer.baseAddress, buffer.count, fds.baseAddress, &count, &truncated)
            let error = errno
            let descriptors = received >= 0 && count > 0 ? Array(fds.prefix(Int(count))) : []
            return (received >= 0 ? received : -Int(error), descriptors)
        }
        guard received >= 0 else {
            let error = Int32(-received)
            if error == EAGAIN || error == EWOULDBLOCK { throw .wouldBlock }
            throw .systemCall(name: "recvmsg", errno: error)
        }
        guard truncated == 0 else { throw .controlTruncated(bytesReceived: received) }
        return ReceivedChunk(byteCount: received, descriptors: descriptors)
    }
}
