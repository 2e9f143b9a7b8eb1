// Every message of the protocol as one Swift enum, and the envelope (stream + tag) that carries
// it. Encoding and decoding dispatch here; each payload type knows its own fields. Decoding is
// total: any byte sequence yields either an Envelope or a ProtocolError, never a trap.

/// One message of the pcmd protocol, without its header's routing fields.
///
/// See docs/protocol.md for who sends which message and when.
public enum Message: Hashable, Sendable {
    /// Client → daemon, first message. Reply: ``welcome(_:)`` or ``error(_:)``.
    case hello(Hello)
    /// Daemon → client: the connection is accepted.
    case welcome(Welcome)
    /// Daemon → client: the request with this tag succeeded.
    case ok
    /// Daemon → client: the request with this tag failed, or (tag 0) an event went wrong.
    case error(ErrorReply)
    /// Client → daemon. Reply: ``streamOpened(_:)`` (its header names the new stream) or an error.
    case openStream(OpenStream)
    /// Daemon → client: the stream in the header is open.
    case streamOpened(StreamOpened)
    /// Client → daemon: close the stream now, dropping unplayed audio. Reply: ``ok``.
    case closeStream
    /// Client → daemon: hold the stream's clock. Reply: ``ok``.
    case pause
    /// Client → daemon: run the stream (after `pause`, or to start before the buffer is full). Reply: ``ok``.
    case resume
    /// Client → daemon: play out what was sent. Reply: ``drained`` once the last frame was played.
    case drain
    /// Daemon → client: the drain with this tag is complete; the stream is prefilling again.
    case drained
    /// Client → daemon: set the volume of the stream in the header (any allowed client's stream). Reply: ``ok``.
    case setStreamVolume(Volume)
    /// Client → daemon: set a device's master volume. Reply: ``ok``.
    case setMasterVolume(MasterVolume)
    /// Daemon → owner of the stream in the header: its volume was changed by someone else.
    case streamVolumeChanged(Volume)
    /// Daemon → every client with a stream on that device: the master volume changed.
    case masterVolumeChanged(MasterVolume)
    /// Daemon → every client: a device was added, went away or came back; list them again.
    case deviceListChanged
    /// Client → daemon. Reply: ``deviceList(_:)``.
    case listDevices
    /// Daemon → client: every device.
    case deviceList([DeviceInfo])
    /// Client → daemon. Reply: ``streamList(_:)``.
    case listStreams
    /// Daemon → client: every stream of every client.
    case streamList([StreamInfo])
    /// Client → daemon. Reply: ``memoryList(_:)``.
    case listMemory
    /// Daemon → client: the allocator's cards and substreams.
    case memoryList(MemoryListing)
    /// Client → daemon: change a substream's preallocation. Reply: ``ok`` or an error.
    case setPreallocation(SetPreallocation)
    /// Client → daemon: make this device the default one (what device 0 means). Reply: ``ok``,
    /// or ``ErrorCode/noSuchDevice``.
    case setDefaultDevice(AudioDeviceID)
    /// Client → daemon: move the stream in the header (any allowed client's) to this device, as
    /// it plays; its owner notices nothing. Reply: ``ok``, ``ErrorCode/noSuchStream`` or
    /// ``ErrorCode/noSuchDevice``.
    case moveStream(AudioDeviceID)

    /// The header type byte for this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .ok: .ok
        case .error: .error
        case .openStream: .openStream
        case .streamOpened: .streamOpened
        case .closeStream: .closeStream
        case .pause: .pause
        case .resume: .resume
        case .drain: .drain
        case .drained: .drained
        case .setStreamVolume: .setStreamVolume
        case .setMasterVolume: .setMasterVolume
        case .streamVolumeChanged: .streamVolumeChanged
        case .masterVolumeChanged: .masterVolumeChanged
        case .deviceListChanged: .deviceListChanged
        case .listDevices: .listDevices
        case .deviceList: .deviceList
        case .listStreams: .listStreams
        case .streamList: .streamList
        case .listMemory: .listMemory
        case .memoryList: .memoryList
        case .setPreallocation: .setPreallocation
        case .setDefaultDevice: .setDefaultDevice
        case .moveStream: .moveStream
        }
    }
}

/// A message with the routing fields of its header: which stream, which request.
public struct Envelope: Hashable, Sendable {
    /// The stream the message concerns, or ``StreamID/connection``.
    public var stream: StreamID
    /// The request tag (echoed by replies), or 0 for events.
    public var tag: UInt32
    /// The message itself.
    public var message: Message

    public init(_ message: Message, stream: StreamID = .connection, tag: UInt32 = 0) {
        self.message = message
        self.stream = stream
        self.tag = tag
    }

