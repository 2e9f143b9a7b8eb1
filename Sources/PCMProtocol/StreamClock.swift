// A stream's state as listings report it, and the volume messages. Version 1 also pushed the
// stream's clock (position), flow control (credits) and xrun notices here once per period; in
// version 2 the daemon publishes all three in the stream's shared header (§7), where the client
// reads them without a system call and the daemon's socket thread has nothing to do per period.

/// What a stream is doing, as reported in listings.
///
/// The raw values are part of the wire protocol: never renumber a case.
public enum StreamState: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Playback: waiting for the client to fill its buffer (or send `resume`) before the clock starts.
    case prefilling = 1
    /// Moving audio; the clock advances.
    case running = 2
    /// Stopped by `pause`; the buffer is kept and the clock holds still.
    case paused = 3
    /// Playing out what was sent before `drain`; no new data is accepted until `drained`.
    case draining = 4

    public var description: String {
        switch self {
        case .prefilling: "prefilling"
        case .running: "running"
        case .paused: "paused"
        case .draining: "draining"
        }
    }
}

/// A volume and mute setting: linear amplitude in 0...1 (1 is unity gain, never amplification).
///
/// Used for one stream (`setStreamVolume`, `streamVolumeChanged`, header names the stream).
public struct Volume: Hashable, Sendable, CustomStringConvertible {
    /// Linear gain, 0 (silent) through 1 (unchanged).
    public var level: Float
    /// Whether the stream or device is silenced regardless of `level`.
    public var muted: Bool

    public init(level: Float, muted: Bool = false) {
        self.level = level
        self.muted = muted
    }

    /// Unity gain, not muted.
    public static let unity = Volume(level: 1)

    public var description: String {
        let percent = Int((level * 100).rounded())
        return muted ? "\(percent)% (muted)" : "\(percent)%"
    }
}

extension Volume: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        level = try reader.volume()
        muted = try reader.bool("muted")
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        try writer.volume(level)
        writer.bool(muted)
    }
}

/// A device's master volume: applied after the streams are mixed.
public struct MasterVolume: Hashable, Sendable {
    /// The device, or ``AudioDeviceID/defaultDevice``.
    public var device: AudioDeviceID
    /// Its level and mute.
    public var volume: Volume

    public init(device: AudioDeviceID, volume: Volume) {
        self.device = device
        self.volume = volume
    }
}

extension MasterVolume: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        device = AudioDeviceID(try reader.uint32())
        volume = try Volume(from: &reader)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint32(device.rawValue)
        try volume.encode(to: &writer)
    }
}

extension WireReader {
    mutating func streamState() throws(ProtocolError) -> StreamState {
        let raw = try uint8()
        guard let state = StreamState(rawValue: raw) else {
            throw .invalidValue(type, field: "state", value: Int64(raw))
        }
        return state
    }
}
