// Running pcmd-systemd-probe (Tests/SystemdProbe) as a child process, the way systemd runs pcmd:
// with an inherited socket, NOTIFY_SOCKET, WATCHDOG_USEC and JOURNAL_STREAM in *its* environment,
// never in this test process's (other suites run in parallel and must not see them). Also a
// receiver for the NOTIFY_SOCKET datagrams, standing in for systemd.
import Foundation
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A private directory under /tmp, removed with everything in it when dropped.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/pcmd-systemd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Errno(rawValue: errno) }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)  // best effort: /tmp is cleaned anyway
    }
}

/// Where the test binaries and the probe are built (the directory of this test executable).
enum BuildProducts {
    static var directory: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let executable = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        return String(executable[..<(executable.lastIndex(of: "/") ?? executable.endIndex)])
    }

    static var probe: String { directory + "/pcmd-systemd-probe" }

    /// The path of a program on this machine's PATH, or nil.
    static func which(_ program: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] {
            let candidate = directory + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// What a finished child process left behind.
struct ChildOutcome {
    /// The exit status, or 128 + the signal number when a signal ended it (as a shell reports it).
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// A pipe whose read end this process drains while a child writes into the other end.
final class OutputPipe {
    let readEnd: CInt
    private(set) var writeEnd: CInt
    private(set) var collected: [UInt8] = []

    init() throws {
        var ends: [CInt] = [-1, -1]
        // pipe2 is hidden behind _GNU_SOURCE. A child spawned by a parallel test between pipe and
        // fcntl may inherit an end; harmless, since children are waited for with waitpid, not EOF.
        guard pipe(&ends) == 0 else { throw Errno(rawValue: errno) }
        readEnd = ends[0]
        writeEnd = ends[1]
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(readEnd)
        closeWriteEnd()
    }

    /// `JOURNAL_STREAM` naming this pipe (both ends share one inode): what systemd sets when a
    /// service's stderr is connected to the journal.
    func journalStream() throws -> String {
        var status = stat()
        guard fstat(readEnd, &status) == 0 else { throw Errno(rawValue: errno) }
        return "\(status.st_dev):\(status.st_ino)"
    }

    /// Closes this process's copy of the write end, so the reader sees end-of-file when the child exits.
    func closeWriteEnd() {
        if writeEnd >= 0 { close(writeEnd) }
        writeEnd = -1
    }

    /// Reads what is available without blocking.
    func drain() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            collected += chunk[..<count]
        }
    }

    var text: String { String(decoding: collected, as: UTF8.self) }
}

/// A child process started with posix_spawn: captured output, an explicit minimal environment,
/// default signal handling and an empty signal mask (whatever this test process blocks).
final class ChildProcess {
    let pid: pid_t
    private let output: OutputPipe
    private let errorOutput: OutputPipe
    private var outcome: ChildOutcome?

    /// Starts `executable` with exactly `environment` plus PATH, stdin from /dev/null.
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], errorOutput: OutputPipe? = nil) throws {
        output = try OutputPipe()
        self.errorOutput = try errorOutput ?? OutputPipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output.writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, self.errorOutput.writeEnd, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let fullEnvironment = environment.merging(["PATH": "/usr/local/bin:/usr/bin:/bin"]) { own, _ in own }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = fullEnvironment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        output.closeWriteEnd()
        self.errorOutput.closeWriteEnd()
        guard result == 0 else { throw Errno(rawValue: result) }
        pid = child
    }

    deinit {
        // A test that failed early must not leave its child running.
        if outcome == nil {
            kill(pid, SIGKILL)
            var status: CInt = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Waits until the child (or a child of it sharing its stdout) has written `text`; false after `limit`.
    func waitForOutput(containing text: String, within limit: Duration = .seconds(30)) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            output.drain()
            if output.text.contains(text) { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// Sends SIGTERM, as systemd does to stop a service.
    func terminate() {
        kill(pid, SIGTERM)
    }

    /// Waits for the child to exit (killing it after `limit`, which fails the test), then returns
    /// its status and everything it wrote.
    func finish(within limit: Duration = .seconds(60)) async throws -> ChildOutcome {
        if let outcome { return outcome }
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var status: CInt = 0
        while true {
            output.drain()
            errorOutput.drain()
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            guard waited == 0 else { throw Errno(rawValue: errno) }
            if clock.now >= deadline {
                Issue.record("child \(pid) did not exit within \(limit); killed")
                kill(pid, SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        output.drain()
        errorOutput.drain()
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        let result = ChildOutcome(status: code, standardOutput: output.text, standardError: errorOutput.text)
        outcome = result
        return result
    }
}

/// The service manager's end of NOTIFY_SOCKET: a Unix datagram socket that collects messages.
final class NotifySocketReceiver {
    let path: String
    private let descriptor: CInt

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        try UnixAddress.with(path: path) { address, length in
            guard bind(descriptor, address, length) == 0 else { throw Errno(rawValue: errno) }
        }
    }

    deinit {
        close(descriptor)
    }

    /// The next message, or nil when none arrived within `limit`.
    func receive(within limit: Duration) async throws -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return String(decoding: buffer[..<count], as: UTF8.self) }
            guard errno == EAGAIN || errno == EINTR else { throw Errno(rawValue: errno) }
            if clock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// Building `sockaddr_un` for a filesystem path.
enum UnixAddress {
    static func with<T>(path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) throws -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Errno.fileNameTooLong }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Connects a new socket of `type` to `path`, retrying while the path does not exist yet
    /// (the activator binds it just after starting), and returns it.
    static func connect(to path: String, type: Int32 = CInt(SOCK_STREAM.rawValue), within limit: Duration = .seconds(30)) async throws -> FileDescriptor {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while true {
            let descriptor = socket(AF_UNIX, type | CInt(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { throw Errno(rawValue: errno) }
            let result = try with(path: path) { Glibc.connect(descriptor, $0, $1) }
            if result == 0 {
                // A test that waits for a reply must fail, not hang, when none comes.
                var timeout = timeval(tv_sec: 30, tv_usec: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return FileDescriptor(rawValue: descriptor)
            }
            let failure = Errno(rawValue: errno)
            close(descriptor)
            guard failure == .noSuchFileOrDirectory || failure == .connectionRefused, clock.now < deadline else { throw failure }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

@Suite("systemd probe fixture")
struct SystemdProbeTests {
    @Test("the probe is built next to the tests and refuses an unknown mode")
    func usage() async throws {
        let child = try ChildProcess(BuildProducts.probe, ["nonsense"])
        let outcome = try await child.finish()
        #expect(outcome.status == 64)
        #expect(outcome.standardOutput.contains("usage: pcmd-systemd-probe listen|notify"))
    }

    @Test("the notify scenario refuses to run without a watchdog")
    func notifyNeedsWatchdog() async throws {
        let child = try ChildProcess(BuildProducts.probe, ["notify"])
        let outcome = try await child.finish()
        #expect(outcome.status == 2)
        #expect(outcome.standardOutput.contains("no watchdog"))
    }
}
