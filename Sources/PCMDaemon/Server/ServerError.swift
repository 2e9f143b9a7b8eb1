// The socket server's error type: what can stop it from listening, said so that an operator
// knows what to do (another daemon is running, a file is in the way, a system call failed).

#if canImport(Glibc)
import Glibc
#endif

/// Why the socket server could not start or serve.
public enum ServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another daemon is answering on the socket; it is left alone.
    case alreadyRunning(path: String)
    /// Something that is not a socket sits at the socket's path; it is left alone.
    case pathOccupied(path: String)
    /// The path cannot hold a Unix socket address (too long, empty, NUL).
    case unusablePath(String)
    /// A user daemon has no socket path (no configured path and no XDG_RUNTIME_DIR).
    case noSocketPath
    /// A system call failed.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .alreadyRunning(let path):
            "another pcmd is already serving \(path); stop it first (its socket is left alone)"
        case .pathOccupied(let path):
            "\(path) exists and is not a socket; remove it or choose another socket path"
        case .unusablePath(let path):
            "cannot use \"\(path)\" as a socket path (empty, NUL, or over 107 bytes)"
        case .noSocketPath:
            "no socket path: XDG_RUNTIME_DIR is not set; give socket = PATH in the configuration"
        case .system(let call, let code):
            "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}
