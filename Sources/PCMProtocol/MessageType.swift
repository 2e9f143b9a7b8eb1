// The registry of message types: one byte in every header names what the payload is.
// Grouped by purpose in ranges of 16 so that a hex dump of traffic reads at a glance.

/// What a message is, as carried in byte 5 of the header.
///
/// The raw values are part of the wire protocol: never renumber a case. A receiver rejects any
/// value not listed here with ``ProtocolError/unknownMessageType(_:)``.
public enum MessageType: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    // Connection (0x0_)
    /// Client → daemon, first message: who the client is.
    case hello = 0x01
    /// Daemon → client: the answer to `hello`.
    case welcome = 0x02
    /// Daemon → client: a request succeeded and there is nothing more to say.
    case ok = 0x03
    /// Daemon → client: a request failed, or (tag 0) something went wrong on its own.
    case error = 0x04

    // Stream lifecycle (0x1_)
    /// Client → daemon: open a playback, capture or duplex stream.
    case openStream = 0x10
    /// Daemon → client: the stream exists; here is what was granted.
    case streamOpened = 0x11
    /// Client → daemon: close the stream at once, discarding unplayed audio.
    case closeStream = 0x12
    /// Client → daemon: stop the stream's clock, keeping its buffer.
    case pause = 0x13
    /// Client → daemon: restart a paused stream, or start a playback stream before its buffer is full.
    case resume = 0x14
    /// Client → daemon: play everything sent so far, then answer `drained`.
    case drain = 0x15
    /// Daemon → client: every frame sent before `drain` has been played.
    case drained = 0x16

    // Audio and clock (0x2_): retired in version 2. Version 1 carried audioData (0x20),
    // credits (0x21), position (0x22) and xrun (0x23) here; audio now moves through the
    // stream's shared memory and the clock and xrun counters live in its header (§7). The
    // numbers stay reserved so that a dump of old traffic never reads as something else, and a
    // receiver rejects them like any unknown type.

    // Volume (0x3_)
    /// Client → daemon: set one stream's volume and mute.
    case setStreamVolume = 0x30
    /// Client → daemon: set a device's master volume and mute.
    case setMasterVolume = 0x31
    /// Daemon → client: a stream's volume changed (sent to the stream's owner).
    case streamVolumeChanged = 0x32
    /// Daemon → client: a device's master volume changed.
    case masterVolumeChanged = 0x33
    /// Daemon → every client: a device was added (a card plugged in), went away or came back;
    /// `listDevices` tells what changed.
    case deviceListChanged = 0x34

    // Control and listing (0x4_)
    /// Client → daemon: describe every device.
    case listDevices = 0x40
    /// Daemon → client: the answer to `listDevices`.
    case deviceList = 0x41
    /// Client → daemon: describe every stream of every client.
    case listStreams = 0x42
    /// Daemon → client: the answer to `listStreams`.
    case streamList = 0x43
    /// Client → daemon: describe the allocator: every card's total, every substream.
    case listMemory = 0x44
    /// Daemon → client: the answer to `listMemory`.
    case memoryList = 0x45
    /// Client → daemon: write a substream's `prealloc`, with the kernel's rules.
    case setPreallocation = 0x46
    /// Client → daemon: make a device the default (what device 0 opens on), kept across restarts.
    case setDefaultDevice = 0x47
    /// Client → daemon: move the stream in the header (any allowed client's) to another device.
    case moveStream = 0x48

    /// Which side may send this message.
    public var sender: Sender {
        switch self {
        case .hello, .openStream, .closeStream, .pause, .resume, .drain,
             .setStreamVolume, .setMasterVolume, .listDevices, .listStreams, .listMemory, .setPreallocation, .setDefaultDevice,
             .moveStream:
            .client
        case .welcome, .ok, .error, .streamOpened, .drained,
             .streamVolumeChanged, .masterVolumeChanged, .deviceList, .streamList, .memoryList, .deviceListChanged:
            .daemon
        }
    }

    /// Whether the daemon answers this message with exactly one reply carrying the same tag.
    public var isRequest: Bool {
        switch self {
        case .hello, .openStream, .closeStream, .pause, .resume, .drain,
             .setStreamVolume, .setMasterVolume, .listDevices, .listStreams, .listMemory, .setPreallocation, .setDefaultDevice,
             .moveStream:
            true
        default:
            false
        }
    }

    /// What the header's stream field must hold for this type.
    public var streamField: StreamField {
        switch self {
        case .streamOpened, .closeStream, .pause, .resume, .drain, .drained,
             .setStreamVolume, .streamVolumeChanged, .moveStream:
            .required
        case .ok, .error:
            .optional
        case .hello, .welcome, .openStream, .setMasterVolume, .masterVolumeChanged, .deviceListChanged,
             .listDevices, .deviceList, .listStreams, .streamList, .listMemory, .memoryList, .setPreallocation,
             .setDefaultDevice:
            .forbidden
        }
    }

    /// Whether a message type names a stream in its header.
    public enum StreamField: Sendable, Hashable {
        /// The stream field must be a stream (nonzero).
        case required
        /// The stream field must be zero: the message concerns the connection.
        case forbidden
        /// Either: a reply names the stream its request named, and an error naming a stream
        /// means that stream is closed.
        case optional

        /// Whether `stream` is acceptable in the header.
        public func allows(_ stream: StreamID) -> Bool {
            switch self {
            case .required: stream != .connection
            case .forbidden: stream == .connection
            case .optional: true
            }
        }
    }

    /// The side of a connection that may send a message type.
    public enum Sender: Sendable, Hashable {
        /// Only the client sends it; a daemon never does.
        case client
        /// Only the daemon sends it; a client that does is misbehaving.
        case daemon
        /// Both sides send it. No version-2 message is sent both ways (version 1's audio data
        /// was); the case stays so that a rule written against it still reads the same.
        case either
    }

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .ok: "ok"
        case .error: "error"
        case .openStream: "openStream"
        case .streamOpened: "streamOpened"
        case .closeStream: "closeStream"
        case .pause: "pause"
        case .resume: "resume"
        case .drain: "drain"
        case .drained: "drained"
        case .setStreamVolume: "setStreamVolume"
        case .setMasterVolume: "setMasterVolume"
        case .streamVolumeChanged: "streamVolumeChanged"
        case .masterVolumeChanged: "masterVolumeChanged"
        case .deviceListChanged: "deviceListChanged"
        case .listDevices: "listDevices"
        case .deviceList: "deviceList"
        case .listStreams: "listStreams"
        case .streamList: "streamList"
        case .listMemory: "listMemory"
        case .memoryList: "memoryList"
        case .setPreallocation: "setPreallocation"
        case .setDefaultDevice: "setDefaultDevice"
        case .moveStream: "moveStream"
        }
    }
}
