// The client tools as a user runs them, against a real pcmd on alsa-lib's file PCMs: pcmplay
// plays a WAV file and raw standard input bit-exactly; pcmrec records a WAV file and raw
// standard output bit-exactly; pcmctl lists devices and streams and sets stream and master
// volumes; every tool explains itself with --help and refuses bad arguments with a clear message.
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

/// ArgumentParser's exit status for a usage error (EX_USAGE).
private let usageError: Int32 = 64

/// Asserts that `frames` reached the device bit-exactly, in one piece.
private func expectPlayed(_ frames: [Int16], by daemon: ServedDaemon, _ comment: String) throws {
    let played = try daemon.playedSamples()
    let start = try #require(played.firstIndex { $0 != 0 }, "\(comment): nothing reached the device")
    try #require(played.count >= start + frames.count, "\(comment): only \(played.count - start) samples reached the device")
    #expect(Array(played[start..<(start + frames.count)]) == frames, "\(comment): not bit-exact")
    #expect(played[(start + frames.count)...].allSatisfy { $0 == 0 }, "\(comment): something other than silence followed")
}

/// Asserts that `recorded` is a contiguous piece of `input`.
private func expectRecorded(_ recorded: [Int16], from input: [Int16], _ comment: String) throws {
    let start = try #require(input.firstRange(of: Array(recorded.prefix(32)))?.lowerBound, "\(comment): recording not found in the input")
    try #require(start % 2 == 0 && start + recorded.count <= input.count)
    #expect(Array(input[start..<(start + recorded.count)]) == recorded, "\(comment): not bit-exact")
}

@Suite("pcmplay, pcmrec and pcmctl against a real daemon", .serialized, .timeLimit(.minutes(3)))
struct ToolTests {
    @Test("pcmplay plays a WAV file bit-exactly")
    func playWAV() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let frames = testFrames(count: 48_000, seed: 3)
        let file = dir.appendingPathComponent("music.wav")
        try wavData(samples: frames).write(to: file)
        let result = try ToolProcess.run("pcmplay", ["--socket", daemon.socket, "--latency", "300", file.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "pcmplay is quiet when not on a terminal: \(result.stderr)")
        _ = try daemon.stop()
        try expectPlayed(frames, by: daemon, "pcmplay music.wav")
    }

