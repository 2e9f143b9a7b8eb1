// Test fixtures: one or more valid envelopes of every message type, and a seeded random number
// generator so the fuzz tests are reproducible (a failure prints the seed that found it).

import PCMBufferCore
@testable import PCMProtocol

/// Valid messages covering every ``MessageType``, with fields chosen to exercise every encoding
/// (empty and non-ASCII strings, extreme integers, every enum case somewhere).
enum SampleMessages {
    static let format = StreamFormat(.s24Packed, rate: 44_100, channels: 2)
    static let deviceFormat = StreamFormat(.s32, rate: 48_000, channels: 8)

    static let device = DeviceInfo(
        id: AudioDeviceID(1), name: "hw:0,0", description: "HDA Intel PCH", directions: .duplex,
        format: deviceFormat, buffer: BufferGeometry(bufferFrames: 1024, periodFrames: 256),
        state: .running, xruns: 3, masterVolume: Volume(level: 0.5, muted: false), isDefault: true,
        wakeups: 1 << 40, busyNanoseconds: .max, peak: 1
    )

    static let otherDevice = DeviceInfo(
        id: AudioDeviceID(2), name: "Loopback,1", description: "", directions: .playback,
        format: deviceFormat, buffer: BufferGeometry(bufferFrames: 1024, periodFrames: 256),
        state: .failed, xruns: 0, masterVolume: Volume(level: 1, muted: true)
    )

    static let stream = StreamInfo(
        id: StreamID(7), device: AudioDeviceID(1), clientPID: 4242, clientUID: 1000, clientName: "pcmplay",
        name: "Musik ♫", direction: .playback, format: format,
        buffer: BufferGeometry(bufferFrames: 4410, periodFrames: 441), latencyMicroseconds: 105_000,
        position: 1 << 40, xruns: 0, volume: Volume(level: 1, muted: true), state: .draining, peak: 0.25
    )

