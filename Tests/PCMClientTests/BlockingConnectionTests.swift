// The synchronous client core (PCMClientCore) against the scripted daemon: writes land in the
// shared ring bit-exactly, a writer blocked on a full ring wakes with the daemon's reason when it
// hangs up, a stream whose memfd is not the size the reply announced is refused before it is
// mapped, and a 44.1 kHz client's frames are resampled in the client to the device's 48 kHz.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMBufferCore
import PCMClientCore
import PCMProtocol
import Testing

@Suite(.timeLimit(.minutes(1)))
struct BlockingConnectionTests {
    let stereo16 = StreamFormat(.s16, rate: 48_000, channels: 2)

    func ramp(frames: Int) -> [UInt8] { (0..<(frames * 4)).map { UInt8(truncatingIfNeeded: $0 &* 7) } }

    @Test func writes_landInTheSharedRing_bitExact() throws {
        let daemon = ScriptedDaemon()
        let connection = try BlockingConnection(adopting: daemon.clientFD, clientName: "sync")
        let stream = try connection.open(OpenStream(direction: .playback, format: stereo16))
        #expect(!stream.converts)
        let samples = ramp(frames: 700)
        try samples.withUnsafeBytes { try connection.writeAll($0, to: stream, wakeFrames: 512) }
        #expect(daemon.consume(stream.id) == samples)
        // In place: the region is the ring itself.
        let written = stream.withRegion(maxFrames: 10) { region in
            region.initializeMemory(as: UInt8.self, repeating: 0x42)
            return 10
        }
        #expect(written == 10)
        #expect(daemon.consume(stream.id) == [UInt8](repeating: 0x42, count: 40))
    }

    @Test func aWriterBlockedOnAFullRing_wakesWithTheDaemonsReason_whenItHangsUp() throws {
        let daemon = ScriptedDaemon()
        let connection = try BlockingConnection(adopting: daemon.clientFD, clientName: "sync")
        let stream = try connection.open(OpenStream(direction: .playback, format: stereo16))
        let full = ramp(frames: stream.ringFrames)
        try full.withUnsafeBytes { try connection.writeAll($0, to: stream, wakeFrames: 1) }
        let reason = ErrorReply(code: .shuttingDown, text: "bye")
        let before = ContinuousClock.now
        // The daemon says why and hangs up a little later, while the writer sleeps.
        Task.detached {
            usleep(50_000)
            daemon.send(Envelope(.error(reason)))
            daemon.hangUp()
        }
        #expect(throws: ClientCoreError.disconnected(reason)) {
            try connection.waitFor(stream, frames: 1, timeoutMilliseconds: 5_000)
        }
        #expect(ContinuousClock.now - before < .seconds(4), "woken by the hang-up, not by the timeout")
        #expect(throws: ClientCoreError.disconnected(reason)) { _ = try stream.write(UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    @Test func aMemfdOfTheWrongSize_isRefusedBeforeMapping() throws {
        let daemon = ScriptedDaemon { envelope, daemon in
            if case .openStream(let open) = envelope.message {
                var (opened, stream) = daemon.makeStream(StreamID(5), direction: open.direction, device: ScriptedDaemon.deviceFormat, frames: 1024)
                opened.memoryBytes += 4096  // lies about the size
                daemon.sendOpened(opened, stream, tag: envelope.tag)
            } else {
                ScriptedDaemon.standard(envelope, daemon)
            }
        }
        let connection = try BlockingConnection(adopting: daemon.clientFD, clientName: "sync")
        do {
            _ = try connection.open(OpenStream(direction: .playback, format: stereo16))
            Issue.record("a memfd whose size differs from the reply must be refused")
        } catch {
            guard case .descriptors = error else { Issue.record("expected a descriptor error, got \(error)"); return }
        }
    }

    @Test func a44kClient_isResampledInTheClient_toTheDevices48k() throws {
        let daemon = ScriptedDaemon()
        let connection = try BlockingConnection(adopting: daemon.clientFD, clientName: "sync")
        let format = StreamFormat(.s16, rate: 44_100, channels: 2)
        let stream = try connection.open(OpenStream(direction: .playback, format: format))
        #expect(stream.converts)
        // 0.5 s of a 1 kHz tone at 44.1 kHz.
        let frames = 22_050
        var samples = [Int16](repeating: 0, count: 2 * frames)
        for frame in 0..<frames {
            let value = Int16(8_000 * sin(2 * Double.pi * 1_000 * Double(frame) / 44_100))
            samples[2 * frame] = value
            samples[2 * frame + 1] = value
        }
        var device: [UInt8] = []
        var offset = 0
        let bytes = samples.withUnsafeBytes { Array($0) }
        while offset < bytes.count {
            let taken = try bytes.withUnsafeBytes { try stream.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            offset += taken * 4
            device += daemon.consume(stream.id)
        }
        while !stream.flushConversion() { device += daemon.consume(stream.id) }
        device += daemon.consume(stream.id)
        let out = device.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let outFrames = out.count / 2
        #expect(abs(outFrames - 24_000) < 64, "22,050 frames at 44.1 kHz are 24,000 at 48 kHz, got \(outFrames)")
        // Upward zero crossings of the left channel, away from the edges: 1 kHz at 48 kHz.
        let left = stride(from: 0, to: out.count, by: 2).map { out[$0] }
        let middle = Array(left[2_400..<21_600])
        let crossings = (1..<middle.count).filter { middle[$0 - 1] < 0 && middle[$0] >= 0 }
        let hertz = Double(crossings.count - 1) * 48_000 / Double(crossings.last! - crossings.first!)
        #expect(abs(hertz - 1_000) < 1, "the tone is \(hertz) Hz after resampling")
    }
}
