// A real pcmd process serving clients on a socket in a test's own directory, on alsa-lib's
// file-backed PCMs, and the tools (pcmplay, pcmrec, pcmctl) run as child processes against it.
// Shared by the suites that talk to the daemon over its socket.
import Foundation
import PCMClient
import PCMClientCore
import PCMProtocol
import Testing

/// File-backed devices for the client tests: `playout` writes what is played to `out.raw`
/// (`playout2` to `out2.raw`, for tests of several devices); `capturein` captures the contents
/// of `in.raw`.
func clientFileDevices(in directory: URL) -> String {
    """
    pcm.playout { type file slave.pcm { type null } file "\(directory.path)/out.raw" format raw }
    pcm.playout2 { type file slave.pcm { type null } file "\(directory.path)/out2.raw" format raw }
    pcm.capturein { type file slave.pcm { type null } file "\(directory.path)/capture-copy.raw" infile "\(directory.path)/in.raw" format raw }
    """
}

/// A running daemon with a socket in its own directory.
struct ServedDaemon {
    let process: DaemonProcess
    let directory: URL
    var socket: String { directory.path + "/socket" }
    var pid: Int32 { process.process.processIdentifier }

    /// Starts pcmd with `arguments` and waits until its socket answers.
    static func start(_ arguments: [String], directory: URL, realtime: Bool = false) async throws -> ServedDaemon {
        let process = try DaemonProcess.start(arguments + ["--socket", directory.path + "/socket"],
                                              alsaConfig: clientFileDevices(in: directory), directory: directory, realtime: realtime)
        let daemon = ServedDaemon(process: process, directory: directory)
        for _ in 0..<300 {
            // The blocking client closes its socket before this returns (the async one leaves that to
            // its I/O thread): the daemon then sees the probe hang up before anything the test does
            // next, so tests that count connection places count exactly theirs (under TSan, a late
            // close once took the place of a test's idle connection).
            if (try? BlockingConnection.connect(path: daemon.socket, clientName: "probe")) != nil {
                return daemon
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.signal(SIGTERM)
        let result = try process.wait()
        Issue.record("the daemon never served its socket: \(result.log)")
        throw CancellationError()
    }

    /// Whether the daemon process is still running.
    var isRunning: Bool { process.process.isRunning }

    /// Stops the daemon with SIGTERM and returns its exit status and log.
    func stop() throws -> (status: Int32, log: String) {
        process.signal(SIGTERM)
        let result = try process.wait()
        return (result.status, result.log)
    }

    /// What the device `playout` (or the one writing `file`) received, as s16 samples.
    func playedSamples(file: String = "out.raw") throws -> [Int16] {
        samples(of: try Data(contentsOf: directory.appendingPathComponent(file)))
    }
}

/// Polls the daemon's stream listing until `condition` holds, for at most `seconds`.
func waitForStreams(_ connection: PCMConnection, seconds: Double, until condition: ([StreamInfo]) -> Bool) async throws -> [StreamInfo] {
    let deadline = Date().addingTimeInterval(seconds)
    var streams = try await connection.streams()
    while !condition(streams) && Date() < deadline {
        try await Task.sleep(for: .milliseconds(50))
        streams = try await connection.streams()
    }
    return streams
}

/// One of the client tools (pcmplay, pcmrec, pcmctl), built next to the test bundle.
struct ToolProcess {
    let process: Process
    private let output: PipeCollector
    private let errors: PipeCollector

    var pid: Int32 { process.processIdentifier }

    static func executable(_ name: String) -> URL {
        DaemonProcess.executable.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Starts `tool` with `arguments`; `input`, when given, is written to its standard input
    /// (then closed) from another thread, so a tool that reads slowly cannot deadlock the test.
    static func start(_ tool: String, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:]) throws -> ToolProcess {
        try start(executable(tool), arguments, input: input, environment: environment)
    }

    /// Starts the program at `path` (not one of the tools: e.g. an ALSA application such as aplay)
    /// with `arguments`, and `environment` over the test's own.
    static func start(program path: String, _ arguments: [String], environment: [String: String]) throws -> ToolProcess {
        try start(URL(fileURLWithPath: path), arguments, input: nil, environment: environment)
    }

    private static func start(_ executable: URL, _ arguments: [String], input: Data?, environment: [String: String]) throws -> ToolProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged["PCMD_SOCKET"] = nil  // only what the test passes decides which daemon is used
        merged.merge(environment) { $1 }
        process.environment = merged
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let stdinPipe = input.map { _ in Pipe() }
        process.standardInput = stdinPipe ?? FileHandle.nullDevice
        try process.run()
        if let input, let stdinPipe {
            let handle = stdinPipe.fileHandleForWriting
            Thread.detachNewThread {
                try? handle.write(contentsOf: input)  // a tool that quits early closes the pipe
                try? handle.close()
            }
        }
        // Collected from the start, so a tool writing a lot to a pipe is never blocked by the test.
        return ToolProcess(process: process, output: PipeCollector(stdoutPipe.fileHandleForReading),
                           errors: PipeCollector(stderrPipe.fileHandleForReading))
    }

    /// Runs the program at `path` (not one of the tools: e.g. a wrapper that runs a tool as
    /// another user) to completion within `timeout` seconds.
    static func run(_ path: String, arguments: [String], timeout: Double = 30) throws -> (status: Int32, stdout: Data, stderr: String) {
        try start(URL(fileURLWithPath: path), arguments, input: nil, environment: [:]).wait(timeout: timeout)
    }

    /// Runs `tool` to completion within `timeout` seconds.
    static func run(_ tool: String, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:],
                    timeout: Double = 30) throws -> (status: Int32, stdout: Data, stderr: String) {
        try start(tool, arguments, input: input, environment: environment).wait(timeout: timeout)
    }

    /// Waits for the tool to exit, killing it after `timeout` seconds (a test failure).
    func wait(timeout: Double = 30) throws -> (status: Int32, stdout: Data, stderr: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("\(process.executableURL?.lastPathComponent ?? "tool") did not exit within \(timeout) s")
        }
        process.waitUntilExit()
        return (process.terminationStatus, output.finish(), String(decoding: errors.finish(), as: UTF8.self))
    }
}

/// Reads a pipe to its end on its own thread.
final class PipeCollector: @unchecked Sendable {
    // Safety: `data` is written only by the reading thread before it signals `done`, and read
    // only by `finish()` after waiting for `done`.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func finish() -> Data {
        done.wait()
        return data
    }
}
