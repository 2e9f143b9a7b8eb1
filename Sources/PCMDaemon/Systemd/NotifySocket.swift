// systemd's notification protocol, spoken directly: one datagram of newline-separated
// assignments to the Unix socket named by $NOTIFY_SOCKET (sd_notify(3)). systemd documents the
// protocol, not its C wrapper, as the stable interface, and since the xz backdoor (CVE-2024-3094,
// which reached sshd through libsystemd's liblzma) asks daemons that only notify not to link
// libsystemd. pcmd did only that, plus socket activation and the watchdog's two variables, which
// are as simple: and Debian 12's libsystemd brought six more libraries (gcrypt, gpg-error, zstd,
// lzma, lz4, cap) into the real-time daemon, 1.1 MiB of its resident memory.
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The service manager's notification socket.
enum NotifySocket {
    /// Sends `message` to the socket `NOTIFY_SOCKET` names: a path, or an abstract socket written
    /// with a leading `@`.
    ///
    /// - Returns: false when `NOTIFY_SOCKET` is unset or empty (not started by systemd).
    /// - Throws: ``SystemdNotifyError/sendFailed(_:)`` with the errno: `EAFNOSUPPORT` for an
    ///   address that is not a Unix socket's, `EINVAL` for one too long, or the send's own.
    static func send(_ message: String) throws(SystemdNotifyError) -> Bool {
        guard let variable = getenv("NOTIFY_SOCKET"), variable.pointee != 0 else { return false }
        var name = Array(String(cString: variable).utf8)
        switch name.first {
        case UInt8(ascii: "/"): break
        case UInt8(ascii: "@"): name[0] = 0  // the abstract namespace
        default: throw .sendFailed(Errno(rawValue: EAFNOSUPPORT))
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard name.count <= MemoryLayout.size(ofValue: address.sun_path) else { throw .sendFailed(Errno(rawValue: EINVAL)) }
        withUnsafeMutableBytes(of: &address.sun_path) { path in path.copyBytes(from: name) }
        // An abstract name is exactly its bytes; a path may carry its NUL.
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count)

        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .sendFailed(Errno(rawValue: errno)) }
        defer { _ = close(descriptor) }
        let bytes = Array(message.utf8)
        let sent = bytes.withUnsafeBytes { body in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    sendto(descriptor, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), generic, length)
                }
            }
        }
        guard sent >= 0 else { throw .sendFailed(Errno(rawValue: errno)) }
        return true
    }
}
