// The daemon end to end on alsa-lib's file-backed PCMs (no kernel needed): what pcmd plays must
// reach the "device" bit-exactly, what the device captures must reach pcmd's sink bit-exactly,
// and the sizes it negotiates must come from its PCMBufferCore allocation.
import Foundation
import Testing

/// An ALSA configuration with file-backed devices: `playout` writes what is played to
/// `out.raw`; `capturein` captures the contents of `in.raw`.
private func fileDevices(in directory: URL) -> String {
    """
    pcm.playout { type file slave.pcm { type null } file "\(directory.path)/out.raw" format raw }
    pcm.capturein { type file slave.pcm { type null } file "\(directory.path)/capture-copy.raw" infile "\(directory.path)/in.raw" format raw }
    pcm.null { type null }
    """
}

@Suite("pcmd streaming through file PCMs", .serialized)
struct DaemonStreamingTests {
    @Test("a WAV played by the built-in source reaches the device bit-exactly, then silence")
    func playbackIsBitExact() throws {
        let dir = try temporaryDirectory()
        let frames = testFrames(count: 12_000)
        try wavData(samples: frames).write(to: dir.appendingPathComponent("source.wav"))
        let result = try DaemonProcess.run(
            ["--device", "playout", "--source", "file:\(dir.path)/source.wav", "--period", "128", "--duration", "0.6"],
            alsaConfig: fileDevices(in: dir), directory: dir)
        #expect(result.status == 0, "\(result.log)")
        let played = samples(of: try Data(contentsOf: dir.appendingPathComponent("out.raw")))
        try #require(played.count >= frames.count, "only \(played.count / 2) frames reached the device")
        #expect(Array(played[..<frames.count]) == frames, "the device did not get the source bit-exactly")
        #expect(played[frames.count...].allSatisfy { $0 == 0 }, "after the file ends the device must get silence")
        #expect(result.log.contains("pcm.xruns=0"))
    }

    @Test("captured frames reach the built-in WAV sink bit-exactly")
    func captureIsBitExact() throws {
        let dir = try temporaryDirectory()
        let frames = testFrames(count: 96_000, seed: 99)  // 2 s: longer than the run
        try frames.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let result = try DaemonProcess.run(
            ["--device", "capturein", "--mode", "capture", "--sink", "file:\(dir.path)/got.wav", "--period", "256", "--duration", "0.4"],
            alsaConfig: fileDevices(in: dir), directory: dir)
        #expect(result.status == 0, "\(result.log)")
        let got = try wavSamples(at: dir.appendingPathComponent("got.wav"))
        try #require(got.count >= 2 * 4800, "only \(got.count / 2) frames captured in 0.4 s")
        #expect(got == Array(frames[..<min(got.count, frames.count)]), "the sink did not get the capture bit-exactly")
    }

    @Test("full duplex: playback and capture at once, each bit-exact")
    func duplex() throws {
        let dir = try temporaryDirectory()
        let playFrames = testFrames(count: 9_600, seed: 7)
        let captureFrames = testFrames(count: 96_000, seed: 8)  // 2 s: longer than any run, so the file never wraps
        try wavData(samples: playFrames).write(to: dir.appendingPathComponent("source.wav"))
        try captureFrames.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let result = try DaemonProcess.run(
            ["--device", "playout", "--capture-device", "capturein", "--mode", "duplex",
             "--source", "file:\(dir.path)/source.wav", "--sink", "file:\(dir.path)/got.wav", "--duration", "0.5"],
            alsaConfig: fileDevices(in: dir), directory: dir)
        #expect(result.status == 0, "\(result.log)")
        let played = samples(of: try Data(contentsOf: dir.appendingPathComponent("out.raw")))
        #expect(played.count >= playFrames.count && Array(played[..<playFrames.count]) == playFrames)
        let got = try wavSamples(at: dir.appendingPathComponent("got.wav"))
        #expect(got.count > 0 && got == Array(captureFrames[..<min(got.count, captureFrames.count)]))
    }

    @Test("the built-in sine has the asked frequency and amplitude")
    func sine() throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(
            ["--device", "playout", "--source", "sine:1000:0.5", "--channels", "1", "--duration", "0.5"],
            alsaConfig: fileDevices(in: dir), directory: dir)
        #expect(result.status == 0, "\(result.log)")
        let played = samples(of: try Data(contentsOf: dir.appendingPathComponent("out.raw")))
        let second = Array(played.prefix(48_000))
        try #require(second.count >= 24_000)
        var crossings = 0
        for i in 1..<second.count where second[i - 1] < 0 && second[i] >= 0 { crossings += 1 }
        let seconds = Double(second.count) / 48_000
        #expect(abs(Double(crossings) / seconds - 1000) < 5, "\(crossings) rising zero crossings in \(seconds) s")
        let peak = second.map { abs(Int($0)) }.max() ?? 0
        #expect(abs(Double(peak) / 32767 - 0.5) < 0.01, "peak \(peak)")
    }

    @Test("hw_params sizes come from the PCMBufferCore allocation and are logged with the access used")
    func negotiationIsLogged() throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(
            ["--device", "playout", "--period", "128", "--periods", "4", "--duration", "0.2"],
            alsaConfig: fileDevices(in: dir), directory: dir)
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.contains("pcm.access=MMAP_INTERLEAVED"))
        #expect(result.log.contains("pcm.period=128"))
        #expect(result.log.contains("pcm.buffer=512"))
        #expect(result.log.contains("pcm.allocation=changed"))
    }

    @Test("SIGTERM drains playback and exits cleanly; SIGHUP reopens the device")
    func signals() throws {
        let dir = try temporaryDirectory()
        let child = try DaemonProcess.start(["--device", "playout", "--source", "sine"], alsaConfig: fileDevices(in: dir), directory: dir)
        usleep(400_000)
        child.signal(SIGHUP)
        usleep(400_000)
        child.signal(SIGTERM)
        let result = try child.wait()
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.components(separatedBy: "device streaming").count - 1 == 2, "expected a reopen after SIGHUP:\n\(result.log)")
        #expect(result.log.contains("playback drained"))
        #expect(result.log.contains("pcmd stopped"))
    }
}
