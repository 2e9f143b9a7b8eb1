// Several devices at once (issue 13): which devices pcmd serves and under which names
// (`DevicePlan`, from cards described in the test), and a real daemon serving two file devices:
// a client on each, both bit-exact at the same time; `pcmctl default` choosing where device 0
// goes, kept across a restart; a device that cannot be opened left out while the other plays.
import ALSA
import Foundation
import PCMBufferCore
import PCMClient
import PCMClientCore
import PCMDaemon
import PCMProtocol
import Testing

private let stereo16 = PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2)

@Suite("DevicePlan: which devices are served, under which names")
struct DevicePlanTests {
    /// An HDA card (analog playback and capture, HDMI playback), a loopback and a capture-only USB microphone.
    let cards = [
        SoundCard(index: 0, id: "PCH", name: "HDA Intel PCH", longName: "HDA Intel PCH at 0xf7f00000", pcmDevices: [
            PCMDeviceInfo(card: 0, device: 0, id: "ALC892 Analog", name: "ALC892 Analog",
                          playback: [PCMSubdevice(index: 0, name: "subdevice #0")], capture: [PCMSubdevice(index: 0, name: "subdevice #0")]),
            PCMDeviceInfo(card: 0, device: 3, id: "HDMI 0", name: "HDMI 0", playback: [PCMSubdevice(index: 0, name: "")], capture: []),
        ]),
        SoundCard(index: 1, id: "Loopback", name: "Loopback", longName: "Loopback 1", pcmDevices: [
            PCMDeviceInfo(card: 1, device: 0, id: "Loopback PCM", name: "Loopback PCM",
                          playback: [PCMSubdevice(index: 0, name: "")], capture: [PCMSubdevice(index: 0, name: "")]),
            PCMDeviceInfo(card: 1, device: 1, id: "Loopback PCM", name: "Loopback PCM",
                          playback: [PCMSubdevice(index: 0, name: "")], capture: [PCMSubdevice(index: 0, name: "")]),
        ]),
        SoundCard(index: 2, id: "Mic", name: "USB Microphone", longName: "USB Microphone at usb-1", pcmDevices: [
            PCMDeviceInfo(card: 2, device: 0, id: "USB Audio", name: "USB Audio", playback: [], capture: [PCMSubdevice(index: 0, name: "")]),
        ]),
    ]

    @Test("no device given: every card's devices that can play, under stable names opened by card id")
    func everyCard() {
        let planned = DevicePlan.devices(configured: [], excluded: [], captureDevice: nil, cards: cards, mode: .playback)
        #expect(planned.map(\.name) == ["PCH,0", "PCH,3", "Loopback,0", "Loopback,1"])
        #expect(planned.map(\.alsaName) == ["hw:CARD=PCH,DEV=0", "hw:CARD=PCH,DEV=3", "hw:CARD=Loopback,DEV=0", "hw:CARD=Loopback,DEV=1"])
        #expect(planned[0].description == "HDA Intel PCH: ALC892 Analog")
        #expect(planned[1].canPlay && !planned[1].canCapture)
    }

    @Test("capture mode serves the devices that record, the microphone among them; duplex serves both kinds")
    func byMode() {
        let capture = DevicePlan.devices(configured: [], excluded: [], captureDevice: nil, cards: cards, mode: .capture)
        #expect(capture.map(\.name) == ["PCH,0", "Loopback,0", "Loopback,1", "Mic,0"])
        let duplex = DevicePlan.devices(configured: [], excluded: [], captureDevice: nil, cards: cards, mode: .duplex)
        #expect(duplex.map(\.name) == ["PCH,0", "PCH,3", "Loopback,0", "Loopback,1", "Mic,0"])
        #expect(duplex.last?.canPlay == false)
    }

    @Test("exclusions by stable name, by card id (the whole card) and by ALSA name")
    func exclusions() {
        let planned = DevicePlan.devices(configured: [], excluded: ["PCH,3", "Loopback", "hw:2,0"], captureDevice: nil,
                                         cards: cards, mode: .duplex)
        #expect(planned.map(\.name) == ["PCH,0"])
    }

