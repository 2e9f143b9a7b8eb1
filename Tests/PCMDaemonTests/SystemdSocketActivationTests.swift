// Socket activation with real inherited descriptors: systemd-socket-activate (systemd's own tool
// for this) binds a socket, waits for a client, and execs the probe with the socket at
// descriptor 3 and LISTEN_FDS/LISTEN_PID set, exactly as pcmd.socket would start pcmd.
import PCMDaemon
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd socket activation")
struct SystemdSocketActivationTests {
    /// systemd-socket-activate, which comes with the systemd package (scripts/lib/deps.sh installs it).
    func activator() throws -> String {
        try #require(BuildProducts.which("systemd-socket-activate"), "systemd-socket-activate is missing: apt-get install systemd")
    }

    /// Reads everything the peer sends until it closes.
    func readAll(_ descriptor: FileDescriptor) throws -> String {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            if count == 0 { break }
            received += chunk[..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    @Test("an inherited listening Unix stream socket is taken at descriptor 3 and serves a client")
    func inheritedStreamSocket() async throws {
        let directory = try TemporaryDirectory()
        let socketPath = directory.path + "/socket"
        let child = try ChildProcess(try activator(), ["-l", socketPath, "--", BuildProducts.probe, "listen"])
        let client = try await UnixAddress.connect(to: socketPath)
        let greeting = try readAll(client)
        try client.close()
        let outcome = try await child.finish()
        #expect(greeting == "hello from the inherited socket\n")
        #expect(outcome.status == 0, "\(outcome.standardOutput)\(outcome.standardError)")
        // The environment is cleared so that no child of pcmd takes the socket for its own, and the
        // descriptor does not leak into children either.
        #expect(outcome.standardOutput.contains("socket fd=3 path=\(socketPath) env-cleared=true cloexec=true"))
    }

    @Test("without LISTEN_FDS there is no socket (pcmd binds its own)")
    func noSocket() async throws {
        let outcome = try await ChildProcess(BuildProducts.probe, ["listen"]).finish()
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("no-socket"))
    }

    @Test("descriptors meant for another process (LISTEN_PID) are not taken")
    func otherProcess() async throws {
        let outcome = try await ChildProcess(BuildProducts.probe, ["listen"], environment: ["LISTEN_PID": "1", "LISTEN_FDS": "1"]).finish()
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("no-socket"))
    }

    @Test("malformed LISTEN_FDS is a clear error", arguments: ["abc", "-1", "", "0"])
    func malformedCount(value: String) async throws {
        // `exec` keeps the shell's PID, so LISTEN_PID=$$ names the probe.
        let outcome = try await ChildProcess(
            "/bin/sh", ["-c", "LISTEN_PID=$$ LISTEN_FDS='\(value)' exec \"$0\" listen", BuildProducts.probe]
        ).finish()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("error: malformed LISTEN_FDS or LISTEN_PID"))
    }

    @Test("malformed LISTEN_PID is a clear error", arguments: ["abc", "0", "-3", ""])
    func malformedPID(value: String) async throws {
        let outcome = try await ChildProcess(BuildProducts.probe, ["listen"], environment: ["LISTEN_PID": value, "LISTEN_FDS": "1"]).finish()
        #expect(outcome.status == 2, "\(outcome.standardOutput)")
        #expect(outcome.standardOutput.contains("error: malformed LISTEN_FDS or LISTEN_PID"))
    }

    @Test("a datagram socket is refused: pcmd serves a listening stream socket")
    func datagramSocket() async throws {
        let directory = try TemporaryDirectory()
        let socketPath = directory.path + "/datagram"
        let child = try ChildProcess(try activator(), ["--datagram", "-l", socketPath, "--", BuildProducts.probe, "listen"])
        let sender = try await UnixAddress.connect(to: socketPath, type: CInt(SOCK_DGRAM.rawValue))
        _ = try sender.writeAll(Array("wake up".utf8))
        let outcome = try await child.finish()
        try sender.close()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("error: descriptor 3 passed by systemd is not a listening Unix stream socket"))
    }

    @Test("a connection passed inetd-style (Accept=yes) is refused")
    func acceptedConnection() async throws {
        let directory = try TemporaryDirectory()
        let socketPath = directory.path + "/accept"
        // inetd style: the activator accepts and runs one probe per connection, passing the
        // connection (not the listener) at descriptor 3; the probe's output goes to the activator's.
        let child = try ChildProcess(try activator(), ["--accept", "-l", socketPath, "--", BuildProducts.probe, "listen"])
        let client = try await UnixAddress.connect(to: socketPath)
        // The refused connection is closed by the probe, not served and not left hanging.
        #expect(try readAll(client) == "")
        try client.close()
        // The probe reports after closing the connection; the activator, which keeps listening for
        // more connections, is stopped only then.
        let reported = try await child.waitForOutput(containing: "is not a listening Unix stream socket")
        child.terminate()
        let outcome = try await child.finish()
        #expect(reported, "\(outcome)")
    }

    @Test("two sockets are refused: pcmd.socket has one ListenStream=")
    func twoSockets() async throws {
        let directory = try TemporaryDirectory()
        let first = directory.path + "/first"
        let second = directory.path + "/second"
        let child = try ChildProcess(try activator(), ["-l", first, "-l", second, "--", BuildProducts.probe, "listen"])
        let client = try await UnixAddress.connect(to: first)
        let outcome = try await child.finish()
        try client.close()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("error: systemd passed 2 sockets; pcmd serves exactly one"))
    }

    @Test("the errors name the descriptor and what to fix")
    func errorDescriptions() {
        #expect(SystemdSocketActivationError.notAUnixStreamListener(descriptor: 3).description.contains("Accept=no"))
        #expect(SystemdSocketActivationError.unexpectedDescriptorCount(2).description.contains("ListenStream="))
        #expect(SystemdSocketActivationError.invalidEnvironment(.invalidArgument).description.contains("LISTEN_FDS"))
        #expect(SystemdSocketActivationError.inspectionFailed(descriptor: 3, .badFileDescriptor).description.contains("descriptor 3"))
    }
}
