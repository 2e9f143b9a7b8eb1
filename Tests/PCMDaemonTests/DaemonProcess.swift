// Runs the real pcmd executable as a child process for the daemon tests, with its own ALSA
// configuration (so tests can define file-backed devices), and collects its exit status and log.
import Foundation
import Testing

/// A finished (or running) pcmd child process. Its log and output are read as they come, on
/// threads of their own: a daemon that logs more than a pipe holds (64 KiB: a few hundred
/// connections at info level) would otherwise block on its next log line.
struct DaemonProcess {
    let process: Process
    private let errors: PipeCollector
    private let output: PipeCollector

    /// The built pcmd next to the test bundle (`swift build --build-tests` builds both).
    static var executable: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("pcmd")
    }

    /// Starts pcmd with `arguments`; `alsaConfig` (text), when given, replaces alsa-lib's
    /// configuration for the child.
    /// `realtime` keeps pcmd's own default (SCHED_FIFO for its audio threads where allowed); tests
    /// otherwise turn it off so that many daemons started at once cannot starve the machine.
    static func start(_ arguments: [String], alsaConfig: String? = nil, directory: URL, realtime: Bool = false) throws -> DaemonProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments + (realtime ? [] : ["--rt-priority", "0"])
        var environment = ProcessInfo.processInfo.environment
        if let alsaConfig {
            let path = directory.appendingPathComponent("asound.conf")
            try alsaConfig.write(to: path, atomically: true, encoding: .utf8)
            environment["ALSA_CONFIG_PATH"] = path.path
        }
        environment["XDG_CONFIG_HOME"] = directory.path  // never read the developer's config
        environment["XDG_STATE_HOME"] = directory.path  // nor keep state (the default device) in the developer's
        process.environment = environment
        let stderrPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardError = stderrPipe
        process.standardOutput = stdoutPipe
        try process.run()
        return DaemonProcess(process: process, errors: PipeCollector(stderrPipe.fileHandleForReading),
                             output: PipeCollector(stdoutPipe.fileHandleForReading))
    }

    /// Runs pcmd to completion (it must stop by itself, e.g. with --duration) within `timeout` seconds.
    static func run(_ arguments: [String], alsaConfig: String? = nil, directory: URL, timeout: Double = 20) throws -> (status: Int32, log: String, output: String) {
        let child = try start(arguments, alsaConfig: alsaConfig, directory: directory)
        return try child.wait(timeout: timeout)
    }

    /// Waits for the process to exit, killing it after `timeout` seconds (a test failure).
    func wait(timeout: Double = 20) throws -> (status: Int32, log: String, output: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("pcmd did not exit within \(timeout) s")
        }
        process.waitUntilExit()
        let log = String(decoding: errors.finish(), as: UTF8.self)
        let text = String(decoding: output.finish(), as: UTF8.self)
        return (process.terminationStatus, log, text)
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }
}

/// A fresh temporary directory per test.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pcmd-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Deterministic pseudo-random s16 stereo frames (no silence, every bit pattern exercised).
func testFrames(count: Int, seed: UInt32 = 0x1234_5678) -> [Int16] {
    var state = seed
    return (0..<(count * 2)).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return Int16(truncatingIfNeeded: state >> 16)
    }
}

/// A minimal 16-bit PCM WAV file for `samples` (interleaved, `channels` channels).
func wavData(samples: [Int16], channels: Int = 2, rate: Int = 48_000) -> Data {
    var data = Data()
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    let bytes = UInt32(samples.count * 2)
    data.append(contentsOf: Array("RIFF".utf8)); u32(36 + bytes); data.append(contentsOf: Array("WAVE".utf8))
    data.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(UInt16(channels)); u32(UInt32(rate))
    u32(UInt32(rate * channels * 2)); u16(UInt16(channels * 2)); u16(16)
    data.append(contentsOf: Array("data".utf8)); u32(bytes)
    samples.withUnsafeBytes { data.append(contentsOf: $0) }
    return data
}

/// Interprets raw bytes as little-endian s16 samples.
func samples(of data: Data) -> [Int16] {
    data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
}

/// The s16 samples of a 16-bit WAV file written by pcmd's sink (data chunk located by name).
func wavSamples(at url: URL) throws -> [Int16] {
    let data = try Data(contentsOf: url)
    var offset = 12
    while offset + 8 <= data.count {
        let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
        let size = Int(data[(offset + 4)..<(offset + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        if id == "data" { return samples(of: data[(offset + 8)..<min(data.count, offset + 8 + size)]) }
        offset += 8 + size + (size & 1)
    }
    throw CocoaError(.fileReadCorruptFile)
}
