// What the socket server is given: where to listen, whom to let in, its limits, and the engine
// it serves (the slot tables and controls of the device's audio threads).

import PCMBufferCore
import PCMProtocol

/// The socket server's settings.
public struct ServerConfiguration: Sendable {
    /// Who may connect.
    public var policy: AccessPolicy
    /// Most client streams at once (all clients together); more is `tooManyStreams` to that client.
    public var maxStreams: Int
    /// Most streams one connection may hold at once; more is `tooManyClientStreams`. Each
    /// stream costs a slot, shared memory charged to the clients' card and an eventfd, so
    /// without a share per connection one client could take every slot.
    public var maxStreamsPerClient = ServerConfiguration.defaultMaxStreamsPerClient
    /// Most connected clients at once (`max-clients`); more are refused with `tooManyClients`.
    public var maxClients = ServerConfiguration.defaultMaxClients
    /// Most connections one uid may hold at once (`max-clients-per-user`); nil means
    /// ``defaultClientsPerUser(maxClients:)``. Without a share per user, one local user could
    /// take every place and lock every other user out.
    public var maxClientsPerUser: Int?
    /// How long a new connection has to complete `hello`, and a client to finish a message it
    /// has begun, before it is closed with `timedOut`: a connection that does neither holds a
    /// place that a real client may need.
    public var helloTimeoutSeconds: Double = 5
    /// The buffer a client gets when it asks for latency 0, in microseconds: 200 ms. A client that
    /// does not say what it needs is a player, for which a glitch costs far more than latency; woken
    /// when half its ring is free (pcmplay's threshold) it wakes about ten times a second and always
    /// has 100 ms queued when it does. 100 ms (pw-cat's choice) still underran a few times a minute in the emulated
    /// VM tier, where a player was seen to stall for up to 200 ms. A client that needs less asks.
    public var defaultLatencyMicroseconds: UInt32 = 200_000
    /// Whether the streams of a device that goes away move to the default device (true) or are
    /// closed with `deviceUnavailable` (false, `rescue-streams = no`).
    public var rescueStreams = true
    /// How long a client may leave its queued messages unread before it is disconnected.
    public var stallTimeoutSeconds: Double = 5
    /// The daemon's name in `welcome`.
    public var daemonName = "pcmd \(PCMDaemonVersion.string)"

    public init(policy: AccessPolicy, maxStreams: Int) {
        self.policy = policy
        self.maxStreams = maxStreams
    }

    /// The built-in per-connection stream limit: a player, a recorder and headroom.
    public static let defaultMaxStreamsPerClient = 8

    /// The built-in connection limit.
    public static let defaultMaxClients = 128

    /// A quarter of the places, but never fewer than 4 (a player, a recorder, pcmctl and one
    /// more) nor more than there are: enough for one user's desktop, while three other users
    /// still find room.
    public static func defaultClientsPerUser(maxClients: Int) -> Int {
        min(maxClients, max(4, maxClients / 4))
    }

    /// The per-uid connection limit in force.
    public var clientsPerUser: Int {
        min(maxClients, maxClientsPerUser ?? Self.defaultClientsPerUser(maxClients: maxClients))
    }
}

/// The parts of the running engine the socket server feeds and reads.
public struct ServerEngine: Sendable {
    /// Every device served, ids 1, 2, ... in order; devices may be added while the daemon runs.
    public let registry: DeviceRegistry
    /// The devices now.
    public var devices: [ServedDevice] { registry.devices }
    /// Which device id 0 means; changed by `setDefaultDevice`.
    public let defaultDevice: DefaultDeviceChoice
    /// The devices' format, rate and sizes (device frames): one configuration serves them all.
    public var layout: FrameLayout
    public var rate: Int
    public var periodFrames: Int
    public var bufferFrames: Int
    /// The allocator behind the devices' and the clients' buffers, for `listMemory` and
    /// `setPreallocation`; nil in tests that serve without one.
    public var allocator: SubstreamAllocator?
    /// Where the default device's name is kept across restarts; nil: it is not kept.
    public var defaultStore: DefaultDeviceStore?

    public init(devices: [ServedDevice], defaultDevice: DefaultDeviceChoice, layout: FrameLayout, rate: Int,
                periodFrames: Int, bufferFrames: Int, allocator: SubstreamAllocator? = nil, defaultStore: DefaultDeviceStore? = nil) {
        self.registry = DeviceRegistry(devices)
        self.defaultStore = defaultStore
        self.defaultDevice = defaultDevice
        self.layout = layout
        self.rate = rate
        self.periodFrames = periodFrames
        self.bufferFrames = bufferFrames
        self.allocator = allocator
    }

    /// One device, id 1, the default (the fuzzers and tests that drive the server directly).
    public init(playback: PlaybackProcessor?, capture: CaptureProcessor?, controls: [DeviceControl], deviceName: String,
                layout: FrameLayout, rate: Int, periodFrames: Int, bufferFrames: Int, allocator: SubstreamAllocator? = nil) {
        let device = ServedDevice(id: AudioDeviceID(1), name: deviceName, description: "", playback: playback, capture: capture,
                                  controls: controls)
        self.init(devices: [device], defaultDevice: DefaultDeviceChoice(device.id), layout: layout, rate: rate,
                  periodFrames: periodFrames, bufferFrames: bufferFrames, allocator: allocator)
    }

    /// Every device's controls.
    var controls: [DeviceControl] { devices.flatMap(\.controls) }

    /// The device `id` names: 0 is the default; nil for an id no device has.
    func device(_ id: AudioDeviceID) -> ServedDevice? {
        let wanted = id == .defaultDevice ? defaultDevice.id : id
        return devices.first { $0.id == wanted }
    }

    /// The devices' format as the protocol describes it (channels capped at the protocol's limit).
    var streamFormat: PCMProtocol.StreamFormat {
        PCMProtocol.StreamFormat(layout.format, rate: rate, channels: min(layout.channels, WireLimits.maxChannels))
    }
}
