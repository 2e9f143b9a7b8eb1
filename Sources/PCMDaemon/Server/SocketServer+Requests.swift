// What the server does with each message a client sends: the protocol's rules on order (hello
// first, once), on direction (daemon-only types are refused), on ownership (a client drives only
// its own streams) and on every request's answer. Protocol violations that leave the byte stream
// intact get an error reply; violations of the stream's contract (framing; in the shared memory,
// an impossible position) disconnect the client. Other clients never notice either.
//
// Version 2: `openStream` claims a slot with fresh shared memory and answers `streamOpened`
// with the stream's memfd and eventfd attached; no audio ever arrives on the socket.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import PCMBufferCore
import PCMDSP
import PCMProtocol
import Synchronization

extension SocketServer {
    /// Handles one framed message. `payload` is valid only during the call.
    func handle(header: MessageHeader, payload: UnsafeRawBufferPointer, from session: ClientSession, now: UInt64) {
        let reply = { (message: Message, stream: StreamID) in
            session.enqueue(Envelope(message, stream: stream, tag: header.tag))
        }
        let refuse = { (code: ErrorCode, text: String) in
            session.enqueue(Envelope(.error(ErrorReply(code: code, text: text)), stream: header.stream, tag: header.tag))
        }
        guard header.type.sender != .daemon else {
            fail(session, ErrorReply(code: .unexpectedMessage, text: "\(header.type) is sent by the daemon, not by clients"), now: now)
            return
        }
        let envelope: Envelope
        do throws(ProtocolError) {
            envelope = try Envelope.decode(header: header, payload: payload)
        } catch {
            if header.type.isRequest && session.phase == .ready {
                refuse(error.code, error.description)
            } else {
                fail(session, ErrorReply(error), now: now)
            }
            return
        }
        switch session.phase {
        case .closing:
            return
        case .awaitingHello:
            guard case .hello(let hello) = envelope.message else {
                fail(session, ErrorReply(code: .unexpectedMessage, text: "the first message must be hello, not \(header.type)"), now: now)
                return
            }
            session.clientName = hello.clientName
            session.becomeReady()
            reply(.welcome(Welcome(daemonPID: UInt32(bitPattern: getpid()), maxStreams: UInt16(clamping: configuration.maxStreams),
                                   daemonName: configuration.daemonName)), .connection)
            return
        case .ready:
            break
        }
        switch envelope.message {
        case .hello:
            fail(session, ErrorReply(code: .unexpectedMessage, text: "hello was already sent"), now: now)
        case .openStream(let request):
            do throws(StreamOpenFailure) {
                let (stream, opened) = try openStream(request, for: session)
                guard let memory = stream.slot.attachedMemory, let memfd = memory.fileDescriptor else {
                    stream.release()
                    refuse(.internalError, "stream memory has no descriptor")
                    return
                }
                session.streams[stream.id] = stream
                session.enqueue(Envelope(.streamOpened(opened), stream: stream.id, tag: header.tag),
                                attaching: [memfd, stream.slot.wakeDescriptor])
                logger.info("stream opened", metadata: [
                    "stream.id": "\(stream.id.rawValue)", "stream.mode": "\(stream.mode)", "stream.format": "\(stream.format)",
                    "stream.ring": "\(stream.ringFrames)", "stream.name": "\(stream.name)", "client.name": "\(session.clientName)",
                ])
            } catch {
                switch error {
                case .noSuchDevice(let device):
                    refuse(.noSuchDevice, "no device \(device.rawValue): \(servedDevicesText) (0 means the default)")
                case .deviceUnavailable(let device):
                    refuse(.deviceUnavailable, "device \(device.rawValue) is gone (rescue-streams = no): open on another device, or wait for it to come back")
                case .tooManyStreams(let limit): refuse(.tooManyStreams, "all \(limit) streams are in use")
                case .tooManyClientStreams(let limit):
                    refuse(.tooManyClientStreams, "this connection already has \(limit) streams, its limit (max-streams-per-client)")
                case .unsupportedFormat(let text): refuse(.unsupportedFormat, text)
                case .resources(let text): refuse(.internalError, text)
                }
            }
        case .closeStream, .pause, .resume, .drain:
            guard let stream = session.streams[header.stream] else {
                refuse(.noSuchStream, "stream \(header.stream.rawValue) is not yours")
                return
            }
            switch envelope.message {
            case .closeStream:
                if let failure = stream.release() {
                    logger.warning("stream memory not released cleanly", metadata: ["stream.id": "\(stream.id.rawValue)", "error": "\(failure)"])
                }
                session.streams[header.stream] = nil
                reply(.ok, header.stream)
            case .pause:
                stream.pause()
                reply(.ok, header.stream)
            case .resume:
                stream.resume()
                reply(.ok, header.stream)
            default:
                if !stream.drain(tag: header.tag) {
                    refuse(.unexpectedMessage, stream.mode != .playback ? "only playback streams drain" : "a drain is already pending")
                }
            }
        case .setStreamVolume(let volume):
            guard let (owner, stream) = findStream(header.stream) else {
                refuse(.noSuchStream, "no stream \(header.stream.rawValue)")
                return
            }
            stream.setVolume(volume)
            reply(.ok, header.stream)
            if owner !== session { owner.enqueue(Envelope(.streamVolumeChanged(volume), stream: stream.id)) }
        case .setMasterVolume(let master):
            guard let device = engine.device(master.device) else {
                refuse(.noSuchDevice, "no device \(master.device.rawValue): \(servedDevicesText)")
                return
            }
            guard let playback = device.playback else {
                refuse(.noSuchDevice, "device \(device.id.rawValue) does not play, so it has no master volume")
                return
            }
            playback.masterVolume = StreamVolume(gain: master.volume.level, muted: master.volume.muted)
            reply(.ok, .connection)
            let announcement = Envelope(.masterVolumeChanged(MasterVolume(device: device.id, volume: master.volume)))
            for other in sessions.values where other.phase == .ready && other !== session { other.enqueue(announcement) }
        case .moveStream(let target):
            guard let (owner, stream) = findStream(header.stream) else {
                refuse(.noSuchStream, "no stream \(header.stream.rawValue)")
                return
            }
            guard let device = engine.device(target) else {
                refuse(.noSuchDevice, "no device \(target.rawValue): \(servedDevicesText)")
                return
            }
            guard let table = stream.mode == .playback ? device.playback?.slots : device.capture?.slots else {
                refuse(.unsupportedFormat, "device \(device.id.rawValue) (\(DisplayText.escaped(device.name))) does not "
                    + (stream.mode == .playback ? "play" : "record"))
                return
            }
            let from = stream.device
            do throws(SlotError) {
                try stream.move(to: table, device: device.id)
            } catch {
                refuse(.tooManyStreams, "device \(device.id.rawValue) has no free stream slot: \(error)")
                return
            }
            reply(.ok, header.stream)
            logger.notice("stream moved", metadata: [
                "stream.id": "\(stream.id.rawValue)", "stream.name": "\(stream.name)", "client.name": "\(owner.clientName)",
                "pcm.from": "\(from.rawValue)", "pcm.to": "\(device.id.rawValue)", "moved.by": "\(session.clientName)",
            ])
        case .setDefaultDevice(let id):
            guard id != .defaultDevice, let device = engine.device(id) else {
                refuse(.noSuchDevice, "no device \(id.rawValue): \(servedDevicesText)")
                return
            }
            engine.defaultDevice.set(device.id)
            reply(.ok, .connection)
            logger.notice("default device changed", metadata: [
                "pcm.device": "\(DisplayText.escaped(device.name))", "client.name": "\(session.clientName)",
            ])
            if let store = engine.defaultStore, let failure = store.save(device.name) {
                logger.warning("the default device is not kept across restarts", metadata: ["error": "\(failure)"])
            }
        case .listDevices:
            keepMetering(now: now)
            reply(.deviceList(deviceInfos), .connection)
        case .listStreams:
            keepMetering(now: now)
            reply(.streamList(streamInfos), .connection)
        case .listMemory:
            guard let allocator = engine.allocator else {
                refuse(.internalError, "this daemon serves without an allocator")
                return
            }
            reply(.memoryList(Self.memoryListing(allocator.report())), .connection)
        case .setPreallocation(let request):
            // Memory is the machine's, not the client's: only the daemon's own user (and root)
            // may move it, as only root may write /proc/asound/.../prealloc.
            guard session.peer.uid == 0 || session.peer.uid == getuid() else {
                refuse(.accessDenied, "only root or the daemon's own user may change a preallocation")
                return
            }
            guard let allocator = engine.allocator else {
                refuse(.internalError, "this daemon serves without an allocator")
                return
            }
            do throws(PCMMemoryError) {
                guard let kibibytes = Int(exactly: request.kibibytes) else { throw .procValueNotANumber(String(request.kibibytes)) }
                try allocator.writeProcPrealloc(substream: request.substream, kibibytes: kibibytes)
                reply(.ok, .connection)
                logger.notice("preallocation changed", metadata: [
                    "substream": "\(request.substream)", "prealloc.kibibytes": "\(kibibytes)", "client.name": "\(session.clientName)",
                ])
            } catch {
                refuse(.memoryRefused, "\(error) (\(Self.errnoName(-error.kernelErrno)))")
            }
        case .welcome, .ok, .error, .streamOpened, .drained,
             .streamVolumeChanged, .masterVolumeChanged, .deviceList, .streamList, .memoryList, .deviceListChanged:
            return  // refused above by sender
        }
    }

