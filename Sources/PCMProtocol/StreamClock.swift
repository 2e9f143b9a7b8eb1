// The messages that keep a stream flowing: credits (flow control), the pushed clock (position)
// and xrun notices. Like sndio's FLOWCTL and MOVE, the daemon pushes them once per device
// period, so a client never polls and the daemon never waits on a client.

/// What a stream is doing, as reported in ``Position`` and in listings.
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

/// Daemon → client: the client may send `frames` more playback frames.
///
/// Credits add up. A client starts with none; the daemon grants the whole granted buffer right
/// after ``StreamOpened``, then the frames the device consumed, once per period. A client that
/// sends more frames than it holds credits for is disconnected with ``ErrorCode/creditExceeded``,
/// so the daemon's per-stream buffer can never overflow and never needs to grow.
public struct Credits: Hashable, Sendable {
    /// Frames at the client's rate.
    public var frames: UInt32

    public init(frames: UInt32) { self.frames = frames }
}

extension Credits: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        frames = try reader.uint32()
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint32(frames)
    }
}

/// Daemon → client: the stream's clock, for A/V sync and latency display.
///
/// The audio time of the stream at monotonic time `t` is
/// `frames / rate + (t − timestampNanoseconds) / 1e9` while ``state`` is ``StreamState/running``.
/// A playback client's total latency is `framesWritten − frames` (all in client frames).
public struct Position: Hashable, Sendable {
    /// Playback: stream frames whose sound has left the device toward the speaker.
    /// Capture: stream frames the device has recorded. Both at the client's rate, since open.
    public var frames: UInt64
    /// Frames the daemon holds for this stream at `timestamp`: playback frames received but not
    /// yet played (stream buffer plus device buffer), or capture frames recorded but not yet sent.
    public var queuedFrames: UInt32
    /// When `frames` was true, in nanoseconds of `CLOCK_MONOTONIC`.
    public var timestampNanoseconds: UInt64
    /// What the stream is doing.
    public var state: StreamState

    public init(frames: UInt64, queuedFrames: UInt32, timestampNanoseconds: UInt64, state: StreamState) {
        self.frames = frames
        self.queuedFrames = queuedFrames
        self.timestampNanoseconds = timestampNanoseconds
        self.state = state
    }
}

extension Position: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        frames = try reader.uint64()
        queuedFrames = try reader.uint32()
        timestampNanoseconds = try reader.uint64()
        state = try reader.streamState()
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint64(frames)
        writer.uint32(queuedFrames)
        writer.uint64(timestampNanoseconds)
        writer.uint8(state.rawValue)
    }
}

/// Which way an xrun went.
///
/// The raw values are part of the wire protocol: never renumber a case.
public enum XrunKind: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Playback: the client's data was late, so the stream contributed silence.
    case underrun = 1
    /// Capture: the client did not read in time, so recorded frames were dropped.
    case overrun = 2

    public var description: String { self == .underrun ? "underrun" : "overrun" }
}

/// Daemon → client: the stream lost audio. Other streams are not affected.
public struct Xrun: Hashable, Sendable {
    /// Underrun or overrun.
    public var kind: XrunKind
    /// Frames of silence inserted (underrun) or dropped (overrun), at the client's rate.
    public var lostFrames: UInt32
    /// Xruns of this stream since it opened, this one included.
    public var count: UInt32
    /// The stream's ``Position/frames`` when it happened.
    public var atFrame: UInt64

    public init(kind: XrunKind, lostFrames: UInt32, count: UInt32, atFrame: UInt64) {
        self.kind = kind
        self.lostFrames = lostFrames
        self.count = count
        self.atFrame = atFrame
    }
}

extension Xrun: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        let raw = try reader.uint8()
        guard let kind = XrunKind(rawValue: raw) else {
            throw .invalidValue(.xrun, field: "kind", value: Int64(raw))
        }
        self.kind = kind
        lostFrames = try reader.uint32()
        count = try reader.uint32()
        atFrame = try reader.uint64()
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint8(kind.rawValue)
        writer.uint32(lostFrames)
        writer.uint32(count)
        writer.uint64(atFrame)
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
