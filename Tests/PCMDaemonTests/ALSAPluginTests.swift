// The ALSA plugin as users meet it: unmodified ALSA applications (aplay, arecord, speaker-test,
// sox, alsabat, GStreamer) open the device `pcmd` that the repository's alsa/50-pcmd.conf defines,
// with the plugin built next to these tests, against a real pcmd on alsa-lib's file PCMs.
// Equal formats must arrive bit-exactly in the daemon's output (and in a recording); a 44.1 kHz
// file plays in real time on the 48 kHz daemon; a stalled application gets its own underrun and
// recovers; a daemon killed under an application ends it with an error, not a hang; without a
// daemon the open fails clearly or opens the configured fallback; an unknown key is refused.
import Foundation
import PCMClient
import PCMProtocol
import Testing

/// An ALSA application's environment: alsa-lib's own configuration, then the repository's
/// alsa/50-pcmd.conf (the file `make install` installs, so that it is what is tested), then the
/// test's own devices; the plugin from the build directory; the daemon on `socket`, if any.
struct PluginEnvironment {
    let directory: URL
    let variables: [String: String]

    /// The folder holding the built plugin: the build directory (`swift build --build-tests`
    /// builds the plugin's dynamic library product there, next to pcmd).
    static var pluginDirectory: URL { DaemonProcess.executable.deletingLastPathComponent() }

    static var pluginPath: String { pluginDirectory.appendingPathComponent("libasound_module_pcm_pcmd.so").path }

    /// The checkout: this file is Tests/PCMDaemonTests/ALSAPluginTests.swift in it.
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A socket path in `directory` that no daemon serves.
    static func absentSocket(in directory: URL) -> String { directory.path + "/no-daemon-here" }

    /// Devices of the test's own, each a `type pcmd` block as a user would write one.
    static func testDevices(in directory: URL) -> String {
        let absent = absentSocket(in: directory)
        return """
        pcm.pcmd_absent { type pcmd socket "\(absent)" }
        pcm.pcmd_fallback { type pcmd socket "\(absent)" fallback "null" }
        pcm.pcmd_badkey { type pcmd no_such_key 1 }
        pcm.pcmd_named { type pcmd name "named-in-asoundrc" }
        pcm.pcmd_queued { type pcmd latency_ms 300 }

        """
    }

    /// The environment for applications in `directory`, talking to the daemon on `socket`
    /// (none: PCMD_SOCKET unset, and no user daemon can be found either). `optInToDefault`
    /// includes alsa/99-pcmd-default.conf from `~/.asoundrc` (HOME is `directory`): read after
    /// /etc/alsa/conf.d, where another server's default (pipewire-alsa's 99-pipewire-default.conf)
    /// would otherwise win over it.
    init(directory: URL, socket: String?, optInToDefault: Bool = false) throws {
        try #require(FileManager.default.fileExists(atPath: Self.pluginPath),
                     "the ALSA plugin was not built: \(Self.pluginPath) is missing (swift build --build-tests builds it)")
        let config = directory.appendingPathComponent("alsa-devices.conf")
        try Self.testDevices(in: directory).write(to: config, atomically: true, encoding: .utf8)
        let repositoryConfig = Self.repository.appendingPathComponent("alsa/50-pcmd.conf").path
        let asoundrc = directory.appendingPathComponent(".asoundrc")
        if optInToDefault {
            let optIn = Self.repository.appendingPathComponent("alsa/99-pcmd-default.conf").path
            try "<\(optIn)>\n".write(to: asoundrc, atomically: true, encoding: .utf8)
        } else if FileManager.default.fileExists(atPath: asoundrc.path) {
            try FileManager.default.removeItem(at: asoundrc)
        }
        var variables = [
            "ALSA_PLUGIN_DIR": Self.pluginDirectory.path,
            "ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:\(repositoryConfig):\(config.path)",
            // Never the developer's own daemon, ~/.asoundrc or ~/.config/alsa/asoundrc.
            "XDG_RUNTIME_DIR": directory.path,
            "HOME": directory.path,
            "XDG_CONFIG_HOME": directory.path,
            // alsabat 1.2.8 fails before opening anything in a UTF-8 locale (a stale errno).
            "LC_ALL": "C",
        ]
        if let socket { variables["PCMD_SOCKET"] = socket }
        // Under scripts/sanitize the plugin is instrumented, and an application that is not cannot
        // load it without the sanitizer's runtime: preload it, so the plugin is checked inside the
        // real applications. Their own leaks (alsa-lib's global config cache) are not pcmd's.
        let parent = ProcessInfo.processInfo.environment
        if let runtime = parent["PCMD_SANITIZER_RUNTIME"] {
            variables["LD_PRELOAD"] = runtime
            if let options = parent["ASAN_OPTIONS"] { variables["ASAN_OPTIONS"] = options + ":detect_leaks=0" }
        }
        self.directory = directory
        self.variables = variables
    }

    /// Starts `program` (a path, e.g. /usr/bin/aplay) in this environment.
    func start(_ program: String, _ arguments: [String]) throws -> ToolProcess {
        try #require(FileManager.default.isExecutableFile(atPath: program), "\(program) is not installed (scripts/lib/deps.sh lists its package)")
        return try ToolProcess.start(program: program, arguments, environment: variables)
    }

    /// Runs `program` to completion within `timeout` seconds; also returns how long it took.
    func run(_ program: String, _ arguments: [String], timeout: Double = 30) throws -> AppResult {
        let started = Date()
        let child = try start(program, arguments)
        let result = try child.wait(timeout: timeout)
        return AppResult(status: result.status, stdout: result.stdout, stderr: result.stderr, seconds: Date().timeIntervalSince(started))
    }
}