    @Test("configured names: stable names resolve to their card, other names are served as given, once each, in order")
    func configured() {
        let planned = DevicePlan.devices(configured: ["Loopback,1", "null", "PCH,0", "Loopback,1", "Nope,0"], excluded: ["PCH,0"],
                                         captureDevice: nil, cards: cards, mode: .playback)
        #expect(planned.map(\.name) == ["Loopback,1", "null", "PCH,0", "Nope,0"], "exclusions apply only to every-card serving")
        #expect(planned.map(\.alsaName) == ["hw:CARD=Loopback,DEV=1", "null", "hw:CARD=PCH,DEV=0", "Nope,0"])
        #expect(planned[1].description.isEmpty && planned[1].canPlay && planned[1].canCapture)
    }

    @Test("no card at all: the null device; a capture device pairs with the one device served")
    func fallbacks() {
        let none = DevicePlan.devices(configured: [], excluded: [], captureDevice: nil, cards: [], mode: .playback)
        #expect(none.map(\.alsaName) == ["null"])
        let everyExcluded = DevicePlan.devices(configured: [], excluded: ["PCH", "Loopback", "Mic"], captureDevice: nil, cards: cards,
                                               mode: .duplex)
        #expect(everyExcluded.map(\.alsaName) == ["null"])
        let paired = DevicePlan.devices(configured: ["hw:0,0"], excluded: [], captureDevice: "hw:2,0", cards: cards, mode: .duplex)
        #expect(paired.count == 1 && paired[0].captureName == "hw:2,0")
    }
}

@Suite("a daemon serving several devices", .serialized, .timeLimit(.minutes(3)))
struct MultiDeviceTests {
    /// Writes `frames` to `stream` and drains it.
    func play(_ frames: [Int16], on stream: PCMStream) async throws {
        try await stream.write(frames.withUnsafeBytes { Array($0) })
        try await stream.drain()
    }

    /// Requires `played` to hold `frames` exactly, after leading silence.
    func expectBitExact(_ played: [Int16], _ frames: [Int16], _ what: String) {
        guard let start = played.firstIndex(where: { $0 != 0 }), played.count >= start + frames.count else {
            Issue.record("\(what): only \(played.count) samples, not the \(frames.count) played")
            return
        }
        #expect(Array(played[start..<(start + frames.count)]) == frames, "\(what) is not bit-exact")
    }

    @Test("two devices: a client on each plays bit-exactly at the same time; listings name both and flag the default")
    func twoDevicesAtOnce() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--device", "playout2", "--period", "256"], directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "two")
        let devices = try await connection.devices()
        #expect(devices.map(\.name) == ["playout", "playout2"])
        #expect(devices.map(\.id) == [AudioDeviceID(1), AudioDeviceID(2)])
        #expect(devices.map(\.isDefault) == [true, false])
        #expect(devices.allSatisfy { $0.state == .running }, "\(devices)")

