// The synchronous client: one connection to pcmd driven from the caller's own thread, with no
// I/O thread, no Swift Concurrency and no Foundation. Requests block until their reply (events
// that arrive meanwhile are applied on the way); audio never touches the socket: streams write
// and read their shared rings in place and sleep on their own eventfds, watching the socket at
// the same time, so that a daemon that hangs up (or ends a stream) wakes the waiter with the
// daemon's reason. pcmplay and pcmrec use it directly; PCMClient's async API is built from the
// same pieces (ControlChannel, ClientStream).

#if canImport(Glibc)
import Glibc
#endif
import PCMProtocol

/// A blocking connection to the daemon. Not thread-safe: use it from one thread.
public final class BlockingConnection {
    private var channel: ControlChannel
    /// What the daemon said in `welcome`.
    public private(set) var welcome: Welcome
    private var nextTag: UInt32 = 1
    private var streams: [StreamID: ClientStream] = [:]
    /// The latest master volume of each device the daemon announced.
    public private(set) var masterVolumes: [AudioDeviceID: Volume] = [:]
    /// Streams whose volume another client changed, with the new volume.
    public private(set) var streamVolumes: [StreamID: Volume] = [:]
    /// How many times the daemon said its devices changed (a card added, gone or back).
    public private(set) var deviceListChanges: UInt64 = 0
    /// Why the connection ended, once it has.
    public private(set) var closedReason: ClientCoreError?
    private var lastError: ErrorReply?
    /// How long a request waits for its reply.
    public var requestTimeoutMilliseconds: Int32 = 10_000

    /// Connects and says hello.
    ///
    /// - Parameters:
    ///   - path: The socket; nil follows the usual rule (`$PCMD_SOCKET`, then the user daemon,
    ///     then the system daemon).
    ///   - clientName: How the client appears in listings.
    /// - Throws: ``ClientCoreError/noDaemon(tried:)`` when no candidate answers; the daemon's
    ///   refusal; ``ClientCoreError/disconnected(_:)`` with its reason (a version-1 daemon
    ///   answers a version-2 hello that way).
    public static func connect(path: String? = nil, clientName: String) throws(ClientCoreError) -> BlockingConnection {
        let candidates = SocketLocation.clientCandidates(explicitPath: path) { name in getenv(name).map { String(cString: $0) } }
        var failures: [String: Int32] = [:]
        for candidate in candidates {
            do throws(ClientCoreError) {
                return try BlockingConnection(channel: ControlChannel(connectingTo: candidate), clientName: clientName)
            } catch .system(call: "connect", let code) {
                failures[candidate] = code
            }
        }
        throw .noDaemon(tried: failures)
    }

    /// Speaks the protocol on an already connected socket, taking ownership of it.
    public convenience init(adopting fd: Int32, clientName: String) throws(ClientCoreError) {
        try self.init(channel: ControlChannel(adopting: fd), clientName: clientName)
    }

    private init(channel: consuming ControlChannel, clientName: String) throws(ClientCoreError) {
        self.channel = channel
        welcome = Welcome(daemonPID: 0, maxStreams: 0, daemonName: "")
        let reply = try request(.hello(Hello(pid: UInt32(bitPattern: getpid()), clientName: clientName)))
        guard case .welcome(let welcome) = reply.message else { throw .unexpectedReply(reply.message.type) }
        self.welcome = welcome
    }

    deinit {
        channel.shutDown()
        for stream in streams.values { stream.hangUp(.disconnected(nil)) }
    }

    /// The control socket, for callers that poll it next to their own descriptors.
    public var socketDescriptor: Int32 { channel.fd }

    // MARK: - Streams

    /// Opens a stream and maps its shared memory.
    ///
    /// - Throws: the daemon's refusal (``ErrorCode/tooManyStreams``,
    ///   ``ErrorCode/tooManyClientStreams``, ``ErrorCode/unsupportedFormat`` …); the errors of
    ///   ``ClientStream/init(id:opened:format:memoryDescriptor:wakeDescriptor:quality:)``.
    public func open(_ request: OpenStream) throws(ClientCoreError) -> ClientStream {
        let reply = try self.request(.openStream(request))
        guard case .streamOpened(let opened) = reply.message else { throw .unexpectedReply(reply.message.type) }
        guard let memfd = channel.takeDescriptor() else { throw .descriptors("streamOpened came without its memfd") }
        guard let wake = channel.takeDescriptor() else {
            _ = Glibc.close(memfd)
            throw .descriptors("streamOpened came without its eventfd")
        }
        let stream = try ClientStream(id: reply.stream, opened: opened, format: request.format, memoryDescriptor: memfd, wakeDescriptor: wake)
        streams[reply.stream] = stream
        return stream
    }