    /// The allocator's report as `memoryList` carries it: every device substream, and the
    /// client substreams that are open (a closed client slot holds no memory).
    static func memoryListing(_ report: AllocatorReport) -> MemoryListing {
        let substreams = report.substreams
            .filter { $0.id.card < Daemon.clientCardBase || $0.status.isOpen }
            .map { SubstreamMemory(substream: $0.id, status: $0.status) }
        return MemoryListing(cardLimit: report.cardLimit, cards: report.cards, substreams: substreams)
    }

    /// The symbolic name of the errno values the allocator's refusals use.
    static func errnoName(_ code: Int32) -> String {
        switch code {
        case EBUSY: "EBUSY"
        case EINVAL: "EINVAL"
        case ENOMEM: "ENOMEM"
        case ENODEV: "ENODEV"
        case ENXIO: "ENXIO"
        default: "errno \(code)"
        }
    }

    /// Finds any client's stream.
    func findStream(_ id: StreamID) -> (ClientSession, ServerStream)? {
        for session in sessions.values { if let stream = session.streams[id] { return (session, stream) } }
        return nil
    }

    /// The smallest ring, in device periods: the client is woken as space frees up, so two
    /// periods would leave it one period to answer; the third is the scheduling margin.
    static var minimumRingPeriods: Int { 3 }

