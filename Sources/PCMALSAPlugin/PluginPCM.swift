// One ALSA PCM served by pcmd: an application's `snd_pcm_open("pcmd")`. It holds a connection of
// its own and, between prepare and stop, one shared-memory stream. The application's frames go
// straight into the stream's ring in `transfer` (the only copy, the one any ALSA write makes);
// the hardware pointer is the daemon's position read from shared memory (BufferMapping); the
// descriptor the application polls is the plugin's epoll set (PluginPollSet). No thread of the
// plugin's own runs inside the application, and nothing happens per period unless the
// application calls.
//
// What the daemon's stream does, against what alsa-lib's state says the application did:
// prepare opens a stream and holds it paused, so the daemon never starts it early; start
// resumes it once the ring holds what the device needs for its first periods; drop closes it
// (the only way to discard queued audio) and the next prepare opens a fresh one.

#if canImport(Glibc)
import Glibc
#endif
import ALSA
import CLinux
import PCMBufferCore
import PCMClientCore
import PCMProtocol
import Synchronization

/// An ALSA PCM backed by a pcmd stream.
final class PluginPCM: ExternalPCMDriver {
    /// What the daemon's side of the PCM is doing.
    enum Phase: Equatable {
        /// No hw_params yet (or after hw_free): no format, no stream.
        case unconfigured
        /// A format and no stream: after hw_params, after stop.
        case idle
        /// A stream is open and held paused; the application may prefill it.
        case prepared
        /// The application started, but the ring holds less than the device takes in its first
        /// periods: the daemon stays paused until it does (or a device period passed, or drain).
        case waitingForFrames(since: UInt64)
        /// The daemon plays (or records) the stream.
        case running
        /// The application paused; `daemonRunning` says whether the daemon was paused too.
        case paused(daemonRunning: Bool)
    }

    let direction: ExternalPCMDirection
    private let settings: PluginSettings
    private let connection: BlockingConnection
    private var pollSet: PluginPollSet
    /// alsa-lib calls prepare, drain and the poll callbacks without its own lock: an application
    /// may drive one PCM from several threads.
    private let lock = Locked<Void>(())
    private var phase = Phase.unconfigured
    private var setup: ExternalPCMSetup?
    private var software: ExternalPCMSoftwareSetup?
    private var stream: ClientStream?
    private var mapping: BufferMapping?
    /// Application frames written (playback) or read (capture) since prepare.
    private var transferred: UInt64 = 0
    /// The daemon's underrun (playback) or overrun (capture) count when the stream last started.
    private var xrunBaseline: UInt64 = 0
    private var lastEventCheck: UInt64 = 0
    private let streamName: String
    /// The device the stream opens on, as the daemon numbers it (resolved from a name at open).
    private let device: AudioDeviceID

    /// How often, at most, pointer() looks at the socket for an event or a hang-up, for
    /// applications that never poll.
    static let eventCheckNanoseconds: UInt64 = 100_000_000

    /// What the plugin accepts: pcmd's formats and every channel count and rate the protocol
    /// carries (the plugin converts to the device's); buffers as large as the peers' plugins
    /// allow, periods of at most 64 KiB (341 ms of 16-bit stereo at 48 kHz), so that avail_min,
    /// which alsa-lib never lets below a period, always fits in the ring the daemon grants.
    static let capabilities = ExternalPCMCapabilities(
        formats: [.s16, .s24, .s24Packed, .s32, .float32], channels: 1...WireLimits.maxChannels,
        rates: Int(WireLimits.sampleRates.lowerBound)...Int(WireLimits.sampleRates.upperBound),
        periodBytes: 64...(64 << 10), bufferBytes: 128...(4 << 20), periods: 2...1024)

    private init(direction: ExternalPCMDirection, settings: PluginSettings, connection: BlockingConnection,
                 pollSet: consuming PluginPollSet, streamName: String, device: AudioDeviceID) {
        self.direction = direction
        self.device = device
        self.settings = settings
        self.connection = connection
        self.pollSet = pollSet
        self.streamName = streamName
    }

