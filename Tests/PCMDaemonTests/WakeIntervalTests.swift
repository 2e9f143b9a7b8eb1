// How often the device's audio thread wakes (issue 10, item 6): about 24 times a second at the
// defaults with a default client, like PipeWire for a 100 ms client, and every period again for
// a client that asks for low latency. The rule itself is checked as a pure function; the real
// daemon is checked by counting its playback thread's context switches in /proc while pcmplay
// plays at the defaults.
import Foundation
import PCMDaemon
import Testing

@Suite("The device wakes no more often than its clients need")
struct WakeIntervalRuleTests {
    @Test("defaults (1024 x 3 at 48 kHz): every two periods, with no client and with a default client")
    func defaults() {
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: nil) == 2048)
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: 9600) == 2048)
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 44_100, smallestClientLatency: 8820) == 2048)
    }

    @Test("a client latency under four periods brings back a wake every period")
    func lowLatencyClient() {
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: 4095) == 1024)
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: 2048) == 1024)
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: 4096) == 2048)
        // A latency shorter than a period still gets one period, never zero.
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: 100) == 1024)
    }

    @Test("one period of the buffer is always left as margin")
    func margin() {
        #expect(WakeInterval.frames(period: 1024, buffer: 2048, rate: 48_000, smallestClientLatency: nil) == 1024)
        #expect(WakeInterval.frames(period: 256, buffer: 1024, rate: 48_000, smallestClientLatency: nil) == 768)
        #expect(WakeInterval.frames(period: 1000, buffer: 2999, rate: 48_000, smallestClientLatency: nil) == 1000)
    }

    @Test("a new stream waits at most about 50 ms for its first wake")
    func startup() {
        // 32 periods of 256 at 48 kHz: 50 ms is 2400 frames, so 9 periods.
        #expect(WakeInterval.frames(period: 256, buffer: 8192, rate: 48_000, smallestClientLatency: nil) == 2304)
        // A period longer than 50 ms is still one period.
        #expect(WakeInterval.frames(period: 8192, buffer: 32768, rate: 48_000, smallestClientLatency: nil) == 8192)
    }

    @Test("nonsense sizes give one period, never zero or a crash")
    func nonsense() {
        #expect(WakeInterval.frames(period: 1024, buffer: 512, rate: 48_000, smallestClientLatency: nil) == 1024)
        #expect(WakeInterval.frames(period: 0, buffer: 0, rate: 48_000, smallestClientLatency: nil) == 1)
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 0, smallestClientLatency: nil) == 1024)
        #expect(WakeInterval.frames(period: 1024, buffer: 3072, rate: 48_000, smallestClientLatency: 0) == 1024)
    }
}

@Suite("The audio thread's wakeups at the defaults", .serialized, .timeLimit(.minutes(2)))
struct DeviceWakeupTests {
    /// The voluntary context switches of the daemon's thread named `name`: one per sleep.
    func switches(of pid: Int32, thread name: String) throws -> Int {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        for task in tasks {
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == name else { continue }
            let status = try String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)
            for line in status.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
                return Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? -1
            }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no thread \(name) in pcmd \(pid)"])
    }

    /// Wakeups per second of the playback thread over `seconds`, while whatever runs runs.
    func wakeupsPerSecond(_ daemon: ServedDaemon, over seconds: Double) async throws -> Double {
        let before = try switches(of: daemon.pid, thread: "pcmd-playback")
        let start = Date()
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let after = try switches(of: daemon.pid, thread: "pcmd-playback")
        return Double(after - before) / Date().timeIntervalSince(start)
    }

    @Test("pcmplay at the defaults: the device thread wakes about 24 times a second, not 47; at --latency 20, every period")
    func defaultsWakeHalfAsOften() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout"], directory: dir, realtime: true)
        defer { _ = try? daemon.stop() }
        let music = dir.appendingPathComponent("music.wav")
        try wavData(samples: testFrames(count: 48_000 * 8, seed: 5)).write(to: music)

        let relaxed = try ToolProcess.start("pcmplay", ["--socket", daemon.socket, music.path])
        try await Task.sleep(for: .seconds(1))
        let atDefaults = try await wakeupsPerSecond(daemon, over: 2)
        // 48000 / 2048 = 23.4 wakes a second; a few more for requests (open, close) and timing.
        #expect(atDefaults >= 18 && atDefaults <= 30, "the device thread woke \(atDefaults) times a second at the defaults")

        // A low-latency client (20 ms: 960 frames) needs a wake every period.
        let eager = try ToolProcess.start("pcmplay", ["--socket", daemon.socket, "--latency", "20", music.path])
        try await Task.sleep(for: .seconds(1))
        let withLowLatency = try await wakeupsPerSecond(daemon, over: 2)
        #expect(withLowLatency >= 42 && withLowLatency <= 56, "the device thread woke \(withLowLatency) times a second for a 20 ms client")

        for player in [relaxed, eager] {
            let result = try player.wait(timeout: 30)
            #expect(result.status == 0, "pcmplay: \(result.stderr)")
            #expect(!result.stderr.contains("underrun"), "pcmplay stuttered: \(result.stderr)")
        }
    }
}