        let first = testFrames(count: 48_000, seed: 31)
        let second = testFrames(count: 48_000, seed: 32)
        let onFirst = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 500_000, device: AudioDeviceID(1), name: "one")
        let onSecond = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 500_000, device: AudioDeviceID(2), name: "two")
        #expect(onFirst.granted.device == AudioDeviceID(1) && onSecond.granted.device == AudioDeviceID(2))
        let streams = try await connection.streams()
        #expect(Set(streams.map { "\($0.name)@\($0.device.rawValue)" }) == ["one@1", "two@2"])
        async let a: Void = play(first, on: onFirst)
        async let b: Void = play(second, on: onSecond)
        _ = try await (a, b)
        #expect(onFirst.status.underruns == 0 && onSecond.status.underruns == 0)

        // Each device has its own master volume: muting the second leaves the first alone.
        try await connection.setMasterVolume(Volume(level: 1, muted: true), device: AudioDeviceID(2))
        let muted = try await connection.devices()
        #expect(muted.map(\.masterVolume.muted) == [false, true])
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        expectBitExact(try daemon.playedSamples(), first, "device 1")
        expectBitExact(try daemon.playedSamples(file: "out2.raw"), second, "device 2")
    }

    @Test("pcmctl default sends device 0 elsewhere, refuses what is not served, and the choice survives a restart")
    func defaultDevice() async throws {
        let dir = try temporaryDirectory()
        let arguments = ["--device", "playout", "--device", "playout2", "--period", "256"]
        var daemon = try await ServedDaemon.start(arguments, directory: dir)
        let socket = ["--socket", daemon.socket]
        let shown = try ToolProcess.run("pcmctl", ["default"] + socket)
        #expect(shown.status == 0 && String(decoding: shown.stdout, as: UTF8.self) == "playout\n", "\(shown.stderr)")
        let set = try ToolProcess.run("pcmctl", ["default", "playout2"] + socket)
        #expect(set.status == 0, "\(set.stderr)")
        let table = String(decoding: try ToolProcess.run("pcmctl", ["devices"] + socket).stdout, as: UTF8.self)
        let row = table.split(separator: "\n").first { $0.contains("playout2") }
        #expect(row?.contains(" yes ") == true, "\(table)")
        let unknown = try ToolProcess.run("pcmctl", ["default", "speakers"] + socket)
        #expect(unknown.status != 0 && unknown.stderr.contains("the daemon serves: 1 playout, 2 playout2"), "\(unknown.stderr)")

        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "chooser")
        let stream = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 200_000)
        #expect(stream.granted.device == AudioDeviceID(2), "device 0 must open on the new default")
        try await stream.close()
        for bad in [AudioDeviceID.defaultDevice, AudioDeviceID(3), AudioDeviceID(.max)] {
            do {
                try await connection.setDefaultDevice(bad)
                Issue.record("setDefaultDevice(\(bad.rawValue)) was accepted")
            } catch {
                guard case .refused(let reply) = error else { throw error }
                #expect(reply.code == .noSuchDevice)
            }
        }
        #expect(try await connection.devices().map(\.isDefault) == [false, true], "a refusal changed nothing")
        connection.close()
        #expect(try daemon.stop().status == 0)

        daemon = try await ServedDaemon.start(arguments, directory: dir)
        let again = try await PCMConnection.connect(path: daemon.socket, clientName: "after restart")
        #expect(try await again.devices().map(\.isDefault) == [false, true], "the default was not kept across the restart")
        again.close()
        // Served without it, the remembered device gives way to the first one.
        #expect(try daemon.stop().status == 0)
        daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let alone = try await PCMConnection.connect(path: daemon.socket, clientName: "alone")
        #expect(try await alone.devices().map(\.isDefault) == [true])
        alone.close()
        let result = try daemon.stop()
        #expect(result.status == 0)
        #expect(result.log.contains("the remembered default device is not served now"), "\(result.log)")
    }

    @Test("pcmctl move: a playing stream goes on on the other device from the next frame, nothing skipped or repeated, and back")
    func moveWhilePlaying() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--device", "playout2", "--period", "256"], directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "mover")
        let frames = testFrames(count: 3 * 48_000, seed: 34)  // 3 s, every frame distinct
        let stream = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 300_000, device: AudioDeviceID(1), name: "moving")
        let writer = Task { try await play(frames, on: stream) }
        try await Task.sleep(for: .milliseconds(1000))
        let moved = try ToolProcess.run("pcmctl", ["move", "\(stream.id.rawValue)", "playout2", "--socket", daemon.socket])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(try await connection.streams().first { $0.name == "moving" }?.device == AudioDeviceID(2))
        // Refusals leave the stream where it is.
        for (arguments, expected) in [(["\(stream.id.rawValue)", "speakers"], "no device"), (["999", "playout"], "no stream 999")] {
            let refused = try ToolProcess.run("pcmctl", ["move"] + arguments + ["--socket", daemon.socket])
            #expect(refused.status != 0 && refused.stderr.contains(expected), "\(arguments): \(refused.stderr)")
        }
        try await writer.value
        #expect(stream.status.underruns == 0, "the move made the stream underrun")
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.contains("stream moved"), "\(result.log)")

        // Device 1 played the start and device 2 the rest, meeting at one frame.
        let first = try daemon.playedSamples()
        let second = try daemon.playedSamples(file: "out2.raw")
        let start = try #require(first.firstIndex { $0 != 0 }, "nothing reached device 1")
        var split = start
        while split < first.count, split - start < frames.count, first[split] == frames[split - start] { split += 1 }
        let onFirst = split - start
        #expect(onFirst % 2 == 0 && onFirst > 0 && onFirst < frames.count, "device 1 played \(onFirst) of \(frames.count) samples")
        #expect(first[split...].allSatisfy { $0 == 0 }, "device 1 played something after the move that was not the stream's next frame")
        let rest = Array(frames[onFirst...])
        let resume = try #require(second.firstIndex { $0 != 0 }, "nothing reached device 2")
        try #require(second.count >= resume + rest.count, "device 2 played only \(second.count - resume) of the \(rest.count) samples left")
        #expect(Array(second[resume..<(resume + rest.count)]) == rest, "device 2 did not continue at the frame device 1 stopped at")
    }

    @Test("a device that is gone: listed as failed, and a stream asked of it opens on the other one (rescue-streams)")
    func goneDeviceRescued() async throws {
        let dir = try temporaryDirectory()
        // A card that is not plugged in: served (pcmd waits for it), but gone.
        let daemon = try await ServedDaemon.start(["--device", "hw:Ghost,0", "--device", "playout", "--period", "256"],
                                                  directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "rescued")
        let devices = try await connection.devices()
        #expect(devices.map(\.name) == ["hw:Ghost,0", "playout"])
        #expect(devices.map(\.state) == [.failed, .running], "\(devices)")
        let frames = testFrames(count: 24_000, seed: 35)
        let stream = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 500_000, device: AudioDeviceID(1))
        #expect(stream.granted.device == AudioDeviceID(2), "the stream opened on the device that is gone")
        try await play(frames, on: stream)
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
        expectBitExact(try daemon.playedSamples(), frames, "the rescued stream")
    }

    @Test("rescue-streams = no: a stream asked of a device that is gone is refused with deviceUnavailable, an unknown name with noSuchDevice, the other device still serves")
    func goneDeviceNotRescued() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "hw:Ghost,0", "--device", "playout", "--period", "256",
                                                   "--rescue-streams", "no"], directory: dir)
        let client = try BlockingConnection.connect(path: daemon.socket, clientName: "unrescued")
        var refusal: ErrorReply?
        do throws(ClientCoreError) {
            let stream = try client.open(OpenStream(direction: .playback, format: stereo16, device: AudioDeviceID(1)))
            try client.close(stream)
        } catch {
            guard case .refused(let reply) = error else { throw error }
            refusal = reply
        }
        #expect(refusal?.code == .deviceUnavailable, "\(String(describing: refusal))")
        // The tools' name lookup (pcmplay --device): a name or an id finds the device; a name that
        // matches none is refused before anything is opened, the devices there are listed.
        #expect(try client.resolveDevice("playout") == AudioDeviceID(2))
        #expect(try client.resolveDevice("2") == AudioDeviceID(2))
        var unknown: ErrorReply?
        do throws(ClientCoreError) { _ = try client.resolveDevice("NoSuch,0") } catch {
            guard case .refused(let reply) = error else { throw error }
            unknown = reply
        }
        #expect(unknown?.code == .noSuchDevice)
        #expect(unknown?.text == "no device named NoSuch,0; pcmd serves 1 hw:Ghost,0, 2 playout", "\(String(describing: unknown))")
        // The refusals are for that stream alone: the same connection opens on the device that is there.
        let stream = try client.open(OpenStream(direction: .playback, format: stereo16, device: AudioDeviceID(2)))
        #expect(stream.opened.device == AudioDeviceID(2))
        try client.close(stream)
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }

    @Test("a device that cannot be opened is left out, said in the log, and the other one plays")
    func brokenDeviceLeftOut() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "nosuchpcm", "--device", "playout", "--period", "256"], directory: dir)
        let connection = try await PCMConnection.connect(path: daemon.socket, clientName: "survivor")
        let devices = try await connection.devices()
        #expect(devices.map(\.name) == ["playout"] && devices.first?.id == AudioDeviceID(1) && devices.first?.isDefault == true)
        let frames = testFrames(count: 24_000, seed: 33)
        let stream = try await connection.openPlayback(format: stereo16, latencyMicroseconds: 500_000)
        try await play(frames, on: stream)
        connection.close()
        let result = try daemon.stop()
        #expect(result.status == 0)
        #expect(result.log.contains("device not served") && result.log.contains("nosuchpcm"), "\(result.log)")
        expectBitExact(try daemon.playedSamples(), frames, "the device that opened")
    }
}
