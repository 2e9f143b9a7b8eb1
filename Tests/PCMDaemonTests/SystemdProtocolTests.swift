// The systemd protocols pcmd speaks itself (NotifySocket, SystemdNotifier.watchdogTimeout,
// SystemdSocketActivation), where they go beyond what the end-to-end suites exercise: an abstract
// notification socket, an address that is not a Unix socket's, and the watchdog's variables as
// sd_watchdog_enabled(3) reads them. Each case runs in the probe, a process of its own, so that the
// environment it needs is not the test process's.
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd's protocols, spoken without libsystemd")
struct SystemdProtocolTests {
    /// Runs `pcmd-systemd-probe environment` with `environment`; its two report lines.
    private func probe(_ environment: [String: String]) async throws -> (watchdog: String, notify: String) {
        let outcome = try await ChildProcess(BuildProducts.probe, ["environment"], environment: environment).finish()
        #expect(outcome.status == 0, "\(outcome.standardOutput)\(outcome.standardError)")
        let lines = outcome.standardOutput.split(separator: "\n").map(String.init)
        let watchdog = lines.first { $0.hasPrefix("watchdog=") }.map { String($0.dropFirst(9)) } ?? "missing"
        let notify = lines.first { $0.hasPrefix("notify=") }.map { String($0.dropFirst(7)) } ?? "missing"
        return (watchdog, notify)
    }

    @Test("a notification reaches an abstract socket (NOTIFY_SOCKET=@name), as one datagram")
    func abstractSocket() async throws {
        let name = "pcmd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try AbstractDatagramSocket(name: name)
        let result = try await probe(["NOTIFY_SOCKET": "@" + name])
        #expect(result.notify == "true")
        #expect(receiver.receive() == "READY=1\nSTATUS=probe: environment")
    }

    @Test("no NOTIFY_SOCKET, or an empty one: nothing is sent and nothing fails")
    func noSocket() async throws {
        #expect(try await probe([:]).notify == "false")
        #expect(try await probe(["NOTIFY_SOCKET": ""]).notify == "false")
    }

    @Test("an address that is not a Unix socket's is refused with EAFNOSUPPORT, naming the failure")
    func foreignAddress() async throws {
        let result = try await probe(["NOTIFY_SOCKET": "vsock:2:1234"])
        #expect(result.notify.hasPrefix("error: sd_notify failed to reach the service manager"), "\(result.notify)")
        #expect(result.notify.contains("\(Errno(rawValue: EAFNOSUPPORT))"), "\(result.notify)")
    }

    @Test("a socket path longer than sun_path is refused with EINVAL, not truncated")
    func overlongPath() async throws {
        let result = try await probe(["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)])
        #expect(result.notify.contains("\(Errno(rawValue: EINVAL))"), "\(result.notify)")
    }

    @Test("WATCHDOG_USEC is the timeout; WATCHDOG_PID of another process turns it off")
    func watchdogVariables() async throws {
        #expect(try await probe(["WATCHDOG_USEC": "500000"]).watchdog == "\(Duration.microseconds(500_000))")
        #expect(try await probe(["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"]).watchdog == "off")
        #expect(try await probe([:]).watchdog == "off")
    }

    @Test("a malformed watchdog variable is a clear error", arguments: [
        ["WATCHDOG_USEC": "abc"], ["WATCHDOG_USEC": "0"], ["WATCHDOG_USEC": "-5"], ["WATCHDOG_USEC": "18446744073709551615"],
        ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "me"], ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "0"],
    ])
    func malformedWatchdog(environment: [String: String]) async throws {
        let result = try await probe(environment)
        #expect(result.watchdog.hasPrefix("error: malformed WATCHDOG_USEC or WATCHDOG_PID"), "\(environment): \(result.watchdog)")
    }
}

/// A datagram socket bound to a name in the abstract namespace (no file), read without blocking.
private final class AbstractDatagramSocket {
    private let descriptor: CInt

    init(name: String) throws {
        descriptor = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [0] + Array(name.utf8)  // a leading NUL: the abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw Errno(rawValue: errno) }
    }

    deinit { close(descriptor) }

    /// The datagram waiting, or nil when there is none.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count >= 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }
}