    /// Appends the whole message (header and payload) to `bytes`.
    ///
    /// On failure `bytes` is left exactly as it was. Fails if a field is out of range, a string
    /// or list is too long, the payload would exceed ``WireLimits/maxPayloadBytes``, or the stream
    /// field does not suit the message type.
    public func encode(appendingTo bytes: inout [UInt8]) throws(ProtocolError) {
        let type = message.type
        guard type.streamField.allows(stream) else {
            throw .misplacedStream(type, stream: stream.rawValue)
        }
        let start = bytes.count
        MessageHeader(type: type, length: 0, stream: stream, tag: tag).encode(appendingTo: &bytes)
        // Swapping moves the caller's array into the writer without copying it.
        var writer = WireWriter(into: [], type: type)
        swap(&writer.bytes, &bytes)
        do throws(ProtocolError) {
            try message.encodePayload(to: &writer)
        } catch {
            swap(&writer.bytes, &bytes)
            bytes.removeSubrange(start...)
            throw error
        }
        swap(&writer.bytes, &bytes)
        let length = bytes.count - start - WireLimits.headerBytes
        guard length <= WireLimits.maxPayloadBytes else {
            bytes.removeSubrange(start...)
            throw .payloadTooLarge(length: UInt32(clamping: length), limit: WireLimits.maxPayloadBytes)
        }
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(length).littleEndian, toByteOffset: start + 8, as: UInt32.self)
        }
    }

    /// The whole message as a new array.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(appendingTo: &bytes)
        return bytes
    }

    /// Decodes the payload that follows an already validated header.
    ///
    /// - Parameters:
    ///   - header: The result of ``MessageHeader/decode(_:)-(UnsafeRawBufferPointer)``.
    ///   - payload: Exactly `header.length` bytes.
    public static func decode(header: MessageHeader, payload: UnsafeRawBufferPointer) throws(ProtocolError) -> Envelope {
        guard payload.count == header.length else {
            throw payload.count < header.length
                ? .truncated(header.type, needed: header.length, available: payload.count)
                : .trailingBytes(header.type, count: payload.count - header.length)
        }
        var reader = WireReader(payload, type: header.type)
        let message = try Message.decodePayload(of: header.type, from: &reader)
        try reader.finish()
        return Envelope(message, stream: header.stream, tag: header.tag)
    }

    /// Decodes exactly one whole message (header and payload) from `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Envelope {
        let header = try MessageHeader.decode(bytes)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[WireLimits.headerBytes...])
        return try decode(header: header, payload: payload)
    }

    /// Decodes exactly one whole message (header and payload) from an array.
    public static func decode(_ bytes: [UInt8]) throws(ProtocolError) -> Envelope {
        let result: Result<Envelope, ProtocolError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) in try decode(raw) }
        }
        return try result.get()
    }
}

extension Message {
    /// Appends this message's payload fields.
    func encodePayload(to writer: inout WireWriter) throws(ProtocolError) {
        switch self {
        case .hello(let payload): try payload.encode(to: &writer)
        case .welcome(let payload): try payload.encode(to: &writer)
        case .error(let payload): try payload.encode(to: &writer)
        case .openStream(let payload): try payload.encode(to: &writer)
        case .streamOpened(let payload): try payload.encode(to: &writer)
        case .setStreamVolume(let payload), .streamVolumeChanged(let payload): try payload.encode(to: &writer)
        case .setMasterVolume(let payload), .masterVolumeChanged(let payload): try payload.encode(to: &writer)
        case .deviceList(let devices): try writer.list(devices, field: "devices")
        case .streamList(let streams): try writer.list(streams, field: "streams")
        case .memoryList(let listing): try listing.encode(to: &writer)
        case .setPreallocation(let payload): try payload.encode(to: &writer)
        case .setDefaultDevice(let device), .moveStream(let device): writer.uint32(device.rawValue)
        case .ok, .closeStream, .pause, .resume, .drain, .drained, .listDevices, .listStreams, .listMemory, .deviceListChanged:
            break
        }
    }

    /// Reads the payload of a message of `type`; the caller checks for trailing bytes.
    static func decodePayload(of type: MessageType, from reader: inout WireReader) throws(ProtocolError) -> Message {
        switch type {
        case .hello: return .hello(try Hello(from: &reader))
        case .welcome: return .welcome(try Welcome(from: &reader))
        case .ok: return .ok
        case .error: return .error(try ErrorReply(from: &reader))
        case .openStream: return .openStream(try OpenStream(from: &reader))
        case .streamOpened: return .streamOpened(try StreamOpened(from: &reader))
        case .closeStream: return .closeStream
        case .pause: return .pause
        case .resume: return .resume
        case .drain: return .drain
        case .drained: return .drained
        case .setStreamVolume: return .setStreamVolume(try Volume(from: &reader))
        case .setMasterVolume: return .setMasterVolume(try MasterVolume(from: &reader))
        case .streamVolumeChanged: return .streamVolumeChanged(try Volume(from: &reader))
        case .masterVolumeChanged: return .masterVolumeChanged(try MasterVolume(from: &reader))
        case .deviceListChanged: return .deviceListChanged
        case .listDevices: return .listDevices
        case .deviceList:
            return .deviceList(try reader.list(of: DeviceInfo.self, minimumEntryBytes: DeviceInfo.minimumBytes))
        case .listStreams: return .listStreams
        case .streamList:
            return .streamList(try reader.list(of: StreamInfo.self, minimumEntryBytes: StreamInfo.minimumBytes))
        case .listMemory: return .listMemory
        case .memoryList: return .memoryList(try MemoryListing(from: &reader))
        case .setPreallocation: return .setPreallocation(try SetPreallocation(from: &reader))
        case .setDefaultDevice: return .setDefaultDevice(AudioDeviceID(try reader.uint32()))
        case .moveStream: return .moveStream(AudioDeviceID(try reader.uint32()))
        }
    }
}

extension Message: CustomStringConvertible {
    /// A one-line summary for logs and test output; lists are shown by size.
    public var description: String {
        switch self {
        case .deviceList(let devices): "deviceList(\(devices.count) devices)"
        case .streamList(let streams): "streamList(\(streams.count) streams)"
        case .memoryList(let listing): "memoryList(\(listing.substreams.count) substreams)"
        case .error(let reply): "error(\(reply))"
        default: "\(type)"
        }
    }
}

extension Envelope: CustomStringConvertible {
    public var description: String { "\(message) stream \(stream.rawValue) tag \(tag)" }
}
