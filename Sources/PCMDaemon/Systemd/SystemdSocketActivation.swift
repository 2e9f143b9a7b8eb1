// Socket activation: when systemd (pcmd.socket, or `systemd-socket-activate`) started pcmd, the
// listening socket is already open at descriptor 3. pcmd serves that one, so clients that
// connected before pcmd was running (or while it restarted) are kept waiting, not refused. The
// protocol (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS, descriptors from 3) is read directly, as
// NotifySocket says why.
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The listening Unix stream socket systemd passed to pcmd.
///
/// It owns the descriptor: dropping it closes the socket. Hand it to the socket server with
/// ``take()``.
public struct SystemdListeningSocket: ~Copyable {
    /// The listening socket's descriptor (3 when systemd passed it).
    public let descriptor: FileDescriptor

    init(descriptor: FileDescriptor) {
        self.descriptor = descriptor
    }

    deinit {
        // Nothing was accepted through it by anyone else, so a failed close loses no data.
        _ = close(descriptor.rawValue)
    }

    /// Gives up ownership: the caller now closes the descriptor.
    public consuming func take() -> FileDescriptor {
        let descriptor = self.descriptor
        discard self
        return descriptor
    }

    /// The filesystem path the socket is bound to, or nil for an abstract or unnamed socket.
    ///
    /// The daemon logs it and compares it with the socket path it was configured with.
    /// The corresponding C function is `getsockname`.
    public func boundPath() -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor.rawValue, $0, &length) }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        guard result == 0, Int(length) > pathOffset else { return nil }
        return withUnsafeBytes(of: &address.sun_path) { raw in
            let bytes = raw.prefix(Int(length) - pathOffset)
            // An abstract socket's name starts with NUL; it has no path.
            guard let first = bytes.first, first != 0 else { return nil }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// Why the descriptors systemd passed cannot be served.
public enum SystemdSocketActivationError: Error, Hashable, CustomStringConvertible {
    /// `LISTEN_FDS` or `LISTEN_PID` is malformed (EINVAL, as `sd_listen_fds` says).
    case invalidEnvironment(Errno)
    /// systemd passed `count` descriptors; pcmd serves exactly one socket (one `ListenStream=`).
    case unexpectedDescriptorCount(Int)
    /// The passed descriptor is not a listening Unix stream socket (e.g. a datagram or TCP socket,
    /// or `Accept=yes` passed a connection).
    case notAUnixStreamListener(descriptor: CInt)
    /// The descriptor could not be inspected (`fstat`, `getsockopt` or `getsockname` failed with this errno).
    case inspectionFailed(descriptor: CInt, Errno)

    public var description: String {
        switch self {
        case .invalidEnvironment(let errno):
            "malformed LISTEN_FDS or LISTEN_PID in the environment: \(errno)"
        case .unexpectedDescriptorCount(let count):
            "systemd passed \(count) sockets; pcmd serves exactly one (check ListenStream= in pcmd.socket)"
        case .notAUnixStreamListener(let descriptor):
            "descriptor \(descriptor) passed by systemd is not a listening Unix stream socket (pcmd.socket needs ListenStream=<path> and Accept=no)"
        case .inspectionFailed(let descriptor, let errno):
            "cannot inspect descriptor \(descriptor) passed by systemd: \(errno)"
        }
    }
}

/// Taking over the listening socket systemd passed (the `LISTEN_FDS` protocol, `sd_listen_fds(3)`).
public enum SystemdSocketActivation {
    /// The listening Unix stream socket systemd passed to this process, or nil when none was
    /// passed (then pcmd binds its own socket).
    ///
    /// Call it once, early, before starting threads that might spawn children: it unsets
    /// `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`, so no child process mistakes the socket for
    /// its own, and marks the descriptor close-on-exec. Descriptors meant for another process
    /// (`LISTEN_PID` names someone else) are left alone and give nil.
    ///
    /// On an error, every passed descriptor is closed: none of them will be served.
    /// It does what `sd_listen_fds(1)` and `sd_is_socket_unix(3, SOCK_STREAM, 1, NULL, 0)` do.
    public static func takeListeningSocket() throws(SystemdSocketActivationError) -> SystemdListeningSocket? {
        let count = try passedDescriptorCount()
        if count == 0 { return nil }
        let first = firstPassedDescriptor
        guard count == 1 else {
            closeDescriptors(first..<first + count)
            throw .unexpectedDescriptorCount(Int(count))
        }
        do throws(SystemdSocketActivationError) {
            guard try isListeningUnixStreamSocket(first) else { throw .notAUnixStreamListener(descriptor: first) }
        } catch {
            closeDescriptors(first..<first + 1)
            throw error
        }
        return SystemdListeningSocket(descriptor: FileDescriptor(rawValue: first))
    }

    /// Where systemd puts the first passed descriptor (`SD_LISTEN_FDS_START`).
    static let firstPassedDescriptor: CInt = 3

    /// How many descriptors systemd passed to this process, each marked close-on-exec; the
    /// variables are unset whatever they said, so that no child takes them for its own.
    private static func passedDescriptorCount() throws(SystemdSocketActivationError) -> CInt {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }) else { return 0 }
        guard let pid = Int32(pidText), pid > 0 else { throw .invalidEnvironment(Errno(rawValue: EINVAL)) }
        // Passed to another process (a parent that was activated and did not clear them).
        guard pid == getpid() else { return 0 }
        guard let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }) else { return 0 }
        guard let count = CInt(countText), count > 0, count <= CInt.max - firstPassedDescriptor else {
            throw .invalidEnvironment(Errno(rawValue: EINVAL))
        }
        for descriptor in firstPassedDescriptor..<firstPassedDescriptor + count {
            let flags = fcntl(descriptor, F_GETFD)
            guard flags >= 0, fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) == 0 else {
                throw .inspectionFailed(descriptor: descriptor, Errno(rawValue: errno))
            }
        }
        return count
    }

    /// Whether `descriptor` is a listening Unix stream socket.
    private static func isListeningUnixStreamSocket(_ descriptor: CInt) throws(SystemdSocketActivationError) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .inspectionFailed(descriptor: descriptor, Errno(rawValue: errno)) }
        guard status.st_mode & S_IFMT == S_IFSOCK else { return false }
        func option(_ name: CInt) throws(SystemdSocketActivationError) -> CInt {
            var value: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            guard getsockopt(descriptor, SOL_SOCKET, name, &value, &length) == 0 else {
                throw .inspectionFailed(descriptor: descriptor, Errno(rawValue: errno))
            }
            return value
        }
        guard try option(SO_TYPE) == CInt(SOCK_STREAM.rawValue), try option(SO_ACCEPTCONN) != 0 else { return false }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw .inspectionFailed(descriptor: descriptor, Errno(rawValue: errno)) }
        return address.ss_family == sa_family_t(AF_UNIX)
    }

    /// Closes descriptors that were passed but will not be served, so they do not keep the
    /// socket unit's queue (or a client) waiting on this process.
    private static func closeDescriptors(_ range: Range<CInt>) {
        for descriptor in range {
            // Each is a socket this process was handed and never used; a failed close leaks
            // nothing more than the process, which is about to report the error and exit.
            _ = close(descriptor)
        }
    }
}
