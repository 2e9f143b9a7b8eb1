// Wiring: from a validated configuration to running services. Picks the device, registers the
// device and client substreams with PCMBufferCore, starts the built-in streams, the audio
// threads and the services around them, and shuts them down in reverse order.
import ALSA
import Logging
import PCMBufferCore
import PCMProtocol
import ServiceLifecycle
import SystemPackage
import UnixSignals

/// The pcmd daemon: one run from start to graceful stop.
public struct Daemon: Sendable {
    public let configuration: DaemonConfiguration
    private let logger: Logger
    private let duration: Double?

    /// Virtual card numbers in PCMBufferCore: devices are 0..., client slots start here.
    static let clientCardBase = 100

    public init(configuration: DaemonConfiguration, logger: Logger, duration: Double? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.duration = duration
    }

    /// Runs until SIGTERM/SIGINT (or `duration`), then drains and stops.
    public func run() async throws {
        let config = configuration
        logger.notice("pcmd starting", metadata: [
            "version": "\(PCMDaemonVersion.string)", "alsa-lib": "\(ALSALibrary.version)", "mode": "\(config.mode.rawValue)",
        ])
        // systemd socket activation (pcmd.socket): take the inherited listener first, which also
        // clears LISTEN_FDS so that nothing this process starts mistakes the socket for its own.
        let inheritedSocket = try SystemdSocketActivation.takeListeningSocket()
        let allocator = SubstreamAllocator()
        let bell = try EventBell()
        let planned = planDevices()
        var services: [any Service] = []
        var builtIns: [BuiltInStream] = []
        var served: [ServedDevice] = []

        let layout = config.layout
        // Each client ring holds up to four seconds of audio (or four device buffers), within
        // what a clients' virtual card may preallocate for all its slots. Rings are allocated
        // at the size a client asks for; the cap matters for applications that pick the largest
        // buffer offered (speaker-test, ffmpeg), which then queue up to it through the ALSA plugin.
        let perSlotCap = SubstreamAllocator.defaultCardLimit.value / (config.maxStreams + 1) / layout.bytesPerFrame
        let clientFrames = min(max(4 * config.rate, 4 * config.requestedBufferFrames), perSlotCap)
        for (index, device) in planned.enumerated() {
            do {
                let parts = try serve(device, id: AudioDeviceID(UInt32(served.count + 1)), card: index, allocator: allocator,
                                      clientFrames: clientFrames, withBuiltIns: served.isEmpty, bell: bell)
                served.append(parts.device)
                services += parts.services
                builtIns += parts.builtIns
            } catch {
                // One device is the daemon's whole purpose; one of several is not.
                if planned.count == 1 { throw error }
                logger.error("device not served", metadata: ["pcm.device": "\(device.name)", "error": "\(error)"])
            }
        }
        guard !served.isEmpty else {
            throw DaemonError.device(name: planned.map(\.name).joined(separator: ", "), reason: "none of the devices could be served")
        }
        // The default device: the one kept from the last run when it is served again, else the first.
        let store = DefaultDeviceStore.standard(configured: config.stateDirectory)
        let remembered = store?.load()
        let initialDefault = served.first { $0.name == remembered } ?? served[0]
        if let remembered, remembered != initialDefault.name {
            logger.notice("the remembered default device is not served now; using the first", metadata: [
                "pcm.remembered": "\(remembered)", "pcm.device": "\(initialDefault.name)",
            ])
        }
        logger.info("serving devices", metadata: [
            "pcm.devices": "\(served.map { "\($0.id.rawValue)=\($0.name)" }.joined(separator: ", "))",
            "pcm.default": "\(initialDefault.name)",
        ])

        let engine = ServerEngine(devices: served, defaultDevice: DefaultDeviceChoice(initialDefault.id), layout: layout, rate: config.rate,
                                  periodFrames: config.periodFrames, bufferFrames: config.requestedBufferFrames, allocator: allocator,
                                  defaultStore: store)
        // Everything that looks at the devices asks the registry: cards plugged in later join it.
        let registry = engine.registry
        let controls: @Sendable () -> [DeviceControl] = { registry.devices.flatMap(\.controls) }
        var configured: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: EventLogService(controls: controls, logger: logger, bell: bell)),
        ]
        configured += services.map { .init(service: $0) }
        configured.append(.init(service: ReopenOnHangup(reopen: { registry.devices.flatMap(\.reopen) }, logger: logger)))
        if config.devices.isEmpty {
            // Serving every card: one plugged in later is served too.
            let cards = CardCounter(next: planned.count)
            configured.append(.init(service: HotplugService(
                registry: registry, logger: logger,
                plan: { planDevices(quiet: true) },
                serve: { device, id in
                    try serve(device, id: id, card: try cards.take(), allocator: allocator, clientFrames: clientFrames, withBuiltIns: false,
                              bell: bell)
                })))
        }
        // Last in the group, so it is the first to stop: clients are told before devices drain.
        var inheritedFD: Int32?
        if let socket = consume inheritedSocket {
            logger.info("serving the socket systemd passed", metadata: ["socket.path": "\(socket.boundPath() ?? "-")"])
            inheritedFD = socket.take().rawValue
        }
        if let server = try ClientService.makeServer(configuredPath: config.socketPath, inheritedFD: inheritedFD,
                                                     engine: engine, maxStreams: config.maxStreams,
                                                     maxClients: config.maxClients, maxClientsPerUser: config.maxClientsPerUser,
                                                     maxStreamsPerClient: config.maxStreamsPerClient,
                                                     allowedUsers: config.allowedUsers, allowedGroups: config.allowedGroups,
                                                     rescueStreams: config.rescueStreams, logger: logger) {
            configured.append(.init(service: ClientService(server: server)))
        }
        // After the client service, so it is told first at shutdown: STOPPING=1 goes out as soon
        // as the stop begins. WATCHDOG=1 only while every streaming audio thread completes periods.
        let status = "\(served.map(\.name).joined(separator: " ")) \(config.format.name) \(config.rate) Hz \(config.channels) ch, "
            + "\(config.mode.rawValue), period \(config.periodFrames)"
        configured.append(.init(service: SystemdWatchdogService(
            timeout: try SystemdNotifier.watchdogTimeout(), logger: logger,
            status: { status + "; " + controls().map(\.systemdStatus).joined(separator: "; ") }
        ) { AudioThreadProgress.running(controls()) }))
        if let duration {
            configured.append(.init(service: StopAfter(seconds: duration), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(
            services: configured, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        defer { for stream in builtIns { stream.stop() } }
        SystemdNotifier().notify([.ready, .status(status)], orWarn: logger)
        try await group.run()
        logger.notice("pcmd stopped", metadata: [
            "xruns": "\(controls().map { "\($0.stream)=\($0.xruns)" }.joined(separator: ","))",
        ])
    }

    /// The devices to serve (`DevicePlan`), with what was chosen said in the log (unless `quiet`:
    /// the hotplug service plans again at every change of /dev/snd).
    private func planDevices(quiet: Bool = false) -> [PlannedDevice] {
        let config = configuration
        let cards: [SoundCard]
        do {
            cards = try DeviceList.cards()
        } catch {
            logger.warning("cannot list sound cards", metadata: ["error": "\(error)"])
            cards = []
        }
        let planned = DevicePlan.devices(configured: config.devices, excluded: config.excludedDevices,
                                         captureDevice: config.captureDevice, cards: cards, mode: config.mode)
        if config.devices.isEmpty, !quiet {
            if planned.count == 1, planned[0].alsaName == "null" {
                logger.warning("NO SOUND CARD FOUND: falling back to the ALSA 'null' device; nothing will be heard. Give --device to choose one.")
            } else {
                logger.notice("no device given: serving every sound card", metadata: [
                    "pcm.devices": "\(planned.map(\.name).joined(separator: ", "))",
                ])
            }
        }
        return planned
    }

    /// What serving one device takes: its processors, audio-thread services and built-in streams.
    struct DeviceParts {
        var device: ServedDevice
        var services: [any Service]
        var builtIns: [BuiltInStream]
    }

    /// Sets one device up: its client slot tables (virtual cards 100 + 2·card and 101 + 2·card),
    /// its PCMBufferCore card, and an audio thread per direction it serves.
    func serve(_ device: PlannedDevice, id: AudioDeviceID, card: Int, allocator: SubstreamAllocator,
               clientFrames: Int, withBuiltIns: Bool, bell: EventBell) throws -> DeviceParts {
        let config = configuration
        let layout = config.layout
        var services: [any Service] = []
        var reopen: [@Sendable () -> Void] = []
        var controls: [DeviceControl] = []
        var builtIns: [BuiltInStream] = []
        var playback: PlaybackProcessor?
        var capture: CaptureProcessor?
        if config.mode.playsBack, device.canPlay {
            let slots = try SlotTable(allocator: allocator, card: Self.clientCardBase + 2 * card, direction: .playback,
                                      count: config.maxStreams + 1, layout: layout, maximumFrames: clientFrames)
            let control = try DeviceControl(stream: .playback, deviceName: device.name, bell: bell)
            let processor = PlaybackProcessor(slots: slots, control: control)
            if withBuiltIns, let source = try BuiltInStream.source(config.source, table: slots, rate: config.rate,
                                                                   deviceBufferFrames: config.requestedBufferFrames) {
                builtIns.append(source)
                logger.info("built-in source playing", metadata: ["source": "\(config.source)", "pcm.device": "\(device.name)"])
            }
            let service = try deviceService(name: device.alsaName, card: card, direction: .playback, allocator: allocator,
                                            control: control, processor: processor)
            services.append(service)
            reopen.append { service.reopen() }
            controls.append(control)
            playback = processor
        }
        if config.mode.captures, device.canCapture {
            let slots = try SlotTable(allocator: allocator, card: Self.clientCardBase + 2 * card + 1, direction: .capture,
                                      count: config.maxStreams + 1, layout: layout, maximumFrames: clientFrames)
            let control = try DeviceControl(stream: .capture, deviceName: device.captureName ?? device.name, bell: bell)
            let processor = CaptureProcessor(slots: slots, control: control)
            if withBuiltIns, let sink = try BuiltInStream.sink(config.sink, table: slots, rate: config.rate,
                                                               deviceBufferFrames: config.requestedBufferFrames) {
                builtIns.append(sink)
                logger.info("built-in sink recording", metadata: ["sink": "\(config.sink)", "pcm.device": "\(device.name)"])
            }
            // A separate capture device (--capture-device, with the one device served) is a card of its own.
            let captureCard = device.captureName == nil ? card : card + 1
            let service = try deviceService(name: device.captureName ?? device.alsaName, card: captureCard, direction: .capture,
                                            allocator: allocator, control: control, processor: processor)
            services.append(service)
            reopen.append { service.reopen() }
            controls.append(control)
            capture = processor
        }
        guard playback != nil || capture != nil else {
            throw DaemonError.device(name: device.name, reason: "it cannot \(config.mode.playsBack ? "play" : "record") (--mode \(config.mode.rawValue))")
        }
        let description = [device.description, device.alsaName == device.name ? "" : device.alsaName]
            .filter { !$0.isEmpty }.joined(separator: ", ")
        return DeviceParts(
            device: ServedDevice(id: id, name: device.name, description: description, playback: playback, capture: capture,
                                 controls: controls, reopen: reopen),
            services: services, builtIns: builtIns)
    }

    /// Registers the device substream with PCMBufferCore (its card on first use), preallocates
    /// its buffer, which caps the device buffer like the kernel's `prealloc`, and opens the
    /// device through a `DeviceService`.
    private func deviceService<P: PeriodProcessor>(
        name: String, card: Int, direction: StreamDirection, allocator: SubstreamAllocator,
        control: DeviceControl, processor: P
    ) throws -> DeviceService<P> {
        if (try? allocator.substreams(card: card, device: 0)) == nil {
            try allocator.addPCM(card: card, device: 0, playbackSubstreams: 1, captureSubstreams: 1)
        }
        let substream = SubstreamID(card: card, device: 0, direction: direction, subdevice: 0)
        let bytes = ByteCount(configuration.preallocationBytes)
        _ = try allocator.preallocate(substream: substream, type: .continuous, size: bytes, max: bytes)
        // The substream stays open (it has a runtime) for the whole run; every (re)open of the
        // device allocates within it, keeping the buffer when it is already large enough.
        try allocator.open(substream: substream)
        let opener = DeviceOpener(deviceName: name, direction: direction == .playback ? .playback : .capture,
                                  substream: substream, allocator: allocator, configuration: configuration)
        do {
            return try DeviceService(opener: opener, control: control, processor: processor,
                                     realtimePriority: configuration.realtimePriority, logger: logger)
        } catch {
            // Not served: the substream is closed again (its preallocation stays, as a kernel
            // substream's does whether or not it is ever opened).
            _ = try? allocator.close(substream: substream)
            throw DaemonError.device(name: name, reason: error.description)
        }
    }
}

/// SIGHUP: reopen every device (those plugged in since the start included).
struct ReopenOnHangup: Service {
    let reopen: @Sendable () -> [@Sendable () -> Void]
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: reopening devices")
            SystemdNotifier().notify([.reloadingNow(), .status("reopening devices (SIGHUP)")], orWarn: logger)
            for action in reopen() { action() }
            SystemdNotifier().notify([.ready, .status("devices reopened")], orWarn: logger)
        }
    }
}

/// Ends the run after a fixed time (`--duration`), for tests and diagnostics.
struct StopAfter: Service {
    let seconds: Double

    func run() async throws {
        let milliseconds = Int(seconds * 1000)
        // Returning ends the run; a shutdown from elsewhere cancels the sleep.
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(milliseconds)) }
    }
}
