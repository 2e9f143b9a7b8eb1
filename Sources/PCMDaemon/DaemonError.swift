// The errors the daemon itself raises (as opposed to the ALSA layer's or the configuration's),
// each carrying what a person needs to act on it.
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the daemon's own machinery.
public enum DaemonError: Error, Equatable, CustomStringConvertible {
    /// A system call failed.
    case system(call: String, errno: Int32)
    /// A device could not be opened or configured.
    case device(name: String, reason: String)
    /// A file the daemon was asked to use (source or sink) failed.
    case file(path: String, reason: String)

    public var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .device(let name, let reason): "device \(name): \(reason)"
        case .file(let path, let reason): "\(path): \(reason)"
        }
    }
}