    /// Writes all of `samples`, sleeping while the ring is full. `wakeFrames` is the free space
    /// (device frames) to sleep for; pcmplay uses half the ring.
    public func writeAll(_ samples: UnsafeRawBufferPointer, to stream: ClientStream, wakeFrames: Int,
                         timeoutMilliseconds: Int32 = 10_000) throws(ClientCoreError) {
        let frameBytes = stream.format.bytesPerFrame
        var offset = 0
        while offset < samples.count {
            let taken = try stream.write(UnsafeRawBufferPointer(rebasing: samples[offset...]))
            offset += taken * frameBytes
            if offset < samples.count, taken == 0 { try waitFor(stream, frames: wakeFrames, timeoutMilliseconds: timeoutMilliseconds) }
        }
    }

    /// Sleeps until `frames` device frames are available on `stream`, applying whatever the
    /// daemon sends meanwhile (an error that closes the stream, a hang-up: both end the wait
    /// with that reason).
    public func waitFor(_ stream: ClientStream, frames: Int, timeoutMilliseconds: Int32) throws(ClientCoreError) {
        while true {
            switch try stream.wait(forFrames: frames, timeoutMilliseconds: timeoutMilliseconds, alsoWatching: channel.fd) {
            case .ready: return
            case .timedOut: throw .timedOut
            case .otherReadable: try pump(until: nil)
            }
        }
    }

    /// Applies whatever the daemon sent that is already waiting (events, an error that ends a
    /// stream, a hang-up), without blocking. For callers that poll ``socketDescriptor``
    /// themselves (the ALSA plugin).
    ///
    /// - Throws: the connection's end, with the daemon's reason when it gave one.
    public func receiveEvents() throws(ClientCoreError) {
        if let closedReason { throw closedReason }
        try pump(until: nil)
    }

    /// Holds the stream's clock, keeping its ring.
    public func pause(_ stream: ClientStream) throws(ClientCoreError) { try expectOK(request(.pause, stream: stream.id)) }

    /// Continues after ``pause(_:)``, or starts playback before the ring reached the threshold.
    public func resume(_ stream: ClientStream) throws(ClientCoreError) { try expectOK(request(.resume, stream: stream.id)) }

    /// Plays out everything written (the resampler's tail included) and returns once the daemon
    /// reports it played. The stream then prefills again.
    public func drain(_ stream: ClientStream) throws(ClientCoreError) {
        while !stream.flushConversion() {
            try waitFor(stream, frames: max(1, stream.ringFrames / 4), timeoutMilliseconds: requestTimeoutMilliseconds)
        }
        let reply = try request(.drain, stream: stream.id, timeoutMilliseconds: -1)
        guard case .drained = reply.message else { throw .unexpectedReply(reply.message.type) }
    }

    /// Closes the stream at once, dropping what was not played. The daemon punches the memory
    /// out: the client's mapping reads zeros from then on.
    public func close(_ stream: ClientStream) throws(ClientCoreError) {
        guard streams[stream.id] != nil else { return }
        defer {
            streams[stream.id] = nil
            stream.hangUp(.streamClosed(nil))
        }
        try expectOK(request(.closeStream, stream: stream.id))
    }

    /// Sets a stream's volume and mute (any client's stream, as `pcmctl` does).
    public func setVolume(_ volume: Volume, stream: StreamID) throws(ClientCoreError) {
        try expectOK(request(.setStreamVolume(volume), stream: stream))
    }

    /// Sets a device's master volume.
    public func setMasterVolume(_ volume: Volume, device: AudioDeviceID = .defaultDevice) throws(ClientCoreError) {
        try expectOK(request(.setMasterVolume(MasterVolume(device: device, volume: volume))))
    }

    /// Every device of the daemon.
    public func devices() throws(ClientCoreError) -> [DeviceInfo] {
        let reply = try request(.listDevices)
        guard case .deviceList(let devices) = reply.message else { throw .unexpectedReply(reply.message.type) }
        return devices
    }

