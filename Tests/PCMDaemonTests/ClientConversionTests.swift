// Conversion and resampling inside a real pcmd, checked at the device: clients play sines at
// 44.1 and 96 kHz, mono, in s16, s24_3 and f32, and the 48 kHz stereo s16 that reaches alsa-lib's
// file PCM must carry the same tone (frequency, amplitude), identical in both channels, with
// THD+N near what 16 bits allow; a client recording at 44.1 kHz from a device fed a 48 kHz sine
// gets that sine. Bounds (the 16-bit device limits every path to about -92 dB THD+N at -6 dBFS;
// docs/dsp.md has the resampler's own figures, far below):
// - frequency within 0.02 Hz of what was sent (any dropped or repeated block shifts it),
// - amplitude within 0.02 dB (the passband is flat to 0.0001 dB at 1 kHz),
// - THD+N below -86 dB for an s16 client (two 16-bit quantisations), -88 dB for 24-bit and float,
// - the alias of an ultrasonic tone in a 96 kHz stream below -120 dB (measured -153 dB).
import Foundation
import PCMBufferCore
import PCMClient
import PCMProtocol
import Testing

/// The tone every test sends: not a divisor of either rate, at -6 dBFS.
private let toneFrequency = 997.0
private let toneAmplitude = 0.5
/// The device's full scale in s16 units, as the daemon's float-to-s16 rule scales it.
private let deviceFullScale = 32_768.0

/// One channel of the device's s16 stereo output, as Doubles.
private func channel(_ samples: [Int16], _ index: Int) -> [Double] {
    stride(from: index, to: samples.count, by: 2).map { Double(samples[$0]) }
}

/// The steady part of the tone the device received: where the signal is well above silence,
/// minus `margin` frames at each end, so the resampler's start and end transients are left out.
private func steadySpan(_ samples: [Int16], margin: Int) throws -> Range<Int> {
    let left = channel(samples, 0)
    let first = try #require(left.firstIndex { abs($0) > 1_000 }, "no tone reached the device")
    let last = left.lastIndex { abs($0) > 1_000 }!
    let span = (first + margin)..<(last - margin)
    try #require(span.count >= 24_000, "only \(span.count) steady frames reached the device")
    return span
}

