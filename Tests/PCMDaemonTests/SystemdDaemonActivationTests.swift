// pcmd itself under systemd's protocols, end to end: started by systemd-socket-activate (as
// pcmd.socket would start it), it serves the inherited socket to a real client, reports READY=1
// with a STATUS= line and keeps that line current, pings the watchdog while its audio thread
// streams, and says STOPPING=1 when SIGTERM stops it.
import PCMClient
import PCMProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("pcmd under systemd socket activation")
struct SystemdDaemonActivationTests {
    @Test("socket-activated pcmd serves a client on the inherited socket and speaks sd_notify")
    func socketActivatedDaemon() async throws {
        let activator = try #require(BuildProducts.which("systemd-socket-activate"), "apt-get install systemd")
        let directory = try TemporaryDirectory()
        let socketPath = directory.path + "/socket"
        let receiver = try NotifySocketReceiver(path: directory.path + "/notify")
        let pcmd = BuildProducts.directory + "/pcmd"
        // systemd-socket-activate passes only the variables given with -E (like a unit's Environment=).
        let child = try ChildProcess(activator, [
            "-l", socketPath,
            "-E", "NOTIFY_SOCKET=\(receiver.path)", "-E", "WATCHDOG_USEC=1000000",
            "-E", "XDG_CONFIG_HOME=\(directory.path)",  // never read the developer's config
            "--", pcmd, "--device", "null", "--socket", socketPath, "--rt-priority", "0",
        ])

        // The socket exists before pcmd runs; the first connection starts pcmd, which must find
        // the client waiting in the inherited socket's queue.
        for _ in 0..<3_000 where access(socketPath, F_OK) != 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let connection = try await PCMConnection.connect(path: socketPath, clientName: "systemd activation test")
        let devices = try await connection.devices()
        #expect(devices.map(\.name) == ["null"])
        connection.close()

        var messages: [String] = []
        while messages.filter({ $0 == "WATCHDOG=1" }).count < 2 {
            guard let message = try await receiver.receive(within: .seconds(30)) else {
                Issue.record("no WATCHDOG=1 pings within 30 s: \(messages)")
                break
            }
            messages.append(message)
        }
        child.terminate()
        while messages.last != "STOPPING=1", let message = try await receiver.receive(within: .seconds(30)) {
            messages.append(message)
        }
        let outcome = try await child.finish()

        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(messages.first == "READY=1\nSTATUS=null s16 48000 Hz 2 ch, playback, period 1024", "\(messages)")
        #expect(messages.last == "STOPPING=1", "\(messages)")
        // The status line follows the audio thread: its state and its xruns.
        #expect(messages.contains("STATUS=null s16 48000 Hz 2 ch, playback, period 1024; playback streaming, 0 xruns"), "\(messages)")
        #expect(outcome.standardError.contains("serving the socket systemd passed socket.path=\(socketPath)"))
        // pcmd served the inherited socket: it never bound one of its own (no lock file beside it).
        #expect(access(socketPath + ".lock", F_OK) != 0)
    }
}
