// Endurance (issue 12, item 3): a real pcmd through many cycles of the ways clients come and go,
// and then the same daemon measured again. Three phases:
// - connect / open / play / kill -9: pcmplay processes killed with SIGKILL at random moments
//   (before, during and after they open and write);
// - connect / open / close: in-process clients that open a stream, write, close and hang up;
// - a greedy client that asks for a stream many times over its quota.
// After each phase the daemon's VmRSS, its descriptor count and the allocator's card totals must
// be back where they were after the warm-up: RSS within 1 %, descriptors equal, the clients'
// cards at zero bytes, the device cards unchanged. A good client plays bit-exactly afterwards.
//
// CI runs a brief version; `scripts/endurance` runs 1000 cycles of each (PCMD_ENDURANCE_CYCLES).
import Foundation
import PCMBufferCore
import PCMClient
import PCMClientCore
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

/// Cycles per phase: PCMD_ENDURANCE_CYCLES, or a brief run for CI.
private let cycles: (killed: Int, closed: Int, greedy: Int) = {
    if let asked = ProcessInfo.processInfo.environment["PCMD_ENDURANCE_CYCLES"].flatMap({ Int($0) }), asked > 0 {
        return (asked, asked, asked)
    }
    return (40, 200, 200)
}()

@Suite("endurance: clients come and go, the daemon stays the same size", .serialized, .timeLimit(.minutes(60)))
struct EnduranceTests {
    /// What is measured of the daemon between phases.
    struct Footprint: CustomStringConvertible {
        let residentKiB: Int
        let descriptors: Int
        let cards: [Int: Int]

        var description: String {
            "VmRSS \(residentKiB) KiB, \(descriptors) fds, cards \(cards.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        }
    }