    /// The plugin's answer to `snd_pcm_open`: a PCM, the configured fallback, or why not.
    static func open(_ request: ExternalPCMOpenRequest) -> ExternalPCMOpenOutcome {
        let settings: PluginSettings
        do throws(PluginSettings.Failure) {
            settings = try PluginSettings(request.configuration)
        } catch {
            return .failed(ExternalPCMError(EINVAL), message: error.description)
        }
        let program = programName()
        let connection: BlockingConnection
        let device: AudioDeviceID
        do throws(ClientCoreError) {
            connection = try BlockingConnection.connect(path: settings.socket, clientName: program)
            device = try checkDevice(settings.device, direction: request.direction, on: connection)
        } catch {
            if let fallback = settings.fallback { return .fallback(fallback) }
            let advice = if case .noDaemon = error {
                "; start it (systemctl --user start pcmd, or pcmd), or set `fallback` in the pcm.\(request.name) block"
            } else { "" }
            return .failed(ExternalPCMError(errno(for: error)), message: "\(error)\(advice)")
        }
        let pollSet: PluginPollSet
        do throws(PluginPollSet.Failure) {
            pollSet = try PluginPollSet()
        } catch {
            return .failed(ExternalPCMError(error.errno), message: "\(error.call) failed: errno \(error.errno)")
        }
        guard pollSet.watch(connection.socketDescriptor) else {
            let code = Glibc.errno
            return .failed(ExternalPCMError(code), message: "epoll_ctl failed: errno \(code)")
        }
        let pcm = PluginPCM(direction: request.direction, settings: settings, connection: connection, pollSet: pollSet,
                            streamName: settings.streamName ?? program, device: device)
        return .driver(pcm, capabilities)
    }

    /// Fails the open early, with a sentence, when the device does not exist or cannot go this way.
    /// Returns the device's id: the one named, or for the default device the id it has now.
    private static func checkDevice(_ wanted: PluginDevice, direction: ExternalPCMDirection,
                                    on connection: BlockingConnection) throws(ClientCoreError) -> AudioDeviceID {
        let devices = try connection.devices()
        let found: DeviceInfo? = switch wanted {
        case .id(0): devices.first(where: \.isDefault) ?? devices.first
        case .id(let id): devices.first { $0.id == AudioDeviceID(id) }
        case .name(let name): devices.device(named: name)
        }
        guard let device = found else {
            let what = switch wanted {
            case .id(let id): "no device \(id)"
            case .name(let name): "no device named \(DisplayText.escaped(name))"
            }
            throw .refused(ErrorReply(code: .noSuchDevice, text: "pcmd has \(what); it serves \(devices.servedSummary)"))
        }
        let supported = direction == .playback ? device.directions != .capture : device.directions != .playback
        guard supported else {
            throw .refused(ErrorReply(code: .unsupportedFormat,
                                      text: "pcmd's device \(device.name) does not \(direction == .playback ? "play" : "record")"))
        }
        // The default device is followed as the daemon has it when each stream opens.
        if case .id(0) = wanted { return .defaultDevice }
        return device.id
    }

    var pollDescriptor: Int32 { pollSet.descriptor }

    // MARK: - Setup

    /// Opens the stream at once: the ring the daemon grants decides what avail_min can be
    /// (sw_params comes next), and a format the daemon refuses fails hw_params, where
    /// applications expect it.
    func hardwareParametersChosen(_ setup: ExternalPCMSetup) throws(ExternalPCMError) {
        try lock.withLock { _ throws(ExternalPCMError) in
            closeStream()
            self.setup = setup
            phase = .idle
            try checkConnection()
            try openStream(setup)
        }
    }

    func hardwareParametersFreed() {
        lock.withLock { _ in
            closeStream()
            setup = nil
            phase = .unconfigured
        }
    }

    func softwareParametersChosen(_ software: ExternalPCMSoftwareSetup) throws(ExternalPCMError) -> ExternalPCMSoftwareSetup {
        lock.withLock { _ in
            var applied = software
            // Waiting until the whole ring is free would let it run dry before every refill:
            // an avail_min the ring cannot reach becomes half of what it can.
            if let mapping, applied.availMin > mapping.largestAvailable { applied.availMin = max(mapping.largestAvailable / 2, 1) }
            self.software = applied
            publishWakeThreshold()
            return applied
        }
    }

    func prepare() throws(ExternalPCMError) {
        try lock.withLock { _ throws(ExternalPCMError) in
            try checkConnection()
            guard let setup else { throw ExternalPCMError(EBADFD) }
            // alsa-lib prepares right after hw_params and applications often prepare again: a
            // stream nobody has written to yet is reused.
            if phase == .prepared, transferred == 0, stream != nil {
                refreshReadiness()
                return
            }
            closeStream()
            try openStream(setup)
        }
    }

