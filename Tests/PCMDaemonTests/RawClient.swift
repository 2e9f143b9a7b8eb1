// A connection to a real daemon that speaks the wire protocol byte by byte, for the tests of what
// PCMClient never does: sending nothing at all, half a message, a retired message type, a device
// number that does not exist, or requests followed at once by shutdown(SHUT_WR). Reads wait
// with poll() and a deadline, so a test that expects a reply fails after its timeout instead of
// hanging, and a test that expects the connection to be closed sees the end of the stream.
import Foundation
import PCMProtocol
import Testing

/// A raw protocol connection (blocking socket, reads bounded by deadlines). Not thread-safe:
/// one test task uses it.
final class RawClient {
    let fd: Int32
    private var framer = MessageFramer()
    /// Whether the daemon closed the connection (a read returned 0 or failed).
    private(set) var closedByDaemon = false

    /// Connects to the daemon's socket (the connection sits in the daemon's backlog until it
    /// accepts it; nothing is sent).
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
    }

    deinit { close(fd) }

    /// Sends all of `bytes` (a test failure if the daemon has gone).
    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                Issue.record("send failed: \(String(cString: strerror(errno)))")
                return
            }
            offset += count
        }
    }

    /// Encodes and sends `envelopes` in one write.
    func send(_ envelopes: Envelope...) throws {
        var bytes: [UInt8] = []
        for envelope in envelopes { try envelope.encode(appendingTo: &bytes) }
        send(bytes)
    }

    /// Shuts down the sending side: the daemon reads the end of the stream after what was sent.
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// The next message, or nil when the daemon closed the connection or `timeout` seconds
    /// passed first (check `closedByDaemon` to tell which).
    func receive(timeout: Double = 10) -> Envelope? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                if let envelope = try framer.next() { return envelope }
            } catch {
                Issue.record("the daemon sent an undecodable message: \(error)")
                return nil
            }
            if closedByDaemon { return nil }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(left * 1000 + 1, 60_000)))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            let space = framer.receiveBuffer()
            let count = read(fd, space.baseAddress, space.count)
            if count > 0 {
                framer.didReceive(count)
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                closedByDaemon = true
            }
        }
    }

    /// Every message until the daemon closes the connection, or until `timeout` seconds pass.
    func receiveUntilClosed(timeout: Double = 10) -> [Envelope] {
        let deadline = Date().addingTimeInterval(timeout)
        var messages: [Envelope] = []
        while let envelope = receive(timeout: max(0, deadline.timeIntervalSinceNow)) { messages.append(envelope) }
        return messages
    }

    /// The first `error` message that arrives (other messages are skipped), or nil.
    func receiveError(timeout: Double = 10) -> ErrorReply? {
        let deadline = Date().addingTimeInterval(timeout)
        while let envelope = receive(timeout: max(0, deadline.timeIntervalSinceNow)) {
            if case .error(let reply) = envelope.message { return reply }
        }
        return nil
    }

    /// Sends `hello` and waits for `welcome`; a test failure otherwise.
    func introduce(as name: String = "raw") throws {
        try send(Envelope(.hello(Hello(pid: UInt32(getpid()), clientName: name)), tag: 1))
        let reply = receive()
        guard case .welcome = reply?.message else {
            Issue.record("expected welcome, got \(String(describing: reply))")
            throw CancellationError()
        }
    }
}