/// How an application run ended.
struct AppResult: CustomStringConvertible {
    let status: Int32
    let stdout: Data
    let stderr: String
    let seconds: Double

    var description: String {
        String(format: "exit status %d after %.2f s; stderr: ", status, seconds) + (stderr.isEmpty ? "(empty)" : stderr)
    }
}

private let aplay = "/usr/bin/aplay"
private let arecord = "/usr/bin/arecord"

/// Where `frames` start in `output` (a whole frame), or nil.
private func offset(of frames: [Int16], in output: [Int16]) -> Int? {
    var searchFrom = output.startIndex
    let probe = Array(frames.prefix(64))
    while let range = output[searchFrom...].firstRange(of: probe) {
        if range.lowerBound % 2 == 0 { return range.lowerBound }
        searchFrom = range.lowerBound + 1
    }
    return nil
}

/// Asserts that the daemon's output is silence, then `frames` bit for bit, then silence: nothing
/// lost, changed, repeated or added.
private func expectPlayedExactly(_ frames: [Int16], by daemon: ServedDaemon, _ what: String) throws {
    let output = try daemon.playedSamples()
    // Locals only inside #require/#expect: a failure expands its expression, and these arrays are long.
    let found = offset(of: frames, in: output)
    let start = try #require(found, "\(what): the file's first frames are not in the daemon's output (\(output.count / 2) frames, \(output.filter { $0 != 0 }.count) non-zero samples)")
    try #require(output.count >= start + frames.count, "\(what): only \((output.count - start) / 2) of \(frames.count / 2) frames reached the device")
    let played = Array(output[start..<(start + frames.count)])
    let firstDifference = zip(played, frames).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    #expect(firstDifference == nil, "\(what): not bit-exact from sample \(firstDifference ?? 0) of \(frames.count)")
    let silentBefore = output[..<start].allSatisfy { $0 == 0 }
    let silentAfter = output[(start + frames.count)...].allSatisfy { $0 == 0 }
    #expect(silentBefore, "\(what): something other than silence came before the file")
    #expect(silentAfter, "\(what): something other than silence followed the file")
}

/// Asserts that `recorded` is one contiguous piece of `input`, and returns where it starts.
@discardableResult
private func expectRecorded(_ recorded: [Int16], from input: [Int16], _ what: String) throws -> Int {
    let count = recorded.count
    try #require(count >= 64, "\(what): only \(count) samples recorded")
    let found = offset(of: recorded, in: input)
    let start = try #require(found, "\(what): the recording's first frames are not in the daemon's input")
    let fits = start + count <= input.count
    try #require(fits, "\(what): the recording runs past the input")
    let exact = Array(input[start..<(start + count)]) == recorded
    #expect(exact, "\(what): not bit-exact")
    return start
}

