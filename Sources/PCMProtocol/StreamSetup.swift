// Opening a stream: what the client asks for (openStream) and what the daemon grants
// (streamOpened). Since version 2 the daemon grants a ring of shared memory in the device's
// layout; the client keeps its own format, rate and channels and converts between them and the
// device's itself (in PCMClientCore), so the daemon's audio thread only ever mixes and copies.

import PCMBufferCore

/// A sample format, rate and channel count: the shape of a stream's or a device's audio.
///
/// On the wire: format `u8`, channels `u16`, rate `u32` (7 bytes).
public struct StreamFormat: Hashable, Sendable, CustomStringConvertible {
    /// How each sample is encoded (little-endian).
    public var sampleFormat: SampleFormat
    /// Frames per second, within ``WireLimits/sampleRates``.
    public var rate: Int
    /// Interleaved channels per frame, 1 through ``WireLimits/maxChannels``.
    public var channels: Int

    public init(_ sampleFormat: SampleFormat, rate: Int, channels: Int) {
        self.sampleFormat = sampleFormat
        self.rate = rate
        self.channels = channels
    }

    /// Bytes one interleaved frame occupies.
    public var bytesPerFrame: Int { sampleFormat.bytesPerSample * channels }

    public var description: String { "\(sampleFormat.name) \(rate) Hz × \(channels)" }
}

extension StreamFormat: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        sampleFormat = try reader.sampleFormat()
        channels = try reader.channels()
        rate = try reader.sampleRate()
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint8(sampleFormat.rawValue)
        try writer.channels(channels)
        try writer.sampleRate(rate)
    }
}

/// Client → daemon: open a stream (a request; answered by ``StreamOpened`` or an error).
public struct OpenStream: Hashable, Sendable {
    /// Playback, capture or both.
    public var direction: StreamMode
    /// The format the client writes and/or reads. The daemon only checks its ranges and sizes
    /// the ring from its rate; the client converts to and from the device's format itself.
    public var format: StreamFormat
    /// How much audio the client wants buffered between itself and the device, in microseconds;
    /// 0 lets the daemon choose. The daemon rounds to whole periods and clamps to what it can do.
    public var latencyMicroseconds: UInt32
    /// The device to use, or ``AudioDeviceID/defaultDevice``.
    public var device: AudioDeviceID
    /// A name for the stream in listings (`music`, `notification`), ≤ 255 bytes.
    public var name: String

    public init(
        direction: StreamMode, format: StreamFormat, latencyMicroseconds: UInt32 = 0,
        device: AudioDeviceID = .defaultDevice, name: String = ""
    ) {
        self.direction = direction
        self.format = format
        self.latencyMicroseconds = latencyMicroseconds
        self.device = device
        self.name = name
    }
}

extension OpenStream: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        direction = try reader.direction()
        format = try StreamFormat(from: &reader)
        latencyMicroseconds = try reader.uint32()
        guard latencyMicroseconds <= WireLimits.maxLatencyMicroseconds else {
            throw .invalidValue(.openStream, field: "latency", value: Int64(latencyMicroseconds))
        }
        device = AudioDeviceID(try reader.uint32())
        name = try reader.string("name", limit: WireLimits.maxNameBytes)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint8(direction.rawValue)
        try format.encode(to: &writer)
        guard latencyMicroseconds <= WireLimits.maxLatencyMicroseconds else {
            throw .invalidValue(.openStream, field: "latency", value: Int64(latencyMicroseconds))
        }
        writer.uint32(latencyMicroseconds)
        writer.uint32(device.rawValue)
        try writer.string(name, field: "name", limit: WireLimits.maxNameBytes)
    }
}

/// A buffer and period size, in frames of one side's rate.
///
/// On the wire: buffer `u32`, period `u32`; always `1 ≤ period ≤ buffer`.
public struct BufferGeometry: Hashable, Sendable, CustomStringConvertible {
    /// Frames the buffer holds.
    public var bufferFrames: Int
    /// Frames moved per period (the granularity of the device's wakeups and the clock).
    public var periodFrames: Int

    public init(bufferFrames: Int, periodFrames: Int) {
        self.bufferFrames = bufferFrames
        self.periodFrames = periodFrames
    }

    public var description: String { "buffer \(bufferFrames), period \(periodFrames)" }
}

extension BufferGeometry {
    init(from reader: inout WireReader) throws(ProtocolError) {
        let buffer = try reader.uint32()
        let period = try reader.uint32()
        guard period >= 1, period <= buffer else {
            throw .invalidValue(reader.type, field: "periodFrames", value: Int64(period))
        }
        bufferFrames = Int(buffer)
        periodFrames = Int(period)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        guard periodFrames >= 1, periodFrames <= bufferFrames else {
            throw .invalidValue(writer.type, field: "periodFrames", value: Int64(periodFrames))
        }
        try writer.frames(bufferFrames, field: "bufferFrames")
        try writer.frames(periodFrames, field: "periodFrames")
    }
}