@Suite("conversion and resampling in the daemon", .serialized, .timeLimit(.minutes(3)))
struct ClientConversionTests {
    /// Plays `bytes` (in `format`) through a fresh daemon on the file device and returns what the
    /// device received.
    private func playThroughDaemon(_ bytes: [UInt8], format: PCMProtocol.StreamFormat) async throws -> [Int16] {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "tone")
        // A generous buffer: the test machine is shared, and a dropout is what the test looks for.
        let stream = try await connection.openPlayback(format: format, latencyMicroseconds: 300_000, name: "tone")
        #expect(stream.granted.deviceFormat == PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2))
        try await stream.write(bytes)
        try await stream.drain()
        #expect(stream.status.underruns == 0, "the client underran: \(stream.status.underruns)")
        try await stream.close()
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        return try daemon.playedSamples()
    }

    @Test("a 44.1 kHz mono sine reaches the 48 kHz stereo s16 device with its frequency, level and purity",
          arguments: ["s16", "s24_3", "f32"])
    func resampledPlayback(format name: String) async throws {
        let sampleFormat = try #require(SampleFormat(name: name))
        let sent = sineWave(frequency: toneFrequency, rate: 44_100, amplitude: toneAmplitude, frames: 52_920)  // 1.2 s
        let played = try await playThroughDaemon(encodeSamples(sent, as: name),
                                                 format: PCMProtocol.StreamFormat(sampleFormat, rate: 44_100, channels: 1))
        let span = try steadySpan(played, margin: 4_800)
        let left = Array(channel(played, 0)[span])
        let right = Array(channel(played, 1)[span])
        #expect(left == right, "mono must be duplicated bit-exactly to both channels")
        // 1.2 s at 44.1 kHz is 57,600 frames at 48 kHz; the steady span is that minus the margins.
        #expect(abs(span.count - (57_600 - 9_600)) < 200, "steady span of \(span.count) frames: audio was lost or repeated")
        let tone = try #require(ToneMeasurement.measure(left, rate: 48_000), "no tone found")
        #expect(abs(tone.frequency - toneFrequency) < 0.02, "\(name): \(tone)")
        #expect(abs(20 * log10(tone.amplitude / (toneAmplitude * deviceFullScale))) < 0.02, "\(name): \(tone)")
        #expect(tone.thdPlusNoiseDecibels < (name == "s16" ? -86 : -88), "\(name): \(tone)")
    }

    @Test("a 96 kHz mono stream is resampled to 48 kHz and its ultrasonic content filtered out")
    func downsampledPlayback() async throws {
        // 997 Hz plus 30 kHz, which a 48 kHz device cannot carry: without the low-pass it would
        // fold to 18 kHz.
        let tone = sineWave(frequency: toneFrequency, rate: 96_000, amplitude: 0.4, frames: 115_200)
        let ultrasonic = sineWave(frequency: 30_000, rate: 96_000, amplitude: 0.4, frames: 115_200)
        let sent = zip(tone, ultrasonic).map { $0 + $1 }
        let played = try await playThroughDaemon(encodeSamples(sent, as: "f32"),
                                                 format: PCMProtocol.StreamFormat(.float32, rate: 96_000, channels: 1))
        let span = try steadySpan(played, margin: 4_800)
        let left = Array(channel(played, 0)[span])
        #expect(left == Array(channel(played, 1)[span]), "mono must be duplicated bit-exactly to both channels")
        let measured = try #require(ToneMeasurement.measure(left, rate: 48_000), "no tone found")
        #expect(abs(measured.frequency - toneFrequency) < 0.02, "\(measured)")
        #expect(abs(20 * log10(measured.amplitude / (0.4 * deviceFullScale))) < 0.02, "\(measured)")
        #expect(measured.thdPlusNoiseDecibels < -86, "the 30 kHz tone or a glitch is left: \(measured)")
        let alias = ToneMeasurement.amplitudes(of: left, at: [measured.frequency, 48_000 - 30_000], rate: 48_000)[1]
        let aliasDecibels = 20 * log10(max(alias, 1e-9) / measured.amplitude)
        #expect(aliasDecibels < -120, "30 kHz folded to 18 kHz at \(aliasDecibels) dB")
    }

    @Test("a client recording at 44.1 kHz from a 48 kHz device gets the device's tone",
          arguments: [PCMProtocol.StreamFormat(.float32, rate: 44_100, channels: 1),
                      PCMProtocol.StreamFormat(.s16, rate: 44_100, channels: 2)])
    func resampledCapture(format: PCMProtocol.StreamFormat) async throws {
        let dir = try temporaryDirectory()
        // 6 s of a 48 kHz stereo s16 sine, more than the daemon captures while the test runs.
        let fed = sineWave(frequency: toneFrequency, rate: 48_000, amplitude: toneAmplitude, frames: 288_000)
        var input: [Int16] = []
        for value in fed { let sample = Int16((value * 32767).rounded()); input += [sample, sample] }
        try input.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("in.raw")) }
        let daemon = try await ServedDaemon.start(["--device", "capturein", "--mode", "capture", "--period", "256"], directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "recorder")
        let stream = try await connection.openCapture(format: format, latencyMicroseconds: 300_000)
        let wanted = 48_510 * format.bytesPerFrame  // 1.1 s
        var recorded: [UInt8] = []
        for try await chunk in stream.captured {
            recorded += chunk
            if recorded.count >= wanted { break }
        }
        #expect(stream.status.overruns == 0, "the capture overran: \(stream.status.overruns)")
        #expect(stream.status.overruns == 0)
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")

        let channels = format.channels
        let values: [Double] = recorded.withUnsafeBytes { raw in
            format.sampleFormat == .float32
                ? raw.bindMemory(to: Float.self).map { Double($0) * deviceFullScale }
                : raw.bindMemory(to: Int16.self).map { Double($0) }
        }
        let frames = values.count / channels
        // Skip the resampler's start (it begins from silence when the stream opens).
        let window = 4_410..<frames
        let first = window.map { values[$0 * channels] }
        if channels == 2 {
            #expect(first == window.map { values[$0 * 2 + 1] }, "both channels carry the same tone")
        }
        let tone = try #require(ToneMeasurement.measure(first, rate: 44_100), "no tone captured")
        #expect(abs(tone.frequency - toneFrequency) < 0.02, "\(format): \(tone)")
        #expect(abs(20 * log10(tone.amplitude / (toneAmplitude * 32_767))) < 0.02, "\(format): \(tone)")
        #expect(tone.thdPlusNoiseDecibels < (format.sampleFormat == .s16 ? -86 : -88), "\(format): \(tone)")
    }
}