/// The daemon's output between its first and last non-silent sample.
private func heardSamples(of daemon: ServedDaemon) throws -> ArraySlice<Int16> {
    let output = try daemon.playedSamples()
    let first = try #require(output.firstIndex { $0 != 0 }, "nothing but silence reached the device")
    let last = try #require(output.lastIndex { $0 != 0 })
    return output[first...last]
}

/// Runs of at least `minimum` silent frames inside `heard` (frames from its start, length): the
/// dropouts an underrun leaves in a signal that has no silence of its own.
private func silentGaps(in heard: ArraySlice<Int16>, atLeast minimum: Int) -> [(start: Int, frames: Int)] {
    var gaps: [(start: Int, frames: Int)] = []
    var runStart: Int?
    for frame in 0..<(heard.count / 2) {
        let index = heard.startIndex + frame * 2
        let silent = heard[index] == 0 && heard[index + 1] == 0
        if silent, runStart == nil { runStart = frame }
        if !silent, let start = runStart {
            if frame - start >= minimum { gaps.append((start, frame - start)) }
            runStart = nil
        }
    }
    return gaps
}

/// Measures the tone in the middle half second of what the daemon played, left channel.
private func measureTone(playedBy daemon: ServedDaemon) throws -> ToneMeasurement {
    let heard = try heardSamples(of: daemon)
    let frames = heard.count / 2
    try #require(frames >= 48_000, "only \(frames) frames of sound reached the device")
    let middle = heard.startIndex + (frames / 2 - 12_000) * 2
    let left = stride(from: middle, to: middle + 48_000, by: 2).map { Double(heard[$0]) }
    return try #require(ToneMeasurement.measure(left, rate: 48_000), "no tone in what reached the device")
}

/// The daemon's stream that `matches`, once it exists (polled through the daemon's listing).
private func waitForStream(on daemon: ServedDaemon, timeout: Double = 10,
                           _ matches: (StreamInfo) -> Bool) async throws -> StreamInfo? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "plugin-test-probe")
        let streams = try await connection.streams()
        connection.close()
        if let found = streams.first(where: matches) { return found }
        try await Task.sleep(for: .milliseconds(50))
    }
    return nil
}

/// Writes `frames` (s16 stereo) as a WAV file at `rate` and returns its path.
private func writeWAV(_ frames: [Int16], rate: Int = 48_000, named name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try wavData(samples: frames, rate: rate).write(to: url)
    return url.path
}

@Suite("the ALSA plugin under real ALSA applications", .serialized, .timeLimit(.minutes(3)))
struct ALSAPluginTests {
    static let playbackDaemon = ["--device", "playout", "--period", "256"]
    static let captureDaemon = ["--device", "capturein", "--mode", "capture", "--period", "256"]

    @Test("aplay -L lists the device pcmd that alsa/50-pcmd.conf defines")
    func listed() throws {
        let dir = try temporaryDirectory()
        let apps = try PluginEnvironment(directory: dir, socket: nil)
        let result = try apps.run(aplay, ["-L"])
        #expect(result.status == 0, "\(result)")
        let lines = String(decoding: result.stdout, as: UTF8.self).split(separator: "\n")
        let index = try #require(lines.firstIndex(of: "pcmd"), "aplay -L does not list pcmd: \(lines)")
        #expect(index + 1 < lines.count && lines[index + 1].contains("pcmd sound server"), "\(lines)")
    }

