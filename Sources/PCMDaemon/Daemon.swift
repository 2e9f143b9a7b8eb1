// Wiring: from a validated configuration to running services. Picks the device, registers the
// device and client substreams with PCMBufferCore, starts the built-in streams, the audio
// threads and the services around them, and shuts them down in reverse order.
import ALSA
import Logging
import PCMBufferCore
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
        let playbackName = resolveDevice(config.device)
        let captureName = config.captureDevice ?? playbackName
        var services: [any Service] = []
        var controls: [DeviceControl] = []
        var reopenables: [@Sendable () -> Void] = []
        var builtIns: [BuiltInStream] = []
        var playbackProcessor: PlaybackProcessor?
        var captureProcessor: CaptureProcessor?

        let layout = config.layout
        // Each client ring holds up to four seconds of audio (or four device buffers), within
        // what the clients' virtual card may preallocate for all its slots. Rings are allocated
        // at the size a client asks for; the cap matters for applications that pick the largest
        // buffer offered (speaker-test, ffmpeg), which then queue up to it through the ALSA plugin.
        let perSlotCap = SubstreamAllocator.defaultCardLimit.value / (config.maxStreams + 1) / layout.bytesPerFrame
        let clientFrames = min(max(4 * config.rate, 4 * config.requestedBufferFrames), perSlotCap)
        if config.mode.playsBack {
            let slots = try SlotTable(allocator: allocator, card: Self.clientCardBase, direction: .playback,
                                      count: config.maxStreams + 1, layout: layout, maximumFrames: clientFrames)
            let control = try DeviceControl(stream: .playback, deviceName: playbackName)
            let processor = PlaybackProcessor(slots: slots, control: control)
            playbackProcessor = processor
            if let source = try BuiltInStream.source(config.source, table: slots, rate: config.rate, deviceBufferFrames: config.requestedBufferFrames) {
                builtIns.append(source)
                logger.info("built-in source playing", metadata: ["source": "\(config.source)"])
            }
            let service = try deviceService(name: playbackName, card: 0, direction: .playback, allocator: allocator,
                                            control: control, processor: processor)
            services.append(service)
            controls.append(control)
            reopenables.append { service.reopen() }
        }
        if config.mode.captures {
            let slots = try SlotTable(allocator: allocator, card: Self.clientCardBase + 1, direction: .capture,
                                      count: config.maxStreams + 1, layout: layout, maximumFrames: clientFrames)
            let control = try DeviceControl(stream: .capture, deviceName: captureName)
            let processor = CaptureProcessor(slots: slots, control: control)
            captureProcessor = processor
            if let sink = try BuiltInStream.sink(config.sink, table: slots, rate: config.rate, deviceBufferFrames: config.requestedBufferFrames) {
                builtIns.append(sink)
                logger.info("built-in sink recording", metadata: ["sink": "\(config.sink)"])
            }
            // The capture device is its own card in PCMBufferCore when it is not the playback one.
            let service = try deviceService(name: captureName, card: captureName == playbackName ? 0 : 1, direction: .capture,
                                            allocator: allocator, control: control, processor: processor)
            services.append(service)
            controls.append(control)
            reopenables.append { service.reopen() }
        }

        var configured: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: EventLogService(controls: controls, logger: logger)),
        ]
        configured += services.map { .init(service: $0) }
        configured.append(.init(service: ReopenOnHangup(reopen: reopenables, logger: logger)))
        // Last in the group, so it is the first to stop: clients are told before devices drain.
        let engine = ServerEngine(playback: playbackProcessor, capture: captureProcessor, controls: controls,
                                  deviceName: playbackName, layout: layout, rate: config.rate,
                                  periodFrames: config.periodFrames, bufferFrames: config.requestedBufferFrames, allocator: allocator)
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
                                                     logger: logger) {
            configured.append(.init(service: ClientService(server: server)))
        }
        // After the client service, so it is told first at shutdown: STOPPING=1 goes out as soon
        // as the stop begins. WATCHDOG=1 only while every streaming audio thread completes periods.
        let watchedControls = controls
        let status = "\(playbackName) \(config.format.name) \(config.rate) Hz \(config.channels) ch, \(config.mode.rawValue), period \(config.periodFrames)"
        configured.append(.init(service: SystemdWatchdogService(
            timeout: try SystemdNotifier.watchdogTimeout(), logger: logger,
            status: { status + "; " + watchedControls.map(\.systemdStatus).joined(separator: "; ") }
        ) { AudioThreadProgress.running(watchedControls) }))
        if let duration {
            configured.append(.init(service: StopAfter(seconds: duration), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(
            services: configured, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        defer { for stream in builtIns { stream.stop() } }
        SystemdNotifier().notify([.ready, .status(status)], orWarn: logger)
        try await group.run()
        logger.notice("pcmd stopped", metadata: [
            "xruns": "\(controls.map { "\($0.stream)=\($0.xruns)" }.joined(separator: ","))",
        ])
    }

    /// The device to open: the configured one, else the first card, else the null device.
    private func resolveDevice(_ configured: String?) -> String {
        if let configured { return configured }
        if let card = (try? DeviceList.cards())?.first(where: { !$0.pcmDevices.isEmpty }) {
            let name = card.pcmDevices[0].hardwareName()
            logger.notice("no device given: using the first sound card", metadata: ["pcm.device": "\(name)", "card.name": "\(card.name)"])
            return name
        }
        logger.warning("NO SOUND CARD FOUND: falling back to the ALSA 'null' device; nothing will be heard. Give --device to choose one.")
        return "null"
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
            throw DaemonError.device(name: name, reason: error.description)
        }
    }
}

/// SIGHUP: reopen every device.
struct ReopenOnHangup: Service {
    let reopen: [@Sendable () -> Void]
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: reopening devices")
            SystemdNotifier().notify([.reloadingNow(), .status("reopening devices (SIGHUP)")], orWarn: logger)
            for action in reopen { action() }
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