    static let memory = MemoryListing(
        cardLimit: ByteCount.mebibytes(32), cards: [CardUsage(card: 0, bytesInUse: ByteCount(65_536)), CardUsage(card: 100, bytesInUse: .zero)],
        substreams: [
            SubstreamMemory(substream: SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0), status: SubstreamStatus(
                bufferType: .continuous, preallocatedBytes: ByteCount(65_536), hasPreallocatedBuffer: true, preallocationMax: ByteCount(65_536),
                hasProcEntry: true, isOpen: true, runtimeBytes: ByteCount(12_288), bufferBytesMax: nil)),
            SubstreamMemory(substream: SubstreamID(card: 101, device: 0, direction: .capture, subdevice: 31), status: SubstreamStatus(
                bufferType: nil, preallocatedBytes: .zero, hasPreallocatedBuffer: false, preallocationMax: .zero,
                hasProcEntry: false, isOpen: false, runtimeBytes: nil, bufferBytesMax: nil)),
        ])

    static let all: [Envelope] = [
        Envelope(.hello(Hello(pid: 1234, clientName: "pcmplay")), tag: 1),
        Envelope(.hello(Hello(pid: .max, clientName: "")), tag: .max),
        Envelope(.welcome(Welcome(daemonPID: 99, maxStreams: 32, daemonName: "pcmd 0.1.0")), tag: 1),
        Envelope(.ok, tag: 5),
        Envelope(.error(ErrorReply(code: .tooManyStreams, text: "the limit of 32 streams is reached")), tag: 3),
        Envelope(.error(ErrorReply(code: ErrorCode(rawValue: 999), text: "")), stream: StreamID(4)),
        Envelope(.openStream(OpenStream(direction: .capture, format: format, latencyMicroseconds: 20_000, name: "mic")), tag: 2),
        Envelope(.openStream(OpenStream(direction: .duplex, format: StreamFormat(.float32, rate: 768_000, channels: 32),
                                        latencyMicroseconds: WireLimits.maxLatencyMicroseconds, device: AudioDeviceID(9)))),
        Envelope(.streamOpened(StreamOpened(
            direction: .playback, ring: BufferGeometry(bufferFrames: 4608, periodFrames: 256), device: AudioDeviceID(1),
            deviceFormat: deviceFormat, startThresholdFrames: 4410,
            deviceBuffer: BufferGeometry(bufferFrames: 1024, periodFrames: 1024), memoryBytes: 155_648
        )), stream: StreamID(7), tag: 2),
        Envelope(.streamOpened(StreamOpened(
            direction: .capture, ring: BufferGeometry(bufferFrames: Int(UInt32.max), periodFrames: 1), device: AudioDeviceID(.max),
            deviceFormat: StreamFormat(.s16, rate: 1_000, channels: 1), startThresholdFrames: Int(UInt32.max),
            deviceBuffer: BufferGeometry(bufferFrames: 1, periodFrames: 1), memoryBytes: .max
        )), stream: StreamID(8), tag: 3),
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
        Envelope(.deviceList([device, otherDevice]), tag: 14),
        Envelope(.deviceList([]), tag: 14),
        Envelope(.listStreams, tag: 15),
        Envelope(.streamList([stream]), tag: 15),
        Envelope(.streamList([]), tag: 15),
        Envelope(.listMemory, tag: 16),
        Envelope(.memoryList(memory), tag: 16),
        Envelope(.memoryList(MemoryListing(cardLimit: nil, cards: [], substreams: [])), tag: 16),
        Envelope(.setPreallocation(SetPreallocation(substream: SubstreamID(card: 0, device: 0, direction: .capture, subdevice: 0),
                                                    kibibytes: 128)), tag: 17),
        Envelope(.setDefaultDevice(AudioDeviceID(2)), tag: 18),
        Envelope(.setDefaultDevice(AudioDeviceID(.max)), tag: 19),
        Envelope(.moveStream(AudioDeviceID(2)), stream: StreamID(7), tag: 20),
    ]

    /// The samples small enough to truncate at every length in reasonable time (all of them,
    /// since version 2 carries no audio on the wire).
    static var small: [Envelope] { all }

    /// A valid message whose payload is exactly ``WireLimits/maxPayloadBytes``: a stream list
    /// whose last entry's name pads it to the limit.
    static var largest: Envelope {
        get throws {
            let base = try Envelope(.streamList([]), tag: 1).encoded().count - WireLimits.headerBytes
            let one = try Envelope(.streamList([stream]), tag: 1).encoded().count - WireLimits.headerBytes - base
            var list = [StreamInfo](repeating: stream, count: (WireLimits.maxPayloadBytes - base) / one)
            var used = base + list.count * one
            // Grow names until the payload is full (each name at most 255 bytes).
            var index = 0
            while used < WireLimits.maxPayloadBytes, index < list.count {
                let room = min(WireLimits.maxNameBytes - list[index].clientName.utf8.count, WireLimits.maxPayloadBytes - used)
                list[index].clientName += String(repeating: "x", count: room)
                used += room
                index += 1
            }
            return Envelope(.streamList(list), tag: 1)
        }
    }
}

/// SplitMix64: a tiny, seedable generator so every random test can be replayed exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Envelope {
    /// Encodes a sample that is known to be valid (a test failure, not a crash, if it is not).
    func mustEncode() throws -> [UInt8] { try encoded() }
}

/// Builds a raw header by hand, bypassing every check, to construct bad input.
func rawHeader(
    magic: UInt32 = WireLimits.magic, version: UInt8 = WireLimits.version, type: UInt8,
    flags: UInt16 = 0, length: UInt32, stream: UInt32 = 0, tag: UInt32 = 0
) -> [UInt8] {
    var bytes: [UInt8] = []
    func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    append(magic)
    bytes.append(version)
    bytes.append(type)
    append(flags)
    append(length)
    append(stream)
    append(tag)
    return bytes
}
