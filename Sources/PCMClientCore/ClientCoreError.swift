// Everything that can go wrong for a client of pcmd's synchronous core, as one typed error. Each
// case says whose fault it is: the caller's arguments, the system, the daemon's answer, the
// shared memory the daemon sent, or a connection that ended. PCMClient's async errors are built
// from these.

import PCMBufferCore
import PCMProtocol

/// Why a `PCMClientCore` call failed.
public enum ClientCoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No daemon answered on any of these socket paths (each with the `errno` of its connect).
    case noDaemon(tried: [String: Int32])
    /// The socket path cannot be used (empty, longer than 107 bytes, or containing NUL).
    case unusableSocketPath(String)
    /// A system call failed.
    case system(call: String, errno: Int32)
    /// The daemon refused the request and said why.
    case refused(ErrorReply)
    /// The connection is closed: by the client, by the daemon (with its reason, when it sent
    /// one), or because the socket failed.
    case disconnected(ErrorReply?)
    /// The daemon sent something that is not valid protocol.
    case protocolViolation(ProtocolError)
    /// The descriptors that came with a message were wrong: missing, too many, or cut short.
    case descriptors(String)
    /// The shared memory the daemon sent cannot be used (not sealed, a header that contradicts
    /// itself, the reply or the file size).
    case sharedMemory(SharedStreamError)
    /// The daemon answered with a message that does not answer the request.
    case unexpectedReply(MessageType)
    /// The stream is closed (by the client, or by the daemon with its reason).
    case streamClosed(ErrorReply?)
    /// An argument is unusable (a partial frame, a conversion that cannot be built).
    case invalidArgument(String)
    /// A blocking call's timeout passed.
    case timedOut

    public var description: String {
        switch self {
        case .noDaemon(let tried):
            let reasons = tried.sorted { $0.key < $1.key }.map { "\($0.key): errno \($0.value)" }
            return "no pcmd daemon is running (tried \(reasons.joined(separator: "; ")))"
        case .unusableSocketPath(let path):
            return "cannot use socket path \"\(path)\" (empty, over 107 bytes, or containing NUL)"
        case .system(let call, let errno): return "\(call) failed: errno \(errno)"
        case .refused(let reply): return "the daemon refused: \(reply)"
        case .disconnected(let reply):
            return reply.map { "disconnected by the daemon: \($0)" } ?? "the connection to pcmd is closed"
        case .protocolViolation(let error): return "the daemon sent an invalid message: \(error)"
        case .descriptors(let text): return "the daemon's descriptors: \(text)"
        case .sharedMemory(let error): return "the stream's shared memory: \(error)"
        case .unexpectedReply(let type): return "the daemon answered with an unexpected \(type)"
        case .streamClosed(let reply): return reply.map { "the stream was closed: \($0)" } ?? "the stream is closed"
        case .invalidArgument(let text): return text
        case .timedOut: return "timed out"
        }
    }
}