    /// Reads the daemon's footprint once no client stream is left (closes are processed by the
    /// daemon asynchronously), with no measuring connection open while /proc is read.
    func footprint(_ daemon: ServedDaemon) async throws -> Footprint {
        var cards: [Int: Int] = [:]
        for attempt in 0..<100 {
            let watcher = try await PCMConnection.connect(path: daemon.socket, clientName: "watcher")
            let streams = try await watcher.streams()
            let memory = try await watcher.memory()
            watcher.close()
            cards = Dictionary(uniqueKeysWithValues: memory.cards.map { ($0.card, $0.bytesInUse.value) })
            if streams.isEmpty, cards.filter({ $0.key >= 100 }).values.allSatisfy({ $0 == 0 }) { break }
            if attempt == 99 { Issue.record("streams or client memory remain: \(streams.map(\.clientName)), \(cards)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Let the daemon finish with the watcher's connection before counting descriptors.
        try await Task.sleep(for: .milliseconds(200))
        let status = try String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? -1
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd").count
        return Footprint(residentKiB: rss, descriptors: fds, cards: cards)
    }

    /// Requires `after` to match `before`: RSS grown by less than 1 %, the same descriptors,
    /// the same device cards and empty client cards.
    func expectFlat(_ before: Footprint, _ after: Footprint, _ phase: String) {
        let growth = Double(after.residentKiB - before.residentKiB) / Double(before.residentKiB)
        #expect(growth < 0.01, "\(phase): VmRSS grew \(String(format: "%.2f", growth * 100)) %: \(before) -> \(after)")
        #expect(after.descriptors == before.descriptors, "\(phase): descriptors \(before.descriptors) -> \(after.descriptors)")
        #expect(after.cards == before.cards, "\(phase): card totals \(before.cards) -> \(after.cards)")
        #expect(after.cards.filter { $0.key >= 100 }.values.allSatisfy { $0 == 0 }, "\(phase): client memory left: \(after.cards)")
    }

    /// One pcmplay started and killed with SIGKILL after a random moment.
    func killOnePlayer(socket: String, file: String) throws {
        let victim = try ToolProcess.start("pcmplay", ["--socket", socket, "--quiet", "--volume", "0", file])
        usleep(UInt32.random(in: 20_000...160_000))
        kill(victim.pid, SIGKILL)
        _ = try victim.wait(timeout: 10)
    }

    /// One in-process client: connect, open, write a period, close, hang up.
    func openAndClose(socket: String, samples: [Int16]) throws {
        let client = try BlockingConnection.connect(path: socket, clientName: "cycler")
        let stream = try client.open(OpenStream(direction: .playback, format: stereo16, latencyMicroseconds: 50_000))
        _ = try samples.withUnsafeBytes { try stream.write($0) }
        try client.close(stream)
        // The connection closes when `client` goes away, at the end of this call.
    }

    @Test("kill -9, open/close and over-quota cycles: VmRSS, descriptors and card totals stay flat")
    func cyclesLeaveNoTrace() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout"], directory: dir)
        let noise = dir.appendingPathComponent("noise.wav")
        try wavData(samples: testFrames(count: 96_000, seed: 3)).write(to: noise)
        let period = testFrames(count: 1024, seed: 4)

        // Warm-up: the first clients grow thread stacks, malloc arenas and tables for good.
        for _ in 0..<10 { try killOnePlayer(socket: daemon.socket, file: noise.path) }
        for _ in 0..<50 { try openAndClose(socket: daemon.socket, samples: period) }
        let baseline = try await footprint(daemon)

        let started = Date()
        for _ in 0..<cycles.killed { try killOnePlayer(socket: daemon.socket, file: noise.path) }
        let afterKills = try await footprint(daemon)
        expectFlat(baseline, afterKills, "\(cycles.killed) × connect/open/play/kill -9")

        for _ in 0..<cycles.closed { try openAndClose(socket: daemon.socket, samples: period) }
        let afterCloses = try await footprint(daemon)
        expectFlat(baseline, afterCloses, "\(cycles.closed) × connect/open/close")

        // A greedy client asks again and again past its quota: each refusal is clear, costs
        // nothing lasting, and another client still plays meanwhile.
        let frames = testFrames(count: 48_000, seed: 5)
        do {
            let greedy = try BlockingConnection.connect(path: daemon.socket, clientName: "greedy")
            var held: [ClientStream] = []
            var refusals = 0
            for _ in 0..<cycles.greedy {
                do throws(ClientCoreError) {
                    held.append(try greedy.open(OpenStream(direction: .playback, format: stereo16, latencyMicroseconds: 20_000)))
                } catch {
                    guard case .refused(let reply) = error, reply.code == .tooManyClientStreams else { throw error }
                    refusals += 1
                }
            }
            #expect(held.count == 8 && refusals == cycles.greedy - 8, "\(held.count) streams held, \(refusals) refusals")
            let good = try await PCMConnection.connect(path: daemon.socket, clientName: "good")
            let stream = try await good.openPlayback(format: stereo16, latencyMicroseconds: 500_000, name: "good")
            try await stream.write(frames.withUnsafeBytes { Array($0) })
            try await stream.drain()
            #expect(stream.status.underruns == 0, "the good client underran beside the greedy one")
            good.close()
            for stream in held { try greedy.close(stream) }
            // `greedy` hangs up at the end of this scope.
        }
        let afterGreedy = try await footprint(daemon)
        expectFlat(baseline, afterGreedy, "\(cycles.greedy) × over-quota opens")

        let elapsed = Date().timeIntervalSince(started)
        print("endurance: \(cycles.killed) kills, \(cycles.closed) open/close, \(cycles.greedy) greedy opens in \(Int(elapsed)) s; "
              + "baseline \(baseline); after kills \(afterKills); after closes \(afterCloses); after greedy \(afterGreedy)")
        #expect(daemon.isRunning)
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        let played = try daemon.playedSamples()
        let start = try #require(played.firstIndex { $0 != 0 }, "nothing reached the device")
        try #require(played.count >= start + frames.count)
        // The killed players played at volume 0 and the cyclers' periods may come first; the good
        // client's audio is the last thing played: find its first frame from the end.
        let tail = Array(played.suffix(from: start))
        let found = (0...(tail.count - frames.count)).reversed().first { tail[$0] == frames[0] && tail[$0 + 1] == frames[1] && Array(tail[$0..<($0 + frames.count)]) == frames }
        #expect(found != nil, "the good client's audio did not reach the device bit-exactly")
    }
}