/// Daemon → client: the stream is open (the reply to ``OpenStream``; the header names the new
/// stream). Version 2: the stream's audio moves through shared memory, and this reply describes
/// it. The bytes of this message carry two descriptors (`SCM_RIGHTS`, attached to its first
/// byte): the stream's sealed memfd, then its eventfd. The memory's own header repeats the
/// geometry (docs/protocol.md §7); a client checks that the two agree before it maps anything.
///
/// Every size is in device frames and the ring holds device-layout frames: a client whose format
/// differs converts before it writes (playback) and after it reads (capture).
public struct StreamOpened: Hashable, Sendable {
    /// The direction, as asked (``StreamMode/playback`` or ``StreamMode/capture``).
    public var direction: StreamMode
    /// The ring: its size in device frames, and the device period (the granularity at which the
    /// daemon moves frames and may wake the client).
    public var ring: BufferGeometry
    /// The device the stream was attached to (never ``AudioDeviceID/defaultDevice``).
    public var device: AudioDeviceID
    /// The device's format: the layout of every frame in the ring.
    public var deviceFormat: StreamFormat
    /// Playback: the stream starts once this many frames are in the ring (or on `resume`).
    /// `1 ≤ startThreshold ≤ ring.bufferFrames`. Capture streams start at once; the field
    /// repeats the ring size there.
    public var startThresholdFrames: Int
    /// The buffer and period the device negotiated: latency the daemon adds after the ring.
    public var deviceBuffer: BufferGeometry
    /// The size of the memfd, in bytes, which the client checks with `fstat` before mapping.
    public var memoryBytes: UInt64
    /// How many descriptors travel with this message: always ``StreamOpened/descriptorsPerStream``.
    public var descriptorCount: Int

    /// The descriptors every `streamOpened` carries: the memfd and the eventfd.
    public static let descriptorsPerStream = 2

    public init(
        direction: StreamMode, ring: BufferGeometry, device: AudioDeviceID, deviceFormat: StreamFormat,
        startThresholdFrames: Int, deviceBuffer: BufferGeometry, memoryBytes: UInt64,
        descriptorCount: Int = StreamOpened.descriptorsPerStream
    ) {
        self.direction = direction
        self.ring = ring
        self.device = device
        self.deviceFormat = deviceFormat
        self.startThresholdFrames = startThresholdFrames
        self.deviceBuffer = deviceBuffer
        self.memoryBytes = memoryBytes
        self.descriptorCount = descriptorCount
    }
}

extension StreamOpened: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        direction = try reader.direction()
        guard direction != .duplex else { throw .invalidValue(.streamOpened, field: "direction", value: Int64(direction.rawValue)) }
        ring = try BufferGeometry(from: &reader)
        device = AudioDeviceID(try reader.uint32())
        deviceFormat = try StreamFormat(from: &reader)
        let threshold = try reader.uint32()
        guard threshold >= 1, Int(threshold) <= ring.bufferFrames else {
            throw .invalidValue(.streamOpened, field: "startThreshold", value: Int64(threshold))
        }
        startThresholdFrames = Int(threshold)
        deviceBuffer = try BufferGeometry(from: &reader)
        memoryBytes = try reader.uint64()
        let descriptors = try reader.uint8()
        guard Int(descriptors) == Self.descriptorsPerStream else {
            throw .invalidValue(.streamOpened, field: "descriptors", value: Int64(descriptors))
        }
        descriptorCount = Int(descriptors)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        guard direction != .duplex else { throw .invalidValue(.streamOpened, field: "direction", value: Int64(direction.rawValue)) }
        writer.uint8(direction.rawValue)
        try ring.encode(to: &writer)
        writer.uint32(device.rawValue)
        try deviceFormat.encode(to: &writer)
        guard startThresholdFrames >= 1, startThresholdFrames <= ring.bufferFrames else {
            throw .invalidValue(.streamOpened, field: "startThreshold", value: Int64(startThresholdFrames))
        }
        writer.uint32(UInt32(startThresholdFrames))
        try deviceBuffer.encode(to: &writer)
        writer.uint64(memoryBytes)
        guard descriptorCount == Self.descriptorsPerStream else {
            throw .invalidValue(.streamOpened, field: "descriptors", value: Int64(descriptorCount))
        }
        writer.uint8(UInt8(descriptorCount))
    }
}
