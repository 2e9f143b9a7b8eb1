// What `pcmctl` sees: one entry per device and one per stream (of every client), with format,
// latency, position, xruns and volume. Lists are one message each; their counts are checked
// against the bytes that remain before any array is reserved.

/// What a device is doing.
///
/// The raw values are part of the wire protocol: never renumber a case.
public enum DeviceState: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Open and streaming.
    case running = 1
    /// Known but not open (no stream uses it, or the daemon closes idle devices).
    case idle = 2
    /// Failed or unplugged; the daemon is trying to reopen it.
    case failed = 3

    public var description: String {
        switch self {
        case .running: "running"
        case .idle: "idle"
        case .failed: "failed"
        }
    }
}

/// One device in a ``Message/deviceList(_:)``.
public struct DeviceInfo: Hashable, Sendable {
    /// The number streams and `setMasterVolume` use to name it.
    public var id: AudioDeviceID
    /// The ALSA name the daemon opened (`hw:0,0`, `default`).
    public var name: String
    /// The card's description (`HDA Intel PCH`), or empty.
    public var description: String
    /// What it can do: playback, capture or both.
    public var directions: StreamMode
    /// The format the device runs at.
    public var format: StreamFormat
    /// The hardware buffer and period, in device frames.
    public var buffer: BufferGeometry
    /// Running, idle or failed.
    public var state: DeviceState
    /// Xruns of the device itself since the daemon opened it.
    public var xruns: UInt32
    /// The master volume applied after mixing.
    public var masterVolume: Volume
    /// Whether this is the default device: the one device 0 opens on.
    public var isDefault: Bool
    /// Times its audio threads woke since they started (`pcmctl top` shows the rate).
    public var wakeups: UInt64
    /// Nanoseconds its audio threads spent awake, working, since they started.
    public var busyNanoseconds: UInt64
    /// The peak level, 0...1 of full scale, of what it played or recorded lately (measured only
    /// while someone lists devices or streams; 0 otherwise).
    public var peak: Float

    public init(
        id: AudioDeviceID, name: String, description: String, directions: StreamMode,
        format: StreamFormat, buffer: BufferGeometry, state: DeviceState, xruns: UInt32,
        masterVolume: Volume, isDefault: Bool = false, wakeups: UInt64 = 0, busyNanoseconds: UInt64 = 0, peak: Float = 0
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.directions = directions
        self.format = format
        self.buffer = buffer
        self.state = state
        self.xruns = xruns
        self.masterVolume = masterVolume
        self.isDefault = isDefault
        self.wakeups = wakeups
        self.busyNanoseconds = busyNanoseconds
        self.peak = peak
    }

    /// The fewest bytes one entry can take (both strings empty).
    static let minimumBytes = 4 + 2 + 2 + 1 + 7 + 8 + 1 + 4 + 5 + 8 + 8 + 4 + 1

    /// Bit 0 of the flags byte: the default device. Other bits are refused, so that a later
    /// meaning cannot be mistaken for none.
    static let defaultFlag: UInt8 = 0x01
}

extension DeviceInfo: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        id = AudioDeviceID(try reader.uint32())
        name = try reader.string("name", limit: WireLimits.maxNameBytes)
        description = try reader.string("description", limit: WireLimits.maxNameBytes)
        directions = try reader.direction()
        format = try StreamFormat(from: &reader)
        buffer = try BufferGeometry(from: &reader)
        let rawState = try reader.uint8()
        guard let state = DeviceState(rawValue: rawState) else {
            throw .invalidValue(reader.type, field: "state", value: Int64(rawState))
        }
        self.state = state
        xruns = try reader.uint32()
        masterVolume = try Volume(from: &reader)
        wakeups = try reader.uint64()
        busyNanoseconds = try reader.uint64()
        peak = try reader.peak()
        let flags = try reader.uint8()
        guard flags & ~Self.defaultFlag == 0 else { throw .invalidValue(reader.type, field: "flags", value: Int64(flags)) }
        isDefault = flags & Self.defaultFlag != 0
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint32(id.rawValue)
        try writer.string(name, field: "name", limit: WireLimits.maxNameBytes)
        try writer.string(description, field: "description", limit: WireLimits.maxNameBytes)
        writer.uint8(directions.rawValue)
        try format.encode(to: &writer)
        try buffer.encode(to: &writer)
        writer.uint8(state.rawValue)
        writer.uint32(xruns)
        try masterVolume.encode(to: &writer)
        writer.uint64(wakeups)
        writer.uint64(busyNanoseconds)
        try writer.peak(peak)
        writer.uint8(isDefault ? Self.defaultFlag : 0)
    }
}

/// One stream in a ``Message/streamList(_:)``.
public struct StreamInfo: Hashable, Sendable {
    /// The stream's number (usable with `setStreamVolume` from any allowed client).
    public var id: StreamID
    /// The device it plays to or records from.
    public var device: AudioDeviceID
    /// The owning client's pid, from the socket's credentials.
    public var clientPID: UInt32
    /// The owning client's uid, from the socket's credentials.
    public var clientUID: UInt32
    /// The name the client gave in ``Hello``.
    public var clientName: String
    /// The name the client gave in ``OpenStream``.
    public var name: String
    /// Playback, capture or duplex.
    public var direction: StreamMode
    /// The client's format.
    public var format: StreamFormat
    /// The granted buffer and period, in client frames.
    public var buffer: BufferGeometry
    /// The stream's present latency: audio queued in its buffer plus the device's, in microseconds.
    public var latencyMicroseconds: UInt32
    /// The stream's ``Position/frames``.
    public var position: UInt64
    /// Xruns since the stream opened.
    public var xruns: UInt32
    /// The stream's volume and mute.
    public var volume: Volume
    /// What the stream is doing.
    public var state: StreamState
    /// The peak level, 0...1 of full scale, of its frames the device took (or gave) lately
    /// (measured only while someone lists; 0 otherwise).
    public var peak: Float

