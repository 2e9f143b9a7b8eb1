// Opening a stream: what the client asks for (openStream) and what the daemon grants
// (streamOpened). The client keeps its own format, rate and channels; the daemon converts and
// resamples between them and the device's, and says what the device runs at so the client can
// tell when no conversion happens.

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
    /// The format the client sends and/or receives; the daemon converts to and from the device's.
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
    /// Frames moved per period (the granularity of credits and clock reports).
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
/// stream). A playback stream's first ``Credits`` follow at once.
public struct StreamOpened: Hashable, Sendable {
    /// The direction, as asked.
    public var direction: StreamMode
    /// The client-side buffer the daemon granted, in frames at the client's rate. A playback
    /// client can have at most `bufferFrames` frames in flight; this is its latency budget.
    public var buffer: BufferGeometry
    /// The device the stream was attached to (never ``AudioDeviceID/defaultDevice``).
    public var device: AudioDeviceID
    /// The device's own format: when it equals the client's, no conversion takes place.
    public var deviceFormat: StreamFormat
    /// The device's hardware buffer, in device frames: latency the daemon adds after the stream's buffer.
    public var deviceBuffer: BufferGeometry

    public init(
        direction: StreamMode, buffer: BufferGeometry, device: AudioDeviceID,
        deviceFormat: StreamFormat, deviceBuffer: BufferGeometry
    ) {
        self.direction = direction
        self.buffer = buffer
        self.device = device
        self.deviceFormat = deviceFormat
        self.deviceBuffer = deviceBuffer
    }
}

extension StreamOpened: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        direction = try reader.direction()
        buffer = try BufferGeometry(from: &reader)
        device = AudioDeviceID(try reader.uint32())
        deviceFormat = try StreamFormat(from: &reader)
        deviceBuffer = try BufferGeometry(from: &reader)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint8(direction.rawValue)
        try buffer.encode(to: &writer)
        writer.uint32(device.rawValue)
        try deviceFormat.encode(to: &writer)
        try deviceBuffer.encode(to: &writer)
    }
}