    /// Opens a stream for `setup`, holds it paused, and watches its eventfd.
    private func openStream(_ setup: ExternalPCMSetup) throws(ExternalPCMError) {
        let format = StreamFormat(setup.format, rate: setup.rate, channels: setup.channels)
        let request = OpenStream(direction: direction == .playback ? .playback : .capture, format: format,
                                 latencyMicroseconds: latencyMicroseconds(for: setup), device: device,
                                 name: streamName)
        let opened: ClientStream
        do throws(ClientCoreError) {
            opened = try connection.open(request)
            stream = opened
            try connection.pause(opened)
        } catch {
            closeStream()
            ExternalPCMEntry.report(streamName, "pcmd did not open the stream: \(error)")
            throw ExternalPCMError(Self.errno(for: error))
        }
        _ = pollSet.watch(opened.wakeDescriptor)
        mapping = BufferMapping(applicationRate: setup.rate, deviceRate: opened.opened.deviceFormat.rate, ringFrames: opened.ringFrames,
                                bufferFrames: setup.bufferFrames, converts: opened.converts,
                                hiddenFrames: hiddenFrames(for: setup, deviceRate: opened.opened.deviceFormat.rate,
                                                           devicePeriod: opened.opened.deviceBuffer.periodFrames))
        transferred = 0
        phase = .prepared
        opened.memory.publishWaiting(true)
        publishWakeThreshold()
        refreshReadiness()
    }

    /// The queue kept out of the application's sight: what `latency_ms` asks for, and at least
    /// enough that a buffer smaller than two device periods (which could never keep the device
    /// fed) is topped up to two. Zero for every buffer of two device periods or more.
    private func hiddenFrames(for setup: ExternalPCMSetup, deviceRate: Int, devicePeriod: Int) -> Int {
        let periodFrames = Int(BufferMapping.scale(UInt64(max(devicePeriod, 1)), by: setup.rate, over: max(deviceRate, 1))) + 1
        let least = max(settings.latencyMilliseconds * setup.rate / 1000, 2 * periodFrames)
        return max(least - setup.bufferFrames, 0)
    }

    /// The ring to ask for: the application's buffer (plus conversion slack and a millisecond),
    /// or the configured least latency when that is more. The daemon adds its own floor.
    private func latencyMicroseconds(for setup: ExternalPCMSetup) -> UInt32 {
        let frames = UInt64(setup.bufferFrames + 2 * BufferMapping.conversionSlack)
        let buffer = (frames * 1_000_000 + UInt64(setup.rate) - 1) / UInt64(setup.rate) + 1_000
        let wanted = max(buffer, UInt64(settings.latencyMilliseconds) * 1_000)
        return UInt32(min(wanted, UInt64(WireLimits.maxLatencyMicroseconds)))
    }

    // MARK: - Running

    func start() throws(ExternalPCMError) {
        try lock.withLock { _ throws(ExternalPCMError) in
            try checkConnection()
            guard let stream else { throw ExternalPCMError(EBADFD) }
            if direction == .capture || stream.filledFrames >= startFloor(stream) {
                try resumeDaemon()
            } else {
                phase = .waitingForFrames(since: MonotonicClock.nanoseconds())
            }
        }
    }

    /// The ring fill at which the daemon starts a started playback stream: two device periods
    /// (the daemon takes one per period and counts a short one as an underrun), within the ring.
    private func startFloor(_ stream: ClientStream) -> Int {
        min(2 * max(stream.opened.deviceBuffer.periodFrames, 1), stream.ringFrames * 3 / 4)
    }

    /// Resumes a started playback stream that was waiting for frames, once it has them or once
    /// a device period went by (a short sound must still play).
    private func resumeIfWaitedEnough() throws(ExternalPCMError) {
        guard case .waitingForFrames(let since) = phase, let stream else { return }
        let period = UInt64(max(stream.opened.deviceBuffer.periodFrames, 1)) * 1_000_000_000 / UInt64(max(stream.opened.deviceFormat.rate, 1))
        if stream.filledFrames >= startFloor(stream) || MonotonicClock.nanoseconds() &- since >= period {
            try resumeDaemon()
        }
    }

    private func resumeDaemon() throws(ExternalPCMError) {
        guard let stream else { throw ExternalPCMError(EBADFD) }
        do throws(ClientCoreError) {
            try connection.resume(stream)
        } catch {
            throw ExternalPCMError(Self.errno(for: error))
        }
        xrunBaseline = direction == .playback ? stream.memory.underruns() : stream.memory.overruns()
        phase = .running
    }

    func stop() {
        lock.withLock { _ in
            closeStream()
            phase = setup == nil ? .unconfigured : .idle
        }
    }