    public init(
        id: StreamID, device: AudioDeviceID, clientPID: UInt32, clientUID: UInt32, clientName: String,
        name: String, direction: StreamMode, format: StreamFormat, buffer: BufferGeometry,
        latencyMicroseconds: UInt32, position: UInt64, xruns: UInt32, volume: Volume, state: StreamState, peak: Float = 0
    ) {
        self.id = id
        self.device = device
        self.clientPID = clientPID
        self.clientUID = clientUID
        self.clientName = clientName
        self.name = name
        self.direction = direction
        self.format = format
        self.buffer = buffer
        self.latencyMicroseconds = latencyMicroseconds
        self.position = position
        self.xruns = xruns
        self.volume = volume
        self.state = state
        self.peak = peak
    }

    /// The fewest bytes one entry can take (both strings empty).
    static let minimumBytes = 4 * 4 + 2 + 2 + 1 + 7 + 8 + 4 + 8 + 4 + 5 + 4 + 1
}

extension StreamInfo: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        let raw = try reader.uint32()
        guard raw != 0 else { throw .invalidValue(reader.type, field: "id", value: 0) }
        id = StreamID(raw)
        device = AudioDeviceID(try reader.uint32())
        clientPID = try reader.uint32()
        clientUID = try reader.uint32()
        clientName = try reader.string("clientName", limit: WireLimits.maxNameBytes)
        name = try reader.string("name", limit: WireLimits.maxNameBytes)
        direction = try reader.direction()
        format = try StreamFormat(from: &reader)
        buffer = try BufferGeometry(from: &reader)
        latencyMicroseconds = try reader.uint32()
        position = try reader.uint64()
        xruns = try reader.uint32()
        volume = try Volume(from: &reader)
        peak = try reader.peak()
        state = try reader.streamState()
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        guard id != .connection else { throw .invalidValue(writer.type, field: "id", value: 0) }
        writer.uint32(id.rawValue)
        writer.uint32(device.rawValue)
        writer.uint32(clientPID)
        writer.uint32(clientUID)
        try writer.string(clientName, field: "clientName", limit: WireLimits.maxNameBytes)
        try writer.string(name, field: "name", limit: WireLimits.maxNameBytes)
        writer.uint8(direction.rawValue)
        try format.encode(to: &writer)
        try buffer.encode(to: &writer)
        writer.uint32(latencyMicroseconds)
        writer.uint64(position)
        writer.uint32(xruns)
        try volume.encode(to: &writer)
        try writer.peak(peak)
        writer.uint8(state.rawValue)
    }
}

extension WireReader {
    /// A peak level: a finite float32 in 0...1.
    mutating func peak() throws(ProtocolError) -> Float {
        let value = try float32()
        guard value.isFinite, value >= 0, value <= 1 else { throw .invalidValue(type, field: "peak", value: Int64(value.bitPattern)) }
        return value
    }
}

extension WireWriter {
    /// A peak level; anything outside 0...1 (or NaN) is the sender's bug, refused like a bad volume.
    mutating func peak(_ value: Float) throws(ProtocolError) {
        guard value.isFinite, value >= 0, value <= 1 else { throw .invalidValue(type, field: "peak", value: Int64(value.bitPattern)) }
        float32(value)
    }
}

extension WireReader {
    /// Reads a `u16` count and that many entries, reserving no more than the bytes left allow.
    mutating func list<Entry: WirePayload>(of _: Entry.Type, minimumEntryBytes: Int) throws(ProtocolError) -> [Entry] {
        let count = try count(minimumEntryBytes: minimumEntryBytes)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            entries.append(try Entry(from: &self))
        }
        return entries
    }
}

extension WireWriter {
    /// Writes a `u16` count and the entries.
    mutating func list<Entry: WirePayload>(_ entries: [Entry], field: String) throws(ProtocolError) {
        try count(entries.count, field: field)
        for entry in entries {
            try entry.encode(to: &self)
        }
    }
}

extension Array where Element == DeviceInfo {
    /// The device `text` names: its name as `deviceList` gives it (`PCH,0`), else its id written
    /// as a number. The one rule pcmctl, the tools and the ALSA plugin share.
    public func device(named text: String) -> DeviceInfo? {
        first { $0.name == text } ?? UInt32(text).flatMap { id in first { $0.id.rawValue == id } }
    }

    /// The devices as an error names them when a name matched none: `1 PCH,0, 2 Loopback,0`,
    /// names escaped for a terminal, or `none`.
    public var servedSummary: String {
        isEmpty ? "none" : map { "\($0.id.rawValue) \(DisplayText.escaped($0.name))" }.joined(separator: ", ")
    }
}