    /// Claims a slot with fresh shared memory for a new stream and describes it for the reply.
    func openStream(_ request: OpenStream, for session: ClientSession) throws(StreamOpenFailure) -> (ServerStream, StreamOpened) {
        // §4: 0 is the default device; any other number must name a device the daemon has.
        guard var device = engine.device(request.device) else { throw .noSuchDevice(request.device) }
        // A device that is gone gets no new streams: they open on a rescuer (rescue-streams), or
        // are refused as the streams it had were closed (rescue-streams = no).
        if device.controls.contains(where: \.isLost) {
            guard configuration.rescueStreams else { throw .deviceUnavailable(device.id) }
            if let (rescuer, _) = rescueTarget(for: request.direction, avoiding: lostDevices) { device = rescuer }
        }
        guard totalStreams < configuration.maxStreams else { throw .tooManyStreams(limit: configuration.maxStreams) }
        guard session.streams.count < configuration.maxStreamsPerClient else {
            throw .tooManyClientStreams(limit: configuration.maxStreamsPerClient)
        }
        let mode = request.direction
        // One ring per stream, one direction per ring: a duplex client opens one of each.
        guard mode != .duplex else {
            throw .unsupportedFormat("protocol version 2 has no duplex streams: open a playback and a capture stream")
        }
        let table: SlotTable
        if mode == .playback {
            guard let processor = device.playback else {
                throw .unsupportedFormat("device \(device.id.rawValue) (\(device.name)) does not play")
            }
            table = processor.slots
        } else {
            guard let processor = device.capture else {
                throw .unsupportedFormat("device \(device.id.rawValue) (\(device.name)) does not record")
            }
            table = processor.slots
        }
        let (period, deviceBuffer) = table.deviceSizes(configuredPeriod: engine.periodFrames, configuredBuffer: engine.bufferFrames)
        let latency = request.latencyMicroseconds == 0 ? configuration.defaultLatencyMicroseconds : request.latencyMicroseconds
        // The client's latency at the device's rate: the ring is in device frames.
        let wanted = Int((UInt64(latency) * UInt64(engine.rate) + 999_999) / 1_000_000)
        // At least three periods, and at least the device buffer plus a period: after every
        // prepare the device takes a whole buffer at once.
        let floor = max(Self.minimumRingPeriods * period, deviceBuffer + period)
        let ringWanted = min(max(wanted, floor), table.maximumFrames)
        let slot: StreamSlot
        do throws(SlotError) {
            slot = try table.claim(ringFrames: ringWanted, rate: engine.rate, devicePeriodFrames: period, deviceBufferFrames: deviceBuffer,
                                   startThreshold: max(1, min(wanted, ringWanted)), latencyFrames: wanted,
                                   initialState: mode == .playback ? .prefilling : .active)
        } catch {
            switch error {
            case .noFreeSlot(let limit): throw .tooManyStreams(limit: limit)
            default: throw .resources(error.description)
            }
        }
        if table.lockRefusals.load(ordering: .relaxed) == 1, !lockRefusalLogged {
            lockRefusalLogged = true
            logger.notice("stream memory could not be locked (mlock refused: RLIMIT_MEMLOCK or no CAP_IPC_LOCK); streams play, their pages may be swapped")
        }
        guard let memory = slot.attachedMemory else {
            table.release(slot)
            throw .resources("a claimed slot has no memory")
        }
        let ring = memory.geometry.bufferFrames.value
        let id = StreamID(nextStream)
        nextStream = nextStream == .max ? 1 : nextStream + 1
        let stream = ServerStream(id: id, request: request, device: device.id, slot: slot, table: table, ringFrames: ring,
                                  startThreshold: Int(slot.startThreshold), deviceBufferFrames: deviceBuffer, deviceRate: engine.rate)
        let opened = StreamOpened(
            direction: mode, ring: BufferGeometry(bufferFrames: ring, periodFrames: min(period, ring)), device: device.id,
            deviceFormat: engine.streamFormat, startThresholdFrames: mode == .playback ? Int(slot.startThreshold) : ring,
            deviceBuffer: BufferGeometry(bufferFrames: deviceBuffer, periodFrames: min(period, deviceBuffer)),
            memoryBytes: UInt64(memory.regions.totalBytes))
        return (stream, opened)
    }

