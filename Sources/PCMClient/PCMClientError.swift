// Everything that can go wrong for a client of pcmd, as one typed error. Each case says whose
// fault it is: the caller's arguments, the system (socket calls), the daemon's answer, or a
// connection that ended.

import PCMBufferCore
import PCMClientCore
import PCMProtocol
import SystemPackage

/// Why a `PCMClient` call failed.
public enum PCMClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No daemon answered on any of these socket paths (each with the reason it failed).
    case noDaemon(tried: [String: Errno])
    /// The socket path cannot be used (empty, longer than 107 bytes, or containing NUL).
    case unusableSocketPath(String)
    /// A system call failed.
    case system(call: String, errno: Errno)
    /// The daemon refused the request and said why.
    case refused(ErrorReply)
    /// The connection is closed: by ``PCMConnection/close()``, by the daemon (with its reason,
    /// when it sent one), or because the socket failed.
    case disconnected(ErrorReply?)
    /// The daemon sent something that is not valid protocol.
    case protocolViolation(ProtocolError)
    /// The daemon answered with a message that does not answer the request.
    case unexpectedReply(MessageType)
    /// The stream is closed (by ``PlaybackStream/close()``, or by the daemon with its reason).
    case streamClosed(ErrorReply?)
    /// An argument is unusable (for example a write that is not a whole number of frames).
    case invalidArgument(String)
    /// The calling task was cancelled while waiting.
    case cancelled
    /// The stream's shared memory or descriptors, as the daemon sent them, cannot be used.
    case sharedMemory(String)
    /// A wait took longer than allowed.
    case timedOut

    /// Whether the error says the connection or the stream is over (closed by either side, or the
    /// daemon gone), as opposed to a refused request or a bad argument: the cue to reconnect.
    public var endsConnection: Bool {
        switch self {
        case .disconnected, .streamClosed: true
        case .system(call: _, errno: let code): code == .brokenPipe || code == .connectionReset
        default: false
        }
    }

    public var description: String {
        switch self {
        case .noDaemon(let tried):
            let reasons = tried.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            return "no pcmd daemon is running (tried \(reasons.joined(separator: "; ")))"
        case .unusableSocketPath(let path):
            return "cannot use socket path \"\(path)\" (empty, over 107 bytes, or containing NUL)"
        case .system(let call, let errno):
            return "\(call) failed: \(errno)"
        case .refused(let reply):
            return "the daemon refused: \(reply)"
        case .disconnected(let reply):
            return reply.map { "disconnected by the daemon: \($0)" } ?? "the connection to pcmd is closed"
        case .protocolViolation(let error):
            return "the daemon sent an invalid message: \(error)"
        case .unexpectedReply(let type):
            return "the daemon answered with an unexpected \(type)"
        case .streamClosed(let reply):
            return reply.map { "the stream was closed: \($0)" } ?? "the stream is closed"
        case .invalidArgument(let text):
            return text
        case .cancelled:
            return "cancelled"
        case .sharedMemory(let text):
            return "the stream's shared memory: \(text)"
        case .timedOut:
            return "timed out"
        }
    }
}

extension PCMClientError {
    /// The async error for an error of the synchronous core.
    init(_ error: ClientCoreError) {
        switch error {
        case .noDaemon(let tried): self = .noDaemon(tried: tried.mapValues { Errno(rawValue: $0) })
        case .unusableSocketPath(let path): self = .unusableSocketPath(path)
        case .system(let call, let code): self = .system(call: call, errno: Errno(rawValue: code))
        case .refused(let reply): self = .refused(reply)
        case .disconnected(let reply): self = .disconnected(reply)
        case .protocolViolation(let error): self = .protocolViolation(error)
        case .descriptors(let text): self = .sharedMemory(text)
        case .sharedMemory(let error): self = .sharedMemory(error.description)
        case .unexpectedReply(let type): self = .unexpectedReply(type)
        case .streamClosed(let reply): self = .streamClosed(reply)
        case .invalidArgument(let text): self = .invalidArgument(text)
        case .timedOut: self = .timedOut
        }
    }

    /// The reason handed to the core's stream when the async side closes it.
    var core: ClientCoreError {
        switch self {
        case .disconnected(let reply): .disconnected(reply)
        case .streamClosed(let reply): .streamClosed(reply)
        default: .disconnected(nil)
        }
    }
}
