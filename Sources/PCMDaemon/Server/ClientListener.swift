// The daemon's listening socket. Binding is careful: the socket's directory is created private,
// a lock file beside the socket says which daemon owns the path (so two daemons starting at once
// cannot both take it), a socket file left by a crashed daemon is replaced, and one a live daemon
// answers on is never stolen. Under systemd socket activation the listener adopts the inherited,
// already-bound descriptor instead and leaves the path to systemd.

#if canImport(Glibc)
import Glibc
#endif
import PCMProtocol

/// A listening Unix stream socket that accepts non-blocking client connections.
public struct ClientListener: ~Copyable {
    /// The listening descriptor (non-blocking).
    public let fd: Int32
    /// The socket's path (for logs; nil for an inherited socket whose path is unknown).
    public let path: String?
    /// Whether this listener created the path (and so removes it when closed).
    private let ownsPath: Bool
    /// The lock file held while the path is ours (-1 when inherited).
    private let lockFD: Int32
    /// The socket file's inode after bind, so closing never removes a newer daemon's socket.
    private let boundInode: ino_t

    /// Binds and listens on `path`.
    ///
    /// - Parameters:
    ///   - path: The socket path.
    ///   - mode: The socket file's permissions (0o600 for a user daemon, 0o660 for the system daemon).
    ///   - group: A group to give the socket (and a newly created directory) to, e.g. `audio`.
    public static func bind(path: String, mode: mode_t, group: UInt32? = nil) throws(ServerError) -> ClientListener {
        guard SocketLocation.isUsable(path) else { throw .unusablePath(path) }
        let directory = Self.directory(of: path)
        try Self.makeDirectory(directory, group: group)

        // The lock decides ownership; the connect probe below also protects against a daemon
        // that predates the lock file.
        let lockPath = path + ".lock"
        let lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw .system(call: "open(\(lockPath))", errno: errno) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(lockFD)
            if code == EWOULDBLOCK { throw .alreadyRunning(path: path) }
            throw .system(call: "flock(\(lockPath))", errno: code)
        }
        do throws(ServerError) {
            try Self.removeStaleSocket(at: path)
            let fd = try Self.makeListeningSocket(path: path, mode: mode, group: group)
            var status = stat()
            let inode: ino_t = lstat(path, &status) == 0 ? status.st_ino : 0
            return ClientListener(fd: fd, path: path, ownsPath: true, lockFD: lockFD, boundInode: inode)
        } catch {
            close(lockFD)
            throw error
        }
    }

    /// Adopts an already bound and listening socket (systemd socket activation). The path
    /// belongs to systemd: it is neither checked nor removed.
    public static func adopt(fd: Int32, path: String? = nil) throws(ServerError) -> ClientListener {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else {
            throw .system(call: "getsockopt(SO_TYPE)", errno: errno)
        }
        guard type == Int32(SOCK_STREAM.rawValue) else { throw .system(call: "inherited socket is not SOCK_STREAM", errno: EINVAL) }
        try Self.setNonBlocking(fd)
        return ClientListener(fd: fd, path: path, ownsPath: false, lockFD: -1, boundInode: 0)
    }

    private init(fd: Int32, path: String?, ownsPath: Bool, lockFD: Int32, boundInode: ino_t) {
        self.fd = fd
        self.path = path
        self.ownsPath = ownsPath
        self.lockFD = lockFD
        self.boundInode = boundInode
    }

    deinit {
        close(fd)
        if ownsPath, let path {
            // Remove the socket only if it is still the one we bound.
            var status = stat()
            if lstat(path, &status) == 0, status.st_ino == boundInode { unlink(path) }
            unlink(path + ".lock")
        }
        if lockFD >= 0 { close(lockFD) }  // releases the flock
    }

    /// Accepts one pending connection, or returns nil when none is waiting.
    /// The new descriptor is non-blocking and close-on-exec.
    public func accept() throws(ServerError) -> Int32? {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)  // cannot fail on a descriptor we just got
                do throws(ServerError) {
                    try Self.setNonBlocking(client)
                } catch {
                    close(client)
                    throw error
                }
                return client
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            // The peer gave up before we accepted, or the system is short of descriptors or
            // memory: the listener itself is fine, so the caller just tries again later.
            case ECONNABORTED, EPROTO, EMFILE, ENFILE, ENOBUFS, ENOMEM: return nil
            case let code: throw .system(call: "accept", errno: code)
            }
        }
    }

    // MARK: - Binding steps

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates the socket's directory if missing: 0700, or 0750 with `group` for a shared daemon.
    /// An existing directory is left as it is (systemd's RuntimeDirectory= made it).
    static func makeDirectory(_ directory: String, group: UInt32?) throws(ServerError) {
        var status = stat()
        if stat(directory, &status) == 0 { return }
        guard mkdir(directory, group == nil ? 0o700 : 0o750) == 0 || errno == EEXIST else {
            throw .system(call: "mkdir(\(directory))", errno: errno)
        }
        if let group, chown(directory, getuid(), group) != 0 {
            throw .system(call: "chown(\(directory))", errno: errno)
        }
    }

    /// Removes a socket file nobody answers on; refuses a live socket or a non-socket file.
    static func removeStaleSocket(at path: String) throws(ServerError) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw .system(call: "lstat(\(path))", errno: errno)
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else { throw .pathOccupied(path: path) }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw .system(call: "socket", errno: errno) }
        defer { close(probe) }
        let connected = withAddress(path) { address, length in connect(probe, address, length) }
        if connected == 0 { throw .alreadyRunning(path: path) }
        guard errno == ECONNREFUSED || errno == ENOENT else {
            throw .system(call: "connect(\(path))", errno: errno)
        }
        guard unlink(path) == 0 || errno == ENOENT else { throw .system(call: "unlink(\(path))", errno: errno) }
    }

    static func makeListeningSocket(path: String, mode: mode_t, group: UInt32?) throws(ServerError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(call: "socket", errno: errno) }
        do throws(ServerError) {
            guard withAddress(path, { address, length in Glibc.bind(fd, address, length) }) == 0 else {
                throw .system(call: "bind(\(path))", errno: errno)
            }
            // The directory is private, so the moment between bind and chmod exposes nothing.
            guard chmod(path, mode) == 0 else { throw .system(call: "chmod(\(path))", errno: errno) }
            if let group, chown(path, getuid(), group) != 0 { throw .system(call: "chown(\(path))", errno: errno) }
            guard listen(fd, 64) == 0 else { throw .system(call: "listen", errno: errno) }
            try setNonBlocking(fd)
            return fd
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
    }

    static func setNonBlocking(_ fd: Int32) throws(ServerError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .system(call: "fcntl(O_NONBLOCK)", errno: errno)
        }
    }

    /// Calls `body` with a `sockaddr_un` for `path` (which fits: checked by `isUsable`).
    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: path.utf8) }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