    /// The device `text` names: an id (`2`; `0` is the daemon's default) or a name as
    /// ``devices()`` lists it (`PCH,0`). A name the daemon does not serve is refused with
    /// `noSuchDevice` and a sentence listing the devices it does serve.
    public func resolveDevice(_ text: String) throws(ClientCoreError) -> AudioDeviceID {
        if let id = UInt32(text) { return AudioDeviceID(id) }  // 0 (the default) included, without a listing
        let devices = try devices()
        if let device = devices.device(named: text) { return device.id }
        throw .refused(ErrorReply(code: .noSuchDevice,
                                  text: "no device named \(DisplayText.escaped(text)); pcmd serves \(devices.servedSummary)"))
    }

    /// Every stream of every client.
    public func listStreams() throws(ClientCoreError) -> [StreamInfo] {
        let reply = try request(.listStreams)
        guard case .streamList(let list) = reply.message else { throw .unexpectedReply(reply.message.type) }
        return list
    }

    // MARK: - Requests

    /// Sends a request and blocks until its reply, applying events that arrive first. A daemon
    /// `error` reply becomes ``ClientCoreError/refused(_:)``.
    public func request(_ message: Message, stream: StreamID = .connection, timeoutMilliseconds: Int32? = nil) throws(ClientCoreError) -> Envelope {
        if let closedReason { throw closedReason }
        let tag = nextTag
        nextTag = nextTag == .max ? 1 : nextTag + 1
        let bytes: [UInt8]
        do throws(ProtocolError) {
            bytes = try Envelope(message, stream: stream, tag: tag).encoded()
        } catch {
            throw .invalidArgument(error.description)
        }
        let timeout = requestTimeoutMilliseconds
        let sent: Result<Void, ClientCoreError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ClientCoreError) in try channel.send(raw, timeoutMilliseconds: timeout) }
        }
        do throws(ClientCoreError) {
            try sent.get()
        } catch .disconnected {
            // The daemon hung up while we wrote: its last words may still be readable.
            _ = try? pump(until: nil)
            throw end(.disconnected(lastError))
        }
        let reply = try pump(until: tag, timeoutMilliseconds: timeoutMilliseconds ?? requestTimeoutMilliseconds)!
        if case .error(let error) = reply.message { throw .refused(error) }
        return reply
    }

    /// Reads and applies messages: until the reply with `tag` arrives (returned), or, with no
    /// tag, until nothing more is waiting.
    @discardableResult
    private func pump(until tag: UInt32?, timeoutMilliseconds: Int32 = 0) throws(ClientCoreError) -> Envelope? {
        while true {
            while let envelope = try nextEnvelopeOrEnd() {
                if envelope.tag != 0 {
                    if envelope.tag == tag { return envelope }
                    continue  // a reply nobody waits for any more (after a timeout)
                }
                apply(event: envelope)
            }
            guard tag != nil else { return nil }
            guard try channel.waitReadable(timeoutMilliseconds: timeoutMilliseconds) else { throw .timedOut }
        }
    }

    /// The next whole message, reading the socket once if none is buffered; nil when nothing is
    /// there yet. At the end of the stream the connection ends with the daemon's last reason.
    private func nextEnvelopeOrEnd() throws(ClientCoreError) -> Envelope? {
        do throws(ClientCoreError) {
            if let envelope = try channel.nextEnvelope() { return envelope }
            guard try channel.receiveAvailable() else { throw end(.disconnected(lastError)) }
            return try channel.nextEnvelope()
        } catch {
            throw end(error)
        }
    }

    /// Applies an event (tag 0).
    private func apply(event envelope: Envelope) {
        switch envelope.message {
        case .error(let reply):
            if envelope.stream == .connection {
                lastError = reply
            } else if let stream = streams.removeValue(forKey: envelope.stream) {
                stream.hangUp(.streamClosed(reply))
            }
        case .streamVolumeChanged(let volume):
            streamVolumes[envelope.stream] = volume
        case .masterVolumeChanged(let master):
            masterVolumes[master.device] = master.volume
        case .deviceListChanged:
            deviceListChanges &+= 1
        default:
            break  // nothing else is an event in version 2
        }
    }

    /// Ends the connection: every stream's waiter wakes with `reason`. Returns the reason to throw.
    private func end(_ reason: ClientCoreError) -> ClientCoreError {
        if closedReason == nil {
            var final = reason
            if case .disconnected(nil) = reason, let lastError { final = .disconnected(lastError) }
            closedReason = final
            for stream in streams.values { stream.hangUp(final) }
            streams.removeAll()
        }
        return closedReason!
    }

    private func expectOK(_ reply: Envelope) throws(ClientCoreError) {
        guard case .ok = reply.message else { throw .unexpectedReply(reply.message.type) }
    }
}