    /// Every device, as `deviceList` carries them. The sizes are what each device negotiated
    /// once it opened (the configured ones before).
    var deviceInfos: [DeviceInfo] {
        let defaultID = engine.defaultDevice.id
        return engine.devices.map { device in
            let master = device.playback?.masterVolume
            let table = device.playback?.slots ?? device.capture?.slots
            let sizes = table?.deviceSizes(configuredPeriod: engine.periodFrames, configuredBuffer: engine.bufferFrames)
                ?? (period: engine.periodFrames, buffer: engine.bufferFrames)
            return DeviceInfo(
                id: device.id, name: device.name, description: device.description, directions: device.directions,
                format: engine.streamFormat,
                buffer: BufferGeometry(bufferFrames: sizes.buffer, periodFrames: min(sizes.period, sizes.buffer)),
                state: device.state,
                xruns: UInt32(clamping: device.controls.reduce(0) { $0 + $1.xruns }),
                masterVolume: Volume(level: min(max(master?.gain ?? 1, 0), 1), muted: master?.muted ?? false),
                isDefault: device.id == defaultID,
                wakeups: device.controls.reduce(0) { $0 &+ $1.wakeups },
                busyNanoseconds: device.controls.reduce(0) { $0 &+ $1.busyNanoseconds },
                peak: Self.wirePeak(device.controls.map(\.peak).max() ?? 0)
            )
        }
    }

    /// Someone is looking at the listings (`pcmctl top` lists every second): the audio threads
    /// measure peak levels for the next three seconds, and not at all when nobody looks.
    func keepMetering(now: UInt64) {
        for device in engine.devices {
            device.playback?.slots.keepMetering(for: 3_000_000_000, now: now)
            device.capture?.slots.keepMetering(for: 3_000_000_000, now: now)
        }
    }

    /// A measured peak as the wire carries it: 0...1, never NaN.
    static func wirePeak(_ peak: Float) -> Float { peak.isFinite ? min(max(peak, 0), 1) : 0 }

    /// "this daemon serves devices 1 (PCH,0), 2 (Loopback,0)", for refusals.
    var servedDevicesText: String {
        let list = engine.devices.map { "\($0.id.rawValue) (\(DisplayText.escaped($0.name)))" }.joined(separator: ", ")
        return engine.devices.count == 1 ? "this daemon serves device \(list)" : "this daemon serves devices \(list)"
    }

    var streamInfos: [StreamInfo] {
        var infos: [StreamInfo] = []
        for session in sessions.values where session.phase == .ready {
            for stream in session.streams.values {
                infos.append(StreamInfo(
                    id: stream.id, device: stream.device, clientPID: UInt32(bitPattern: session.peer.pid),
                    clientUID: session.peer.uid, clientName: session.clientName, name: stream.name, direction: stream.mode,
                    format: stream.format, buffer: stream.buffer, latencyMicroseconds: stream.latencyMicroseconds,
                    position: stream.frames, xruns: stream.xrunCount, volume: stream.volume, state: stream.state,
                    peak: Self.wirePeak(stream.slot.peak)
                ))
            }
        }
        return infos.sorted { $0.id < $1.id }
    }
}

/// Why a stream could not be opened; each case becomes an error reply.
enum StreamOpenFailure: Error {
    case noSuchDevice(AudioDeviceID)
    /// The device went away and `rescue-streams = no` keeps its streams from moving elsewhere.
    case deviceUnavailable(AudioDeviceID)
    case tooManyStreams(limit: Int)
    case tooManyClientStreams(limit: Int)
    case unsupportedFormat(String)
    case resources(String)
}
