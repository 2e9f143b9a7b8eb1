// The session target's seeds: conversations a real client has (made by the real encoder), as
// records for the harness (FuzzSession.swift): a player's whole life, a recorder, a listing
// client, two clients touching each other's stream volume and the master volume, the stream
// limits, and the deadlines (no hello; a message left half-sent).

import FuzzSupport
import PCMBufferCore
import PCMProtocol

/// Control bits of a record (see FuzzSession.swift).
private enum Record {
    static func session(_ index: UInt8) -> UInt8 { index }
    static let endOfStream: UInt8 = 4
    static let sixSecondsLater: UInt8 = 3 << 3
    static let tick: UInt8 = 3
}

private func bytes(_ envelopes: Envelope...) -> [UInt8] {
    var result: [UInt8] = []
    for envelope in envelopes {
        guard (try? envelope.encode(appendingTo: &result)) != nil else { fatalError("a seed message does not encode: \(envelope)") }
    }
    return result
}

private let hello = Envelope(.hello(Hello(pid: 1234, clientName: "pcmplay")), tag: 1)
private let playback = OpenStream(direction: .playback, format: StreamFormat(.s16, rate: 48_000, channels: 2), name: "music")
private let capture = OpenStream(direction: .capture, format: StreamFormat(.float32, rate: 44_100, channels: 1),
                                 latencyMicroseconds: 20_000, name: "mic")
/// The first stream the server opens in each input is stream 1 (the harness resets the count).
private let first = StreamID(1)

func sessionSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []

    var player = RecordWriter()
    player.record(Record.session(0), bytes(hello, Envelope(.openStream(playback), tag: 2)))
    player.record(Record.session(0), bytes(
        Envelope(.pause, stream: first, tag: 3), Envelope(.resume, stream: first, tag: 4),
        Envelope(.setStreamVolume(Volume(level: 0.5)), stream: first, tag: 5), Envelope(.drain, stream: first, tag: 6),
        Envelope(.closeStream, stream: first, tag: 7)))
    player.record(Record.session(0) | Record.endOfStream, [])
    seeds.append(("player", player.bytes))

    var recorder = RecordWriter()
    recorder.record(Record.session(1), bytes(hello, Envelope(.openStream(capture), tag: 2), Envelope(.drain, stream: first, tag: 3)))
    recorder.record(Record.session(1) | Record.endOfStream, bytes(Envelope(.closeStream, stream: first, tag: 4)))
    seeds.append(("recorder", recorder.bytes))

    var lister = RecordWriter()
    lister.record(Record.session(0), bytes(hello, Envelope(.listDevices, tag: 2), Envelope(.listStreams, tag: 3)))
    seeds.append(("lister", lister.bytes))

    var neighbours = RecordWriter()
    neighbours.record(Record.session(0), bytes(hello, Envelope(.openStream(playback), tag: 2)))
    neighbours.record(Record.session(1), bytes(
        hello, Envelope(.setStreamVolume(Volume(level: 0.1, muted: true)), stream: first, tag: 2),
        Envelope(.setMasterVolume(MasterVolume(device: .defaultDevice, volume: Volume(level: 0.8))), tag: 3),
        Envelope(.listStreams, tag: 4)))
    neighbours.record(Record.session(0), bytes(Envelope(.listStreams, tag: 3)))
    seeds.append(("neighbours", neighbours.bytes))

    var greedy = RecordWriter()
    let opens = (2..<7).map { Envelope(.openStream(playback), tag: UInt32($0)) }
    greedy.record(Record.session(0), bytes(hello) + opens.flatMap { bytes($0) })
    greedy.record(Record.session(1), bytes(hello, Envelope(.openStream(capture), tag: 2), Envelope(.openStream(capture), tag: 3)))
    seeds.append(("stream-limits", greedy.bytes))

    var silent = RecordWriter()
    silent.record(Record.session(0), [])
    silent.record(Record.tick | Record.sixSecondsLater, [])
    seeds.append(("no-hello", silent.bytes))

    var halfSent = RecordWriter()
    let listing = bytes(Envelope(.listStreams, tag: 2))
    halfSent.record(Record.session(0), bytes(hello) + listing[..<7])
    halfSent.record(Record.tick | Record.sixSecondsLater, [])
    seeds.append(("half-sent", halfSent.bytes))

    var memory = RecordWriter()
    let device = SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0)
    memory.record(Record.session(0), bytes(
        hello, Envelope(.listMemory, tag: 2), Envelope(.setPreallocation(SetPreallocation(substream: device, kibibytes: 128)), tag: 3),
        Envelope(.openStream(playback), tag: 4), Envelope(.listMemory, tag: 5),
        Envelope(.setPreallocation(SetPreallocation(substream: SubstreamID(card: 100, device: 0, direction: .playback, subdevice: 0),
                                                    kibibytes: 64)), tag: 6),
        Envelope(.setPreallocation(SetPreallocation(substream: device, kibibytes: 0)), tag: 7)))
    seeds.append(("memory", memory.bytes))

    var defaults = RecordWriter()
    defaults.record(Record.session(0), bytes(
        hello, Envelope(.setDefaultDevice(AudioDeviceID(1)), tag: 2), Envelope(.setDefaultDevice(.defaultDevice), tag: 3),
        Envelope(.setDefaultDevice(AudioDeviceID(7)), tag: 4), Envelope(.listDevices, tag: 5), Envelope(.openStream(playback), tag: 6),
        Envelope(.moveStream(AudioDeviceID(1)), stream: StreamID(1), tag: 7), Envelope(.moveStream(AudioDeviceID(9)), stream: StreamID(1), tag: 8),
        Envelope(.moveStream(AudioDeviceID(1)), stream: StreamID(99), tag: 9)))
    seeds.append(("default-device", defaults.bytes))

    var wrong = RecordWriter()
    wrong.record(Record.session(0), bytes(Envelope(.listStreams, tag: 1)))
    wrong.record(Record.session(1), bytes(hello, Envelope(.welcome(Welcome(daemonPID: 1, maxStreams: 1, daemonName: "x")), tag: 2)))
    wrong.record(Record.session(2), bytes(hello, hello))
    seeds.append(("out-of-order", wrong.bytes))
    return seeds
}