    func pause(_ enable: Bool) throws(ExternalPCMError) {
        try lock.withLock { _ throws(ExternalPCMError) in
            try checkConnection()
            guard let stream else { throw ExternalPCMError(EBADFD) }
            do throws(ClientCoreError) {
                if enable {
                    let daemonRunning = phase == .running
                    if daemonRunning { try connection.pause(stream) }
                    phase = .paused(daemonRunning: daemonRunning)
                    stream.memory.publishWaiting(false)  // no wakes while nobody can use them
                } else if case .paused(let daemonRunning) = phase {
                    if daemonRunning { try connection.resume(stream) }
                    phase = daemonRunning ? .running : .waitingForFrames(since: MonotonicClock.nanoseconds())
                    stream.memory.publishWaiting(true)
                    refreshReadiness()
                }
            } catch {
                throw ExternalPCMError(Self.errno(for: error))
            }
        }
    }

    func drain() throws(ExternalPCMError) {
        try lock.withLock { _ throws(ExternalPCMError) in
            guard direction == .playback, let stream else { return }
            try checkConnection()
            guard transferred > 0 else { return }
            if phase != .running { try resumeDaemon() }
            do throws(ClientCoreError) {
                try connection.drain(stream)
            } catch {
                throw ExternalPCMError(Self.errno(for: error))
            }
        }
    }

    // MARK: - Positions

    func pointer() -> ExternalPCMPosition {
        lock.withLock { _ in
            checkEventsNowAndThen()
            if isDisconnected { return .disconnected }
            guard let stream, let mapping else { return .queued(0) }
            if (try? resumeIfWaitedEnough()) == nil { return .disconnected }
            if xrunPending(stream) { return .xrun }
            let daemon = stream.memory.daemonPosition()
            return .queued(direction == .playback
                ? mapping.playbackQueued(transferred: transferred, consumed: daemon)
                : mapping.captureQueued(produced: daemon, transferred: transferred, held: stream.conversionHeldFrames))
        }
    }

    /// Whether the daemon counted an underrun (overrun) since the stream started, and the
    /// application wants to hear about it.
    private func xrunPending(_ stream: ClientStream) -> Bool {
        guard phase == .running, software?.reportsXruns ?? true else { return false }
        return (direction == .playback ? stream.memory.underruns() : stream.memory.overruns()) > xrunBaseline
    }

    func transfer(_ bytes: UnsafeMutableRawBufferPointer, frames: Int) throws(ExternalPCMError) -> Int {
        try lock.withLock { _ throws(ExternalPCMError) -> Int in
            guard let stream else { throw ExternalPCMError(isDisconnected ? ENODEV : EBADFD) }
            let moved: Int
            do throws(ClientCoreError) {
                moved = direction == .playback ? try stream.write(UnsafeRawBufferPointer(bytes)) : try stream.read(into: bytes)
            } catch {
                throw ExternalPCMError(Self.errno(for: error))
            }
            transferred &+= UInt64(moved)
            if direction == .playback { try resumeIfWaitedEnough() }
            if !isReady() { pollSet.reset(streamEvent: stream.wakeDescriptor) }
            // alsa-lib offers only what pointer() said is free, which the ring always holds;
            // returning 0 would make it offer the same again forever.
            guard moved > 0 || frames == 0 else { throw ExternalPCMError(EIO) }
            return moved
        }
    }

    func delay() throws(ExternalPCMError) -> Int {
        try lock.withLock { _ throws(ExternalPCMError) -> Int in
            if isDisconnected { throw ExternalPCMError(ENODEV) }
            guard let stream, let mapping else { return 0 }
            let daemon = stream.memory.daemonPosition()
            // Frames between the daemon's position and the speaker (or microphone) now: what the
            // device buffer held at the last period, less the time since.
            var device: UInt64 = 0
            if phase == .running, let clock = stream.memory.readClock() {
                let elapsed = MonotonicClock.nanoseconds() &- clock.monotonicNanoseconds
                let elapsedFrames = BufferMapping.scale(elapsed, by: stream.opened.deviceFormat.rate, over: 1_000_000_000)
                device = direction == .playback
                    ? (clock.deviceDelay > elapsedFrames ? clock.deviceDelay - elapsedFrames : 0)
                    : min(elapsedFrames, UInt64(stream.opened.deviceBuffer.periodFrames))
            }
            let queued = direction == .playback
                ? mapping.playbackInFlight(transferred: transferred, consumed: daemon)
                : mapping.captureReadable(produced: daemon, transferred: transferred, held: stream.conversionHeldFrames)
            return queued + Int(clamping: mapping.applicationFrames(fromDevice: device))
        }
    }

    // MARK: - Polling