    @Test("aplay -D pcmd of a 48 kHz s16 stereo WAV reaches the device bit-exactly, in real time",
          arguments: [[], ["-M"], ["-N"]])
    func aplayBitExact(mode: [String]) async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let frames = testFrames(count: 48_000, seed: 101)
        let file = try writeWAV(frames, named: "one-second.wav", in: dir)
        let result = try apps.run(aplay, ["-q", "-D", "pcmd"] + mode + [file])
        let stopped = try daemon.stop()
        #expect(stopped.status == 0, "\(stopped.log)")
        #expect(result.status == 0, "aplay \(mode): \(result)")
        #expect(result.stderr.isEmpty, "aplay \(mode) complained: \(result)")
        // Paced by the daemon: a second of audio takes a second (aplay drains before it exits).
        #expect(result.seconds >= 0.9 && result.seconds < 4, "aplay \(mode) played 1 s in \(result.seconds) s")
        try expectPlayedExactly(frames, by: daemon, "aplay -D pcmd \(mode.joined())")
    }

    @Test("aplay -I (non-interleaved: one raw file per channel) reaches the device bit-exactly, interleaved")
    func aplayNoninterleaved() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let frames = testFrames(count: 48_000, seed: 114)
        var paths: [String] = []
        for channel in 0..<2 {
            let one = stride(from: channel, to: frames.count, by: 2).map { frames[$0] }
            let url = dir.appendingPathComponent("channel\(channel).raw")
            try one.withUnsafeBytes { try Data($0).write(to: url) }
            paths.append(url.path)
        }
        let result = try apps.run(aplay, ["-q", "-D", "pcmd", "-I", "-t", "raw", "-f", "S16_LE", "-r", "48000", "-c", "2"] + paths)
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)")
        try expectPlayedExactly(frames, by: daemon, "aplay -I -D pcmd")
    }

    @Test("arecord -I (non-interleaved: one file per channel) records what the daemon captures, bit for bit")
    func arecordNoninterleaved() async throws {
        let dir = try temporaryDirectory()
        let input = testFrames(count: 480_000, seed: 115)
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(Self.captureDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let take = dir.appendingPathComponent("take.raw")
        let result = try apps.run(arecord, ["-q", "-D", "pcmd", "-I", "-t", "raw", "-f", "S16_LE", "-r", "48000", "-c", "2", "-d", "1", take.path])
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)")
        // arecord -I names the files take.raw.0 and take.raw.1.
        let left = samples(of: try Data(contentsOf: URL(fileURLWithPath: take.path + ".0")))
        let right = samples(of: try Data(contentsOf: URL(fileURLWithPath: take.path + ".1")))
        #expect(left.count == 48_000 && right.count == 48_000, "\(left.count) and \(right.count) samples for -d 1")
        let interleaved = zip(left, right).flatMap { [$0, $1] }
        try expectRecorded(interleaved, from: input, "arecord -I -D pcmd")
    }

    @Test("opted in with 99-pcmd-default.conf, plain aplay (the default device) plays a U8 file through plug and pcmd, exactly converted")
    func defaultOptIn() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket, optInToDefault: true)
        // U8, which pcmd does not take: only plug can convert it, and exactly (v - 128) << 8.
        let bytes = testFrames(count: 48_000, seed: 113).map { UInt8(truncatingIfNeeded: $0) }
        var wav = wavData(samples: [], channels: 2)
        wav.replaceSubrange(34..<36, with: [8, 0])  // bits per sample
        wav.replaceSubrange(28..<32, with: withUnsafeBytes(of: UInt32(48_000 * 2).littleEndian) { Array($0) })  // byte rate
        wav.replaceSubrange(32..<34, with: [2, 0])  // block align
        wav.replaceSubrange(40..<44, with: withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { Array($0) })
        wav.replaceSubrange(4..<8, with: withUnsafeBytes(of: UInt32(36 + bytes.count).littleEndian) { Array($0) })
        wav.append(contentsOf: bytes)
        let file = dir.appendingPathComponent("u8.wav")
        try wav.write(to: file)
        let result = try apps.run(aplay, ["-q", file.path])
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)")
        let expected = bytes.map { Int16(Int($0) - 128) << 8 }
        try expectPlayedExactly(expected, by: daemon, "aplay (default, opted in) of a U8 file")
    }

    @Test("a 44.1 kHz file on the 48 kHz daemon plays in about its duration, all of it")
    func aplayResampled() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let file = try writeWAV(testFrames(count: 2 * 44_100, seed: 102), rate: 44_100, named: "cd.wav", in: dir)
        let result = try apps.run(aplay, ["-q", "-D", "pcmd", file])
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)")
        #expect(result.seconds >= 1.9 && result.seconds < 5, "2 s at 44.1 kHz took \(result.seconds) s")
        let heardFrames = try heardSamples(of: daemon).count / 2
        #expect(abs(heardFrames - 2 * 48_000) < 2048, "\(heardFrames) frames at 48 kHz heard for 2 s of audio")
    }

    @Test("arecord -D pcmd records exactly what the daemon captures, bit for bit", arguments: [[], ["-M"]])
    func arecordBitExact(mode: [String]) async throws {
        let dir = try temporaryDirectory()
        let input = testFrames(count: 480_000, seed: 103)  // 10 s: more than startup plus the take
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(Self.captureDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let take = dir.appendingPathComponent("take.wav")
        let result = try apps.run(arecord, ["-q", "-D", "pcmd", "-f", "S16_LE", "-r", "48000", "-c", "2", "-d", "1"] + mode + [take.path])
        _ = try daemon.stop()
        #expect(result.status == 0, "arecord \(mode): \(result)")
        #expect(result.stderr.isEmpty, "arecord \(mode) complained (an overrun?): \(result)")
        #expect(result.seconds >= 0.9 && result.seconds < 4, "arecord -d 1 took \(result.seconds) s")
        let recorded = try wavSamples(at: take)
        #expect(recorded.count == 2 * 48_000, "\(recorded.count / 2) frames for -d 1")
        try expectRecorded(recorded, from: input, "arecord -D pcmd \(mode.joined())")
    }

    @Test("speaker-test -D pcmd -l 1 runs its loop and exits 0")
    func speakerTest() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let result = try apps.run("/usr/bin/speaker-test", ["-D", "pcmd", "-l", "1"], timeout: 60)
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)\n\(String(decoding: result.stdout, as: UTF8.self))")
        let heard = try heardSamples(of: daemon)
        #expect(heard.count / 2 > 24_000, "speaker-test's noise: only \(heard.count / 2) frames reached the device")
    }

    @Test("sox plays a WAV with -t alsa pcmd, bit-exactly")
    func sox() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let frames = testFrames(count: 48_000, seed: 104)
        let file = try writeWAV(frames, named: "sox-in.wav", in: dir)
        let result = try apps.run("/usr/bin/sox", ["-q", file, "-t", "alsa", "pcmd"])
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)")
        try expectPlayedExactly(frames, by: daemon, "sox -t alsa pcmd")
    }

    @Test("alsabat -P pcmd plays its 997 Hz tone (44.1 kHz mono, converted by the plugin) and exits 0")
    func alsabatPlayback() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let result = try apps.run("/usr/bin/alsabat", ["-P", "pcmd"], timeout: 60)
        _ = try daemon.stop()
        #expect(result.status == 0, "\(result)\n\(String(decoding: result.stdout, as: UTF8.self))")
        let tone = try measureTone(playedBy: daemon)
        #expect(abs(tone.frequency - 997) < 0.5, "alsabat's tone arrived as \(tone)")
        #expect(tone.thdPlusNoiseDecibels < -60, "alsabat's tone arrived distorted: \(tone)")
    }

    @Test("GStreamer: alsasink device=pcmd plays a 440 Hz tone, alsasrc device=pcmd records bit-exactly")
    func gstreamer() async throws {
        let dir = try temporaryDirectory()
        // A device buffer (341 ms) larger than alsasink's (200 ms), as in the VM tier: a plugin that
        // lets alsasink write more than its buffer before the start makes GStreamer's own ring
        // run dry, which it fills with silence.
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "4096", "--periods", "4"], directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        // 100 buffers of 1024 samples: 2.1 s.
        let played = try apps.run("/usr/bin/gst-launch-1.0", [
            "-q", "audiotestsrc", "num-buffers=100", "freq=440", "!", "audio/x-raw,format=S16LE,rate=48000,channels=2", "!",
            "alsasink", "device=pcmd",
        ], timeout: 60)
        _ = try daemon.stop()
        #expect(played.status == 0, "\(played)")
        let tone = try measureTone(playedBy: daemon)
        #expect(abs(tone.frequency - 440) < 0.5, "GStreamer's tone arrived as \(tone)")
        let heard = try heardSamples(of: daemon)
        let gaps = silentGaps(in: heard, atLeast: 16)
        #expect(gaps.isEmpty, "GStreamer's tone has silent gaps (start frame, frames): \(gaps.prefix(5))")
        #expect(abs(heard.count / 2 - 102_400) < 100, "\(heard.count / 2) frames of GStreamer's 102400 were heard")

        let captureDir = try temporaryDirectory()
        let input = testFrames(count: 480_000, seed: 105)
        try input.withUnsafeBytes { try Data($0).write(to: captureDir.appendingPathComponent("in.raw")) }
        let capture = try await ServedDaemon.start(Self.captureDaemon, directory: captureDir)
        let recordApps = try PluginEnvironment(directory: captureDir, socket: capture.socket)
        // Raw samples straight to a file (wavenc is in another package, plugins-good).
        let take = captureDir.appendingPathComponent("gst-take.raw")
        let recorded = try recordApps.run("/usr/bin/gst-launch-1.0", [
            "-q", "alsasrc", "device=pcmd", "num-buffers=20", "!", "audio/x-raw,format=S16LE,rate=48000,channels=2", "!",
            "filesink", "location=\(take.path)",
        ], timeout: 60)
        _ = try capture.stop()
        #expect(recorded.status == 0, "\(recorded)")
        let recordedSamples = samples(of: try Data(contentsOf: take))
        #expect(recordedSamples.count / 2 >= 4_800, "alsasrc recorded \(recordedSamples.count / 2) frames")
        try expectRecorded(recordedSamples, from: input, "gst-launch-1.0 alsasrc device=pcmd")
    }

    @Test("the stream is named after the program, or by the config's name key")
    func streamNames() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let file = try writeWAV(testFrames(count: 3 * 48_000, seed: 106), named: "three-seconds.wav", in: dir)
        for (device, name) in [("pcmd", "aplay"), ("pcmd_named", "named-in-asoundrc")] {
            let player = try apps.start(aplay, ["-q", "-D", device, file])
            let stream = try await waitForStream(on: daemon) { $0.name == name && $0.clientPID == UInt32(player.pid) }
            kill(player.pid, SIGTERM)
            _ = try player.wait()
            #expect(stream != nil, "no stream named \(name) while aplay -D \(device) played")
        }
        _ = try daemon.stop()
    }

    @Test("latency_ms keeps at least that much queued towards the daemon however small aplay's buffer")
    func latencyKey() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let file = try writeWAV(testFrames(count: 3 * 48_000, seed: 107), named: "three-seconds.wav", in: dir)
        var latencies: [String: UInt32] = [:]
        for device in ["pcmd", "pcmd_queued"] {
            // A 40 ms application buffer.
            let player = try apps.start(aplay, ["-q", "-D", device, "--buffer-time=40000", file])
            let stream = try await waitForStream(on: daemon) { $0.clientPID == UInt32(player.pid) && $0.state == .running }
            kill(player.pid, SIGTERM)
            _ = try player.wait()
            latencies[device] = try #require(stream, "aplay -D \(device) never had a running stream").latencyMicroseconds
        }
        _ = try daemon.stop()
        let queued = try #require(latencies["pcmd_queued"]), plain = try #require(latencies["pcmd"])
        #expect(queued >= 300_000, "latency_ms 300 gave a stream of \(queued) µs")
        #expect(plain < 300_000, "without latency_ms a 40 ms buffer gave a stream of \(plain) µs")
    }

    @Test("aplay stopped (SIGSTOP) for longer than its buffer reports an underrun, then plays the rest and exits 0")
    func underrunAndRecovery() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let frames = testFrames(count: 4 * 48_000, seed: 108)
        let file = try writeWAV(frames, named: "four-seconds.wav", in: dir)
        // A 200 ms buffer, stopped for a second.
        let player = try apps.start(aplay, ["-D", "pcmd", "--buffer-time=200000", file])
        let stream = try await waitForStream(on: daemon) { $0.clientPID == UInt32(player.pid) && $0.state == .running }
        #expect(stream != nil, "aplay's stream never ran")
        try await Task.sleep(for: .milliseconds(500))
        kill(player.pid, SIGSTOP)
        try await Task.sleep(for: .milliseconds(1000))
        kill(player.pid, SIGCONT)
        let result = try player.wait(timeout: 20)
        _ = try daemon.stop()
        #expect(result.status == 0, "aplay after the stall: \(result.stderr)")
        #expect(result.stderr.contains("underrun!!!"), "aplay saw no underrun: \(result.stderr)")
        // aplay prints how long the underrun lasted, from the PCM's trigger timestamp: a time on
        // another clock than gettimeofday's (ioplug's MONOTONIC flag) shows as decades.
        let range = try #require(result.stderr.range(of: #"at least [0-9.]+ ms long"#, options: .regularExpression),
                                 "aplay did not say how long the underrun was: \(result.stderr)")
        let milliseconds = Double(result.stderr[range].split(separator: " ")[2]) ?? -1
        #expect(milliseconds >= 0 && milliseconds < 10_000, "aplay reports an underrun \(milliseconds) ms long for a 1 s stall")
        // The recovery played on: the file's last second reached the device as it is.
        let tail = Array(frames.suffix(2 * 48_000))
        let output = try daemon.playedSamples()
        let tailArrived = offset(of: tail, in: output).map { Array(output[$0..<min(output.count, $0 + tail.count)]) == tail } ?? false
        #expect(tailArrived, "the last second of the file did not reach the device bit-exactly after the underrun")
    }

    @Test("the daemon killed (SIGKILL) under aplay: aplay exits with an error (ENODEV) within seconds, no hang")
    func daemonKilled() async throws {
        // RW, mmap and nonblocking access each notice it their own way (writei, avail_update, poll).
        for mode in [[], ["-M"], ["-N"]] {
            let dir = try temporaryDirectory()
            let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
            let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
            let file = try writeWAV(testFrames(count: 10 * 48_000, seed: 109), named: "ten-seconds.wav", in: dir)
            let player = try apps.start(aplay, ["-q", "-D", "pcmd"] + mode + [file])
            let stream = try await waitForStream(on: daemon) { $0.clientPID == UInt32(player.pid) && $0.state == .running }
            #expect(stream != nil, "aplay \(mode): its stream never ran")
            try await Task.sleep(for: .milliseconds(300))
            daemon.process.signal(SIGKILL)
            let killed = Date()
            let result = try player.wait(timeout: 15)
            let seconds = Date().timeIntervalSince(killed)
            _ = try? daemon.process.wait(timeout: 5)
            #expect(result.status != 0, "aplay \(mode) exited 0 with its daemon gone: \(result.stderr)")
            #expect(seconds < 5, "aplay \(mode) took \(seconds) s to notice its daemon was gone")
            #expect(result.stderr.contains("No such device"), "aplay \(mode) did not fail with ENODEV: \(result.stderr)")
        }
    }

    @Test("no daemon, fallback \"null\" configured: aplay plays to the fallback and exits 0")
    func fallback() throws {
        let dir = try temporaryDirectory()
        let apps = try PluginEnvironment(directory: dir, socket: nil)
        let file = try writeWAV(testFrames(count: 4_800, seed: 110), named: "short.wav", in: dir)
        let result = try apps.run(aplay, ["-q", "-D", "pcmd_fallback", file])
        #expect(result.status == 0, "\(result)")
    }

    @Test("no daemon and no fallback: the open fails, naming the socket it tried")
    func noDaemon() throws {
        let dir = try temporaryDirectory()
        let apps = try PluginEnvironment(directory: dir, socket: nil)
        let file = try writeWAV(testFrames(count: 4_800, seed: 111), named: "short.wav", in: dir)
        let result = try apps.run(aplay, ["-q", "-D", "pcmd_absent", file], timeout: 10)
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("audio open error"), "aplay did not fail at open: \(result)")
        #expect(result.stderr.contains(PluginEnvironment.absentSocket(in: dir)), "the error does not name the socket: \(result)")
        #expect(result.seconds < 5, "failing took \(result.seconds) s")
    }

    @Test("an unknown key in a type pcmd block: the open fails, naming the key")
    func unknownKey() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(Self.playbackDaemon, directory: dir)
        let apps = try PluginEnvironment(directory: dir, socket: daemon.socket)
        let file = try writeWAV(testFrames(count: 4_800, seed: 112), named: "short.wav", in: dir)
        let result = try apps.run(aplay, ["-q", "-D", "pcmd_badkey", file], timeout: 10)
        _ = try daemon.stop()
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("audio open error") && result.stderr.contains("no_such_key"), "\(result)")
    }
}
