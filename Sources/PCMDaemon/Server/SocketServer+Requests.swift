// What the server does with each message a client sends: the protocol's rules on order (hello
// first, once), on direction (daemon-only types are refused), on ownership (a client drives only
// its own streams) and on every request's answer. Protocol violations that leave the byte stream
// intact get an error reply; violations of the stream's contract (credits, alignment, framing)
// disconnect the client. Other clients never notice either.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import PCMBufferCore
import PCMDSP
import PCMProtocol

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
        // Audio is the hot path: handled straight from the receive buffer, never copied whole.
        if header.type == .audioData {
            guard session.phase == .ready, let stream = session.streams[header.stream] else {
                fail(session, ErrorReply(code: .noSuchStream, text: "audio for stream \(header.stream.rawValue), which is not yours"), now: now)
                return
            }
            if let code = stream.receive(payload) {
                switch code {
                case .unexpectedMessage:
                    session.enqueue(Envelope(.error(ErrorReply(code: code, text: "stream \(stream.id.rawValue) takes no audio now (\(stream.state))")),
                                             stream: .connection))
                case .misalignedData where payload.isEmpty:
                    fail(session, ErrorReply(code: code, text: "stream \(stream.id.rawValue): audioData must carry at least one frame"), now: now)
                default:
                    fail(session, ErrorReply(code: code, text: "stream \(stream.id.rawValue): \(code.name)"), now: now)
                }
            }
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
                let stream = try openStream(request)
                session.streams[stream.id] = stream
                reply(.streamOpened(StreamOpened(
                    direction: stream.mode, buffer: stream.buffer, device: ServerEngine.deviceID,
                    deviceFormat: engine.streamFormat,
                    deviceBuffer: BufferGeometry(bufferFrames: engine.bufferFrames, periodFrames: min(engine.periodFrames, engine.bufferFrames))
                )), stream.id)
                if let playback = stream.playback {
                    let grant = playback.takeGrant()
                    session.enqueue(Envelope(.credits(Credits(frames: UInt32(clamping: grant))), stream: stream.id))
                }
                logger.info("stream opened", metadata: [
                    "stream.id": "\(stream.id.rawValue)", "stream.mode": "\(stream.mode)", "stream.format": "\(stream.format)",
                    "stream.buffer": "\(stream.buffer.bufferFrames)", "stream.name": "\(stream.name)", "client.name": "\(session.clientName)",
                ])
            } catch {
                switch error {
                case .noSuchDevice(let device):
                    refuse(.noSuchDevice, "no device \(device.rawValue): this daemon drives device \(ServerEngine.deviceID.rawValue) (0 means the default)")
                case .tooManyStreams(let limit): refuse(.tooManyStreams, "all \(limit) streams are in use")
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
                stream.release()
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
                    refuse(.unexpectedMessage, stream.playback == nil ? "only playback streams drain" : "a drain is already pending")
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
            guard master.device == .defaultDevice || master.device == ServerEngine.deviceID else {
                refuse(.noSuchDevice, "no device \(master.device.rawValue)")
                return
            }
            guard let playback = engine.playback else {
                refuse(.noSuchDevice, "the daemon does not play, so it has no master volume")
                return
            }
            playback.masterVolume = StreamVolume(gain: master.volume.level, muted: master.volume.muted)
            reply(.ok, .connection)
            let announcement = Envelope(.masterVolumeChanged(MasterVolume(device: ServerEngine.deviceID, volume: master.volume)))
            for other in sessions.values where other.phase == .ready && other !== session { other.enqueue(announcement) }
        case .listDevices:
            reply(.deviceList([deviceInfo]), .connection)
        case .listStreams:
            reply(.streamList(streamInfos), .connection)
        case .welcome, .ok, .error, .streamOpened, .drained, .credits, .position, .xrun,
             .streamVolumeChanged, .masterVolumeChanged, .deviceList, .streamList, .audioData:
            return  // refused above by sender; audio handled above
        }
    }

    /// Finds any client's stream.
    func findStream(_ id: StreamID) -> (ClientSession, ServerStream)? {
        for session in sessions.values { if let stream = session.streams[id] { return (session, stream) } }
        return nil
    }

    /// The smallest client buffer, in device periods.
    static var minimumClientPeriods: Int { 3 }

    /// Claims slots and builds the conversion for a new stream.
    func openStream(_ request: OpenStream) throws(StreamOpenFailure) -> ServerStream {
        // §4: 0 is the default device; any other number must name a device the daemon has.
        guard request.device == .defaultDevice || request.device == ServerEngine.deviceID else { throw .noSuchDevice(request.device) }
        guard totalStreams < configuration.maxStreams else { throw .tooManyStreams(limit: configuration.maxStreams) }
        let mode = request.direction
        if mode.plays, engine.playback == nil { throw .unsupportedFormat("the daemon does not play (it runs in capture mode)") }
        if mode.records, engine.capture == nil { throw .unsupportedFormat("the daemon does not record (it runs in playback mode)") }
        let client = FrameLayout(format: request.format.sampleFormat, channels: request.format.channels)
        let ratio = RateRatio(clientRate: request.format.rate, deviceRate: engine.rate)
        let clientPeriod = max(1, ratio.clientFrames(fromDevice: engine.periodFrames))
        let latency = request.latencyMicroseconds == 0 ? configuration.defaultLatencyMicroseconds : request.latencyMicroseconds
        var bufferFrames = (Int(latency) * request.format.rate + 999_999) / 1_000_000
        // Never under three device periods: credits come once per period, so a client then always
        // has two periods of audio queued while it is told to send the next one. With two, one late
        // wakeup of the client (a busy machine, an emulated one) was an underrun.
        bufferFrames = max(Self.minimumClientPeriods * clientPeriod, (bufferFrames + clientPeriod - 1) / clientPeriod * clientPeriod)
        // Leave room in the slot for the converter's output block and one device period.
        let maximumFrames = min(engine.playback?.slots.maximumFrames ?? .max, engine.capture?.slots.maximumFrames ?? .max)
        let usable = max(maximumFrames - 1100 - 2 * engine.periodFrames, engine.periodFrames)
        bufferFrames = max(clientPeriod, min(bufferFrames, Int(Double(usable) / ratio.deviceFramesPerClientFrame)))

        var playback: PlaybackLeg?
        if mode.plays, let processor = engine.playback {
            playback = try PlaybackLeg(table: processor.slots, client: client, clientRate: request.format.rate, deviceRate: engine.rate,
                                       deviceFormat: engine.layout, bufferFrames: bufferFrames, periodFrames: min(clientPeriod, bufferFrames),
                                       devicePeriod: engine.periodFrames)
        }
        var capture: CaptureLeg?
        if mode.records, let processor = engine.capture {
            do throws(StreamOpenFailure) {
                capture = try CaptureLeg(table: processor.slots, client: client, clientRate: request.format.rate, deviceRate: engine.rate,
                                         deviceFormat: engine.layout, bufferFrames: bufferFrames, devicePeriod: engine.periodFrames)
            } catch {
                playback?.release()
                throw error
            }
        }
        let id = StreamID(nextStream)
        nextStream = nextStream == .max ? 1 : nextStream + 1
        return ServerStream(id: id, request: request, playback: playback, capture: capture, deviceBufferFrames: engine.bufferFrames)
    }

    var deviceInfo: DeviceInfo {
        let directions: PCMProtocol.StreamMode = engine.playback != nil && engine.capture != nil ? .duplex
            : engine.playback != nil ? .playback : .capture
        let running = !engine.controls.isEmpty && engine.controls.allSatisfy(\.isRunning)
        let master = engine.playback?.masterVolume
        return DeviceInfo(
            id: ServerEngine.deviceID, name: engine.deviceName, description: "", directions: directions,
            format: engine.streamFormat,
            buffer: BufferGeometry(bufferFrames: engine.bufferFrames, periodFrames: min(engine.periodFrames, engine.bufferFrames)),
            state: running ? .running : .failed,
            xruns: UInt32(clamping: engine.controls.reduce(0) { $0 + $1.xruns }),
            masterVolume: Volume(level: min(max(master?.gain ?? 1, 0), 1), muted: master?.muted ?? false)
        )
    }

    var streamInfos: [StreamInfo] {
        var infos: [StreamInfo] = []
        for session in sessions.values where session.phase == .ready {
            for stream in session.streams.values {
                infos.append(StreamInfo(
                    id: stream.id, device: ServerEngine.deviceID, clientPID: UInt32(bitPattern: session.peer.pid),
                    clientUID: session.peer.uid, clientName: session.clientName, name: stream.name, direction: stream.mode,
                    format: stream.format, buffer: stream.buffer, latencyMicroseconds: stream.latencyMicroseconds,
                    position: stream.frames, xruns: stream.xrunCount, volume: stream.volume, state: stream.state
                ))
            }
        }
        return infos.sorted { $0.id < $1.id }
    }
}