    func pollReadiness(descriptorReadable: Bool) -> ExternalPCMReadiness {
        lock.withLock { _ in
            if descriptorReadable { _ = try? connection.receiveEvents() }
            if isDisconnected { return .disconnected }
            if (try? resumeIfWaitedEnough()) == nil { return .disconnected }
            if isReady() {
                if !descriptorReadable { pollSet.signal() }
                return .ready
            }
            pollSet.reset(streamEvent: stream?.wakeDescriptor)
            // The daemon may have made room between the check and the reset.
            if isReady() {
                pollSet.signal()
                return .ready
            }
            return .notReady
        }
    }

    /// Whether the application can write (read) avail_min frames now, or has an xrun to hear
    /// about. Without a stream the answer is yes: alsa-lib then reports the state's error.
    private func isReady() -> Bool {
        guard let stream, let mapping else { return true }
        if xrunPending(stream) { return true }
        let availMin = min(max(software?.availMin ?? 1, 1), mapping.largestAvailable)
        let daemon = stream.memory.daemonPosition()
        switch (direction, phase) {
        case (_, .paused): return false
        case (.playback, _): return mapping.playbackAvailable(transferred: transferred, consumed: daemon) >= availMin
        case (.capture, .running):
            return mapping.captureReadable(produced: daemon, transferred: transferred, held: stream.conversionHeldFrames) >= availMin
        case (.capture, _): return false
        }
    }

    /// Makes the poll descriptor's readability match the stream's readiness.
    private func refreshReadiness() {
        if isReady() { pollSet.signal() } else { pollSet.reset(streamEvent: stream?.wakeDescriptor) }
    }

    /// Tells the daemon at what fill to wake the application: where avail reaches avail_min.
    private func publishWakeThreshold() {
        guard let stream, let mapping else { return }
        let availMin = min(max(software?.availMin ?? setup?.periodFrames ?? 1, 1), mapping.largestAvailable)
        let threshold = direction == .playback
            ? mapping.playbackWakeThreshold(availMin: availMin)
            : mapping.captureWakeThreshold(availMin: availMin, held: stream.conversionHeldFrames)
        stream.memory.publishWakeThreshold(UInt32(clamping: threshold))
    }

    // MARK: - Connection

    func close() {
        lock.withLock { _ in
            closeStream()
            phase = .unconfigured
        }
    }

    /// Closes the daemon's stream, if any (its memory goes back to the daemon). A connection
    /// that already ended has nothing to close.
    private func closeStream() {
        guard let stream else { return }
        pollSet.unwatch(stream.wakeDescriptor)
        if connection.closedReason == nil { _ = try? connection.close(stream) }
        self.stream = nil
        mapping = nil
        transferred = 0
        pollSet.reset(streamEvent: nil)
    }

    /// The daemon hung up, or ended the stream (a device that failed, a shutdown).
    private var isDisconnected: Bool { connection.closedReason != nil || stream?.closedReason != nil }

    private func checkConnection() throws(ExternalPCMError) {
        if isDisconnected { throw ExternalPCMError(ENODEV) }
    }

    /// Applies what the daemon sent, at most every ``eventCheckNanoseconds``: an application that
    /// never polls still hears of a daemon that went away, and its socket never fills with events.
    private func checkEventsNowAndThen() {
        let now = MonotonicClock.nanoseconds()
        guard now &- lastEventCheck >= Self.eventCheckNanoseconds else { return }
        lastEventCheck = now
        _ = try? connection.receiveEvents()
    }

    /// The errno an application sees for a client-core failure.
    static func errno(for error: ClientCoreError) -> Int32 {
        switch error {
        case .noDaemon: ECONNREFUSED
        case .disconnected, .streamClosed: ENODEV
        case .timedOut: ETIMEDOUT
        case .system(_, let code): code
        case .invalidArgument: EINVAL
        case .refused(let reply):
            switch reply.code {
            case .unsupportedFormat, .invalidArgument: EINVAL
            case .tooManyStreams, .tooManyClientStreams, .tooManyClients: EBUSY
            case .noSuchDevice, .deviceUnavailable, .shuttingDown: ENODEV
            case .accessDenied: EACCES
            default: EIO
            }
        default: EIO
        }
    }

    /// The program's short name, for the client and stream names pcmctl shows.
    static func programName() -> String {
        guard let name = clinux_program_name() else { return "alsa" }
        let text = String(cString: name)
        return text.isEmpty ? "alsa" : text
    }
}

/// The plugin's public face: what the entry point hands alsa-lib's open request to.
public enum PCMDPlugin {
    /// Answers one `snd_pcm_open` of a `type pcmd` PCM.
    public static func open(_ request: ExternalPCMOpenRequest) -> ExternalPCMOpenOutcome { PluginPCM.open(request) }
}