    @Test("pcmplay plays raw samples from standard input bit-exactly")
    func playStandardInput() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let frames = testFrames(count: 36_000, seed: 4)
        let result = try ToolProcess.run(
            "pcmplay", ["--socket", daemon.socket, "--latency", "300", "--raw", "s16", "--rate", "48000", "--channels", "2", "-"],
            input: frames.withUnsafeBytes { Data($0) })
        #expect(result.status == 0, "\(result.stderr)")
        _ = try daemon.stop()
        try expectPlayed(frames, by: daemon, "pcmplay --raw s16 -")
    }

    // At the defaults a user gets: the daemon's period and buffer, pcmrec's latency (the daemon's
    // default), pcmd's own scheduling. The capture side of DefaultPlaybackTests.
    @Test("pcmrec at the defaults records a WAV file bit-exactly, exactly --duration long, without an overrun")
    func recordWAV() async throws {
        let dir = try temporaryDirectory()
        let input = testFrames(count: 480_000, seed: 6)  // 10 s: more than startup plus the take
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(["--device", "capturein", "--mode", "capture"], directory: dir, realtime: true)
        let file = dir.appendingPathComponent("take.wav")
        let result = try ToolProcess.run("pcmrec", ["--socket", daemon.socket, "--duration", "3", file.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("overrun"), "pcmrec lost audio at the defaults: \(result.stderr)")
        _ = try daemon.stop()
        let recorded = try wavSamples(at: file)
        #expect(recorded.count == 2 * 3 * 48_000, "\(recorded.count / 2) frames for --duration 3")
        try expectRecorded(recorded, from: input, "pcmrec take.wav")
    }

    @Test("pcmrec writes raw samples to standard output bit-exactly")
    func recordStandardOutput() async throws {
        let dir = try temporaryDirectory()
        let input = testFrames(count: 240_000, seed: 8)
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(["--device", "capturein", "--mode", "capture", "--period", "256"], directory: dir)
        let result = try ToolProcess.run("pcmrec", ["--socket", daemon.socket, "--latency", "300", "--duration", "0.5", "-"])
        #expect(result.status == 0, "\(result.stderr)")
        _ = try daemon.stop()
        #expect(result.stdout.count == 24_000 * 4, "\(result.stdout.count) bytes for 0.5 s of s16 stereo")
        try expectRecorded(samples(of: result.stdout), from: input, "pcmrec -")
    }

    @Test("pcmctl lists devices and streams and sets stream and master volumes")
    func control() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let owner = try await PCMConnection.connect(path: daemon.socket, clientName: "owner")
        let stream = try await owner.openPlayback(format: PCMProtocol.StreamFormat(.float32, rate: 44_100, channels: 1), name: "music")
        let socket = ["--socket", daemon.socket]

        let devices = try ToolProcess.run("pcmctl", ["devices"] + socket)
        #expect(devices.status == 0, "\(devices.stderr)")
        let deviceTable = String(decoding: devices.stdout, as: UTF8.self)
        #expect(deviceTable.contains("DEVICE") && deviceTable.contains("playout"), "\(deviceTable)")
        #expect(deviceTable.contains(stereo16.description), "\(deviceTable)")

        let streams = try ToolProcess.run("pcmctl", ["streams"] + socket)
        #expect(streams.status == 0, "\(streams.stderr)")
        let streamTable = String(decoding: streams.stdout, as: UTF8.self)
        let row = try #require(streamTable.split(separator: "\n").first { $0.contains("music") }, "\(streamTable)")
        #expect(row.hasPrefix("\(stream.id.rawValue) "), "the row starts with the stream's ID: \(row)")
        #expect(row.contains("owner") && row.contains(stream.format.description) && row.contains("100%"), "\(row)")

        let volume = try ToolProcess.run("pcmctl", ["volume", "\(stream.id.rawValue)", "50%"] + socket)
        #expect(volume.status == 0, "\(volume.stderr)")
        #expect(String(decoding: volume.stdout, as: UTF8.self) == "stream \(stream.id.rawValue): 50%\n")
        try await stream.pause()  // a round trip on the owner's connection: the announcement came first
        #expect(stream.status.volume == Volume(level: 0.5))
        let mute = try ToolProcess.run("pcmctl", ["volume", "\(stream.id.rawValue)", "--mute"] + socket)
        #expect(mute.status == 0, "\(mute.stderr)")
        try await stream.resume()
        #expect(stream.status.volume == Volume(level: 0.5, muted: true))

        let master = try ToolProcess.run("pcmctl", ["master", "80%"] + socket)
        #expect(master.status == 0, "\(master.stderr)")
        #expect(try await owner.devices().first?.masterVolume == Volume(level: 0.8))
        let shown = try ToolProcess.run("pcmctl", ["master"] + socket)
        #expect(String(decoding: shown.stdout, as: UTF8.self) == "playout: 80%\n")

        // Errors that need the daemon to tell.
        let missing = try ToolProcess.run("pcmctl", ["volume", "999", "50%"] + socket)
        #expect(missing.status != 0 && missing.stderr.contains("no stream 999"), "\(missing.stderr)")
        let noDevice = try ToolProcess.run("pcmctl", ["master", "--device", "42", "50%"] + socket)
        #expect(noDevice.status != 0 && noDevice.stderr.contains("no device 42"), "\(noDevice.stderr)")

        owner.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }

    @Test("--help exits 0 and explains each tool", arguments: [
        ("pcmplay", "Play an audio file through the pcmd sound server."),
        ("pcmrec", "Record audio from the pcmd sound server."),
        ("pcmctl", "Inspect and control the pcmd sound server."),
    ])
    func help(tool: String, abstract: String) throws {
        let result = try ToolProcess.run(tool, ["--help"])
        #expect(result.status == 0, "\(result.stderr)")
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(text.contains(abstract), "\(text)")
        #expect(text.contains("USAGE: \(tool)"), "\(text)")
        if tool == "pcmctl" {
            for command in ["devices", "streams", "volume", "master"] { #expect(text.contains(command), "\(text)") }
            let streams = try ToolProcess.run(tool, ["streams", "--help"])
            #expect(streams.status == 0 && String(decoding: streams.stdout, as: UTF8.self).contains("--socket"), "\(streams.stderr)")
        } else {
            #expect(text.contains("--socket"), "every tool documents how to choose the daemon: \(text)")
        }
    }

    @Test("bad arguments are refused with a clear message and a usage status", arguments: [
        ("pcmplay", ["--raw", "s99", "--rate", "48000", "--channels", "2", "-"], "unknown sample format \"s99\""),
        ("pcmplay", ["--raw", "s16", "-"], "--raw needs --rate and --channels"),
        ("pcmplay", ["--rate", "48000", "x.wav"], "add --raw FORMAT"),
        ("pcmplay", ["--volume", "150%", "x.wav"], "volume must be 0 to 1"),
        ("pcmplay", ["--latency", "100000", "x.wav"], "--latency is at most"),
        ("pcmrec", ["--rate", "5", "x.wav"], "--rate must be 1000 to 768000"),
        ("pcmrec", ["--channels", "0", "x.wav"], "--channels must be 1 to"),
        ("pcmrec", ["--format", "u8", "x.wav"], "unknown sample format \"u8\""),
        ("pcmrec", ["--duration", "0", "x.wav"], "--duration must be positive"),
        ("pcmrec", ["--container", "flac", "-"], "standard output takes raw samples only"),
        ("pcmrec", [], "Missing expected argument"),
        ("pcmctl", ["volume", "0", "50%"], "stream IDs start at 1"),
        ("pcmctl", ["volume", "3"], "give a level, --mute or --unmute"),
        ("pcmctl", ["volume", "3", "2"], "level must be 0 to 1"),
        ("pcmctl", ["master", "loud"], "level must be 0 to 1"),
        ("pcmctl", ["frobnicate"], "Unexpected argument"),
    ])
    func badArguments(tool: String, arguments: [String], message: String) throws {
        let result = try ToolProcess.run(tool, arguments + ["--socket", "/nonexistent/pcmd-socket"])
        #expect(result.status == usageError, "\(tool) \(arguments): status \(result.status): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(tool) \(arguments): \(result.stderr)")
    }

    @Test("a missing file, a file that is not audio, and no daemon are each reported in one clear line")
    func runtimeFailures() throws {
        let dir = try temporaryDirectory()
        let noDaemon = ["--socket", dir.path + "/no-socket"]
        let missing = try ToolProcess.run("pcmplay", noDaemon + [dir.path + "/missing.wav"])
        #expect(missing.status == 1 && missing.stderr.contains("missing.wav"), "\(missing.stderr)")
        let text = dir.appendingPathComponent("notes.wav")
        try Data("not audio at all".utf8).write(to: text)
        let garbage = try ToolProcess.run("pcmplay", noDaemon + [text.path])
        #expect(garbage.status == 1 && garbage.stderr.contains("notes.wav"), "\(garbage.stderr)")

        let audio = dir.appendingPathComponent("ok.wav")
        try wavData(samples: testFrames(count: 100)).write(to: audio)
        for (tool, arguments) in [("pcmplay", [audio.path]), ("pcmrec", [dir.path + "/out.wav"]), ("pcmctl", ["streams"])] {
            let result = try ToolProcess.run(tool, arguments + noDaemon)
            #expect(result.status == 1, "\(tool): \(result.stderr)")
            #expect(result.stderr.contains("no pcmd daemon is running") && result.stderr.contains("no-socket"), "\(tool): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out.wav"), "pcmrec leaves no file when it cannot start")
    }

    @Test("pcmctl top off a terminal: plain blocks, wakeups and busy time from the second refresh, a peak while a stream plays")
    func topPlainLines() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "loud")
        let stream = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 500_000, name: "tone")
        // Half of full scale: -6.0 dB.
        let half = [Int16](repeating: 16_384, count: 48_000 * 2 * 3)
        let writer = Task { try await stream.write(half.withUnsafeBytes { Array($0) }) }
        try await Task.sleep(for: .milliseconds(300))
        let top = try ToolProcess.run("pcmctl", ["top", "--interval", "0.5", "--iterations", "4", "--socket", daemon.socket])
        try await writer.value
        try await stream.drain()
        connection.close()
        #expect(top.status == 0, "\(top.stderr)")
        let text = String(decoding: top.stdout, as: UTF8.self)
        #expect(!text.contains("\u{1B}"), "no terminal escapes off a terminal: \(text)")
        #expect(text.components(separatedBy: "WAKE/S").count - 1 == 4, "four refreshes: \(text)")
        // The last refresh: its device table's header and first row, split at runs of spaces.
        let start = try #require(text.range(of: "ID  DEVICE", options: .backwards), "\(text)")
        let last = String(text[start.lowerBound...])
        func cells(_ line: Substring) -> [String] {
            line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let lines = last.split(separator: "\n")
        let header = cells(lines[0])
        let row = try #require(lines.dropFirst().first { $0.hasPrefix("1 ") }.map(cells), "\(last)")
        let column = try #require(header.firstIndex(of: "WAKE/S"), "\(header)")
        // 48000 / (2 × 256) = 93.75 wakes a second for a 500 ms client (two periods a wake).
        let wakes = try #require(Double(row[column]), "no wake rate in \(row)")
        #expect(wakes > 40 && wakes < 200, "\(wakes) wakes a second: \(row)")
        #expect(last.contains("tone") && last.contains("-6.0 dB"), "the stream's peak, -6.0 dB, in \(last)")
        #expect(try daemon.stop().status == 0)
    }
}
