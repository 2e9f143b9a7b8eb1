// The protocol target's seeds: one valid message of every type (made by the real encoder, with
// fields that reach every encoding: empty and non-ASCII strings, limits, every enum somewhere),
// each behind a control byte that aims the payload path at its own type, plus one stream of all
// of them, cut into reads of one byte.

import PCMBufferCore
import PCMProtocol

let format = StreamFormat(.s24Packed, rate: 44_100, channels: 2)
let deviceFormat = StreamFormat(.s32, rate: 48_000, channels: 8)
let device = DeviceInfo(
    id: AudioDeviceID(1), name: "hw:0,0", description: "HDA Intel PCH", directions: .duplex, format: deviceFormat,
    buffer: BufferGeometry(bufferFrames: 1024, periodFrames: 256), state: .running, xruns: 3,
    masterVolume: Volume(level: 0.5, muted: false), isDefault: true, wakeups: 1 << 40, busyNanoseconds: 123_456_789, peak: 0.5)
let streamInfo = StreamInfo(
    id: StreamID(7), device: AudioDeviceID(1), clientPID: 4242, clientUID: 1000, clientName: "pcmplay", name: "Musik ♫",
    direction: .playback, format: format, buffer: BufferGeometry(bufferFrames: 4410, periodFrames: 441),
    latencyMicroseconds: 105_000, position: 1 << 40, xruns: 0, volume: Volume(level: 1, muted: true), state: .draining, peak: 0.25)

/// Valid envelopes covering every message type.
let sampleEnvelopes: [Envelope] = [
    Envelope(.hello(Hello(pid: 1234, clientName: "pcmplay")), tag: 1),
    Envelope(.welcome(Welcome(daemonPID: 99, maxStreams: 32, daemonName: "pcmd 0.1.0")), tag: 1),
    Envelope(.ok, tag: 5),
    Envelope(.error(ErrorReply(code: .tooManyStreams, text: "the limit of 32 streams is reached")), tag: 3),
    Envelope(.openStream(OpenStream(direction: .capture, format: format, latencyMicroseconds: 20_000, name: "mic")), tag: 2),
    Envelope(.streamOpened(StreamOpened(
        direction: .playback, ring: BufferGeometry(bufferFrames: 4608, periodFrames: 256), device: AudioDeviceID(1),
        deviceFormat: deviceFormat, startThresholdFrames: 4410,
        deviceBuffer: BufferGeometry(bufferFrames: 1024, periodFrames: 1024), memoryBytes: 155_648)), stream: StreamID(7), tag: 2),
    Envelope(.closeStream, stream: StreamID(7), tag: 8),
    Envelope(.pause, stream: StreamID(7), tag: 9),
    Envelope(.resume, stream: StreamID(7), tag: 10),
    Envelope(.drain, stream: StreamID(7), tag: 11),
    Envelope(.drained, stream: StreamID(7), tag: 11),
    Envelope(.setStreamVolume(Volume(level: 0.25, muted: false)), stream: StreamID(7), tag: 12),
    Envelope(.setMasterVolume(MasterVolume(device: .defaultDevice, volume: Volume(level: 0, muted: true))), tag: 13),
    Envelope(.streamVolumeChanged(Volume(level: 1, muted: false)), stream: StreamID(7)),
    Envelope(.masterVolumeChanged(MasterVolume(device: AudioDeviceID(1), volume: Volume(level: 0.75)))),
    Envelope(.deviceListChanged),
    Envelope(.listDevices, tag: 14),
    Envelope(.deviceList([device, device]), tag: 14),
    Envelope(.listStreams, tag: 15),
    Envelope(.streamList([streamInfo]), tag: 15),
    Envelope(.listMemory, tag: 16),
    Envelope(.memoryList(MemoryListing(
        cardLimit: ByteCount.mebibytes(32), cards: [CardUsage(card: 0, bytesInUse: ByteCount(65_536))],
        substreams: [
            SubstreamMemory(substream: SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0), status: SubstreamStatus(
                bufferType: .continuous, preallocatedBytes: ByteCount(65_536), hasPreallocatedBuffer: true,
                preallocationMax: ByteCount(65_536), hasProcEntry: true, isOpen: true, runtimeBytes: ByteCount(12_288), bufferBytesMax: nil)),
        ])), tag: 16),
    Envelope(.setPreallocation(SetPreallocation(substream: SubstreamID(card: 0, device: 0, direction: .capture, subdevice: 0),
                                                kibibytes: 128)), tag: 17),
    Envelope(.setDefaultDevice(AudioDeviceID(2)), tag: 18),
    Envelope(.moveStream(AudioDeviceID(2)), stream: StreamID(7), tag: 19),
]

func protocolSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    var all: [UInt8] = []
    for envelope in sampleEnvelopes {
        guard let bytes = try? envelope.encoded() else { fatalError("a sample message does not encode: \(envelope)") }
        let type = envelope.message.type
        // The control byte selects this type's decoder for the payload path (index in allCases),
        // with one-byte reads (bit 6) for the framer.
        let index = UInt8(MessageType.allCases.firstIndex(of: type)!)
        seeds.append(("message-\(type)", [index] + bytes))
        seeds.append(("payload-\(type)", [index] + bytes[WireLimits.headerBytes...]))
        all += bytes
    }
    seeds.append(("stream-all-bytewise", [0x40] + all))
    return seeds
}
