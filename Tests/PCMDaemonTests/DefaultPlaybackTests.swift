// The first thing a user does: start pcmd as installed and play a song with pcmplay, touching no
// option. At the defaults (device period 1024 x 3, the daemon's default client latency, pcmplay's
// default buffer), a 60 s file must take 60 s and report no underrun, at 48 kHz (copied
// bit-exactly) and at 44.1 kHz (most music: resampled), alone and with eight players at once.
// pcmd runs with its own default scheduling here too (SCHED_FIFO for the audio thread where the
// user may have it, as root in CI), unlike the other daemon tests. These tests exist because every other client test asks for 200-500 ms and so never saw the
// stutter users hit first (140-259 underruns in a few seconds before the credits were paced by
// the audio thread). PCMD_DEFAULTS_SECONDS shortens the files for a quick local run.
import Foundation
import PCMProtocol
import Testing

/// Seconds of audio each test plays.
private let secondsPlayed: Int = {
    let asked = ProcessInfo.processInfo.environment["PCMD_DEFAULTS_SECONDS"].flatMap { Int($0) } ?? 60
    return max(5, asked)
}()

/// How long a player may take beyond the file's length: its own buffer and the device's (about
/// 130 ms), starting and draining. Each underrun adds a period of silence (21 ms), so a handful
/// of them shows here as well as in the count.
private let allowedLateness = 1.5

@Suite("pcmplay at the defaults a user gets", .serialized, .timeLimit(.minutes(5)))
struct DefaultPlaybackTests {
    /// One player's outcome.
    struct Played {
        let status: Int32
        let stderr: String
        let seconds: Double
    }

    /// Writes a `seconds`-long WAV of deterministic noise at `rate`; returns its path and samples.
    func file(rate: Int, seed: UInt32, in dir: URL) throws -> (path: String, samples: [Int16]) {
        let frames = testFrames(count: rate * secondsPlayed, seed: seed)
        let url = dir.appendingPathComponent("music-\(rate)-\(seed).wav")
        try wavData(samples: frames, rate: rate).write(to: url)
        return (url.path, frames)
    }

    /// Runs one pcmplay per path at once, with no option but the socket, and times each.
    func play(_ paths: [String], on daemon: ServedDaemon) throws -> [Played] {
        let started = Date()
        let players = try paths.map { try ToolProcess.start("pcmplay", ["--socket", daemon.socket, $0]) }
        return try players.map { player in
            let result = try player.wait(timeout: Double(secondsPlayed) + 30)
            return Played(status: result.status, stderr: result.stderr, seconds: Date().timeIntervalSince(started))
        }
    }

    /// Checks that a player ended well, on time and without an underrun. Eight players starting
    /// at once (debug builds) take longer to start, hence `lateness`.
    func expectClean(_ played: Played, _ what: String, lateness: Double = allowedLateness) {
        #expect(played.status == 0, "\(what): exit status \(played.status): \(played.stderr)")
        #expect(!played.stderr.contains("underrun"), "\(what) stuttered: \(played.stderr)")
        #expect(played.stderr.isEmpty, "\(what) said something off a terminal: \(played.stderr)")
        #expect(played.seconds >= Double(secondsPlayed) - 0.5, "\(what) finished a \(secondsPlayed) s file in \(played.seconds) s")
        #expect(played.seconds <= Double(secondsPlayed) + lateness,
                "\(what) took \(played.seconds) s for a \(secondsPlayed) s file")
    }

    @Test("one pcmplay of a 48 kHz file at the defaults: on time, no underrun, bit-exact")
    func alone48k() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout"], directory: dir, realtime: true)
        let music = try file(rate: 48_000, seed: 21, in: dir)
        let played = try play([music.path], on: daemon)
        let stopped = try daemon.stop()
        #expect(stopped.status == 0, "\(stopped.log)")
        expectClean(played[0], "pcmplay of a 48 kHz file")
        let out = try daemon.playedSamples()
        let start = try #require(out.firstIndex { $0 != 0 }, "nothing reached the device")
        try #require(out.count >= start + music.samples.count, "only \(out.count - start) samples reached the device")
        #expect(Array(out[start..<(start + music.samples.count)]) == music.samples, "not bit-exact")
    }

    @Test("one pcmplay of a 44.1 kHz file at the defaults: on time, no underrun")
    func alone44k() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout"], directory: dir, realtime: true)
        let music = try file(rate: 44_100, seed: 22, in: dir)
        let played = try play([music.path], on: daemon)
        let stopped = try daemon.stop()
        #expect(stopped.status == 0, "\(stopped.log)")
        expectClean(played[0], "pcmplay of a 44.1 kHz file")
        // The resampled stream reached the device whole: as many frames (at 48 kHz) as it lasts.
        let out = try daemon.playedSamples()
        let first = try #require(out.firstIndex { $0 != 0 }, "nothing reached the device")
        let last = try #require(out.lastIndex { $0 != 0 })
        let heardFrames = (last - first) / 2
        #expect(abs(heardFrames - 48_000 * secondsPlayed) < 2048, "\(heardFrames) frames heard for \(secondsPlayed) s")
    }

    @Test("eight pcmplay at once at the defaults (four 48 kHz, four 44.1 kHz): all on time, none underruns")
    func eightAtOnce() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout"], directory: dir, realtime: true)
        var paths: [String] = []
        for index in 0..<8 {
            paths.append(try file(rate: index % 2 == 0 ? 48_000 : 44_100, seed: 30 + UInt32(index), in: dir).path)
        }
        let played = try play(paths, on: daemon)
        let stopped = try daemon.stop()
        #expect(stopped.status == 0, "\(stopped.log)")
        for (index, result) in played.enumerated() {
            expectClean(result, "player \(index + 1) of 8 (\(index % 2 == 0 ? "48" : "44.1") kHz)", lateness: 2 * allowedLateness)
        }
    }
}
