// A stand-in daemon for client tests: the other end of a socketpair, driven by blocking I/O on
// its own thread, that records every message the client sends and answers as each test scripts.
// It speaks through PCMProtocol only, so the client is tested against the protocol, not itself.
//
// Protocol version 2: `openStream` is answered with real shared stream memory (a sealed memfd
// from PCMBufferCore's allocator, laid out by SharedStreamMemory) and an eventfd, attached to the
// reply with SCM_RIGHTS as the daemon does. The test then plays the audio thread by hand:
// ``consume(_:frames:)`` and ``produce(_:bytes:)`` move the daemon's side of a ring and wake a
// waiting client by the rule the daemon uses; with `autoConsume` a thread does it every
// millisecond.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CLinux
import PCMBufferCore
import PCMProtocol
import Synchronization

/// One stream the scripted daemon opened: its memory and eventfd, and its side of the ring.
final class ScriptedStream: @unchecked Sendable {
    // Safety: `position` is touched only under the daemon's `streams` lock.
    let id: StreamID
    let memory: SharedStreamMemory
    let wake: Int32
    var position: UInt64 = 0
    var consumed: Int = 0

    init(id: StreamID, memory: SharedStreamMemory, wake: Int32) {
        self.id = id
        self.memory = memory
        self.wake = wake
    }

    deinit { close(wake) }

    /// Wakes the client if it waits and its threshold is met (the daemon's rule).
    func wakeIfWaiting(available: UInt64) {
        guard memory.loadWaiting(), available >= memory.loadWakeThreshold() else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }
}

/// The daemon side of a socketpair.
final class ScriptedDaemon: Sendable {
    /// The daemon's descriptor (the client adopts the other one).
    let fd: Int32
    /// The client's descriptor, to hand to `PCMConnection.connect(adopting:)`.
    let clientFD: Int32
    /// Every message received from the client, in order.
    let received = Locked<[Envelope]>([])
    /// Errors the daemon saw decoding the client's bytes.
    let decodeErrors = Locked<[ProtocolError]>([])
    private let responder: @Sendable (Envelope, ScriptedDaemon) -> Void
    /// Streams opened so far, by number.
    let streams = Locked<[StreamID: ScriptedStream]>([:])
    private let allocator = SubstreamAllocator()
    private let nextSubstream = Atomic<Int>(0)
    private let served = Atomic<Bool>(true)
    /// Called (on the consumer thread) with the total frames consumed so far, when `autoConsume`.
    private let onConsumed: (@Sendable (Int, ScriptedDaemon) -> Void)?

    /// The device format the standard script announces: the tests' own, so no conversion.
    static let deviceFormat = StreamFormat(.s16, rate: 48_000, channels: 2)

    /// - Parameters:
    ///   - respond: Called on the daemon thread for each message; send replies with ``send(_:)``.
    ///   - autoConsume: Whether a thread consumes every playback ring every millisecond.
    ///   - onConsumed: Told the total frames consumed after each round that consumed some.
    init(respond: @escaping @Sendable (Envelope, ScriptedDaemon) -> Void = ScriptedDaemon.standard,
         autoConsume: Bool = false, onConsumed: (@Sendable (Int, ScriptedDaemon) -> Void)? = nil) {
        self.onConsumed = onConsumed
        var pair: [Int32] = [-1, -1]
        let ok = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
        precondition(ok == 0, "socketpair failed")
        fd = pair[0]
        clientFD = pair[1]
        responder = respond
        do {
            try allocator.addPCM(card: 100, device: 0, playbackSubstreams: 64, captureSubstreams: 0)
            for id in try allocator.substreams(card: 100, device: 0) {
                try allocator.preallocate(substream: id, type: .sealedShared, size: .zero, max: .zero)
            }
        } catch {
            preconditionFailure("the scripted daemon's allocator: \(error)")
        }
        let this = self
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Runner { this.serve() }).toOpaque()
        pthread_create(&thread, nil, { context in
            Unmanaged<Runner>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_detach(thread)
        if autoConsume {
            var consumer = pthread_t()
            let box = Unmanaged.passRetained(Runner { this.consumeForever() }).toOpaque()
            pthread_create(&consumer, nil, { context in
                Unmanaged<Runner>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, box)
            pthread_detach(consumer)
        }
    }

    /// Makes a stream's memory and eventfd, as the daemon does at open: a ring of at least
    /// `frames` frames of `device`'s layout.
    func makeStream(_ id: StreamID, direction: StreamMode, device: StreamFormat, frames: Int) -> (StreamOpened, ScriptedStream) {
        let layout = FrameLayout(format: device.sampleFormat, channels: device.channels)
        let geometry = SharedStreamGeometry(
            direction: direction == .capture ? .capture : .playback, layout: layout, rate: device.rate,
            bufferFrames: SharedStreamLayout.ringFrames(atLeast: FrameCount(frames), layout: layout),
            devicePeriodFrames: 256, deviceBufferFrames: 768)
        do {
            let regions = try SharedStreamLayout.regions(for: geometry)
            let substream = try allocator.substreams(card: 100, device: 0)[nextSubstream.add(1, ordering: .relaxed).oldValue % 64]
            try allocator.open(substream: substream)
            try allocator.allocate(substream: substream, bytes: ByteCount(regions.totalBytes))
            guard let buffer = try allocator.runtimeBuffer(substream: substream) else { preconditionFailure("no buffer") }
            let memory = try SharedStreamMemory(formatting: buffer, geometry: geometry)
            let wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            let stream = ScriptedStream(id: id, memory: memory, wake: wake)
            streams.withLock { $0[id] = stream }
            let opened = StreamOpened(
                direction: direction, ring: BufferGeometry(bufferFrames: geometry.bufferFrames.value, periodFrames: 256),
                device: AudioDeviceID(1), deviceFormat: device, startThresholdFrames: geometry.bufferFrames.value,
                deviceBuffer: BufferGeometry(bufferFrames: 768, periodFrames: 256), memoryBytes: UInt64(regions.totalBytes))
            return (opened, stream)
        } catch {
            preconditionFailure("the scripted daemon could not make stream memory: \(error)")
        }
    }

    /// Sends `streamOpened` with the stream's memfd and eventfd attached, as the daemon does.
    func sendOpened(_ opened: StreamOpened, _ stream: ScriptedStream, tag: UInt32) {
        guard let bytes = try? Envelope(.streamOpened(opened), stream: stream.id, tag: tag).encoded(),
              let memfd = stream.memory.fileDescriptor
        else { preconditionFailure("unencodable streamOpened") }
        let sent = bytes.withUnsafeBytes { raw in try? DescriptorPassing.send(on: fd, bytes: raw, descriptors: [memfd, stream.wake]) }
        guard let sent, sent > 0 else { return }
        sendRaw(Array(bytes[sent...]))
    }

    /// Playback: takes up to `frames` frames from the client's ring (all that is there when nil),
    /// as the audio thread does; returns their bytes.
    @discardableResult
    func consume(_ id: StreamID, frames: Int? = nil) -> [UInt8] {
        streams.withLock { streams -> [UInt8] in
            guard let stream = streams[id] else { return [] }
            let memory = stream.memory
            let buffer = UInt64(memory.geometry.bufferFrames.value)
            let written = memory.loadClientPosition()
            let filled = SharedRingValidation.readable(clientProduced: written, daemonConsumed: stream.position, bufferFrames: buffer).frames
            let take = min(filled, UInt64(frames ?? Int.max))
            var bytes: [UInt8] = []
            let frameBytes = memory.geometry.layout.bytesPerFrame
            for index in 0..<take {
                let address = memory.ringAddress(ofFrame: stream.position &+ index)
                bytes += UnsafeRawBufferPointer(start: address, count: frameBytes)
            }
            stream.position &+= take
            stream.consumed += Int(take)
            memory.publishDaemonPosition(stream.position)
            stream.wakeIfWaiting(available: buffer - (filled - take))
            return bytes
        }
    }

    /// Capture: writes `bytes` (whole device frames) into the client's ring, as the audio
    /// thread does; returns false when they do not fit.
    @discardableResult
    func produce(_ id: StreamID, bytes: [UInt8]) -> Bool {
        streams.withLock { streams -> Bool in
            guard let stream = streams[id] else { return false }
            let memory = stream.memory
            let buffer = UInt64(memory.geometry.bufferFrames.value)
            let frameBytes = memory.geometry.layout.bytesPerFrame
            let frames = UInt64(bytes.count / frameBytes)
            let free = SharedRingValidation.writable(clientConsumed: memory.loadClientPosition(), daemonProduced: stream.position,
                                                     bufferFrames: buffer).frames
            guard free >= frames else { return false }
            bytes.withUnsafeBytes { raw in
                for index in 0..<Int(frames) {
                    memory.ringAddress(ofFrame: stream.position &+ UInt64(index))
                        .copyMemory(from: raw.baseAddress! + index * frameBytes, byteCount: frameBytes)
                }
            }
            stream.position &+= frames
            memory.publishDaemonPosition(stream.position)
            stream.wakeIfWaiting(available: buffer - free + frames)
            return true
        }
    }

    private func consumeForever() {
        while served.load(ordering: .acquiring) {
            let ids = streams.withLock { Array($0.keys) }
            var total = 0
            var moved = false
            for id in ids {
                moved = !consume(id).isEmpty || moved
                total += streams.withLock { $0[id]?.consumed ?? 0 }
            }
            if moved { onConsumed?(total, self) }
            usleep(1000)
        }
    }

    deinit { _ = Glibc.close(fd) }

    /// Sends a message to the client (blocking until written).
    func send(_ envelope: Envelope) {
        guard let bytes = try? envelope.encoded() else { preconditionFailure("test sent an unencodable \(envelope)") }
        sendRaw(bytes)
    }

    /// Sends raw bytes, valid or not.
    func sendRaw(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Closes the daemon's end: the client sees the connection end.
    func hangUp() { _ = shutdown(fd, Int32(SHUT_RDWR)) }

    /// Messages of one type received so far.
    func receivedMessages(_ type: MessageType) -> [Envelope] {
        received.withLock { $0.filter { $0.message.type == type } }
    }

    /// Waits (polling briefly) until `condition` holds on the received messages.
    func waitUntil(_ condition: @escaping @Sendable ([Envelope]) -> Bool) async -> Bool {
        for _ in 0..<500 {
            if received.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    private func serve() {
        var framer = MessageFramer()
        while true {
            let space = framer.receiveBuffer()
            let count = Glibc.read(fd, space.baseAddress, space.count)
            if count <= 0 { break }
            framer.didReceive(count)
            do {
                while let envelope = try framer.next() {
                    received.withLock { $0.append(envelope) }
                    responder(envelope, self)
                }
            } catch {
                decodeErrors.withLock { $0.append(error) }
                break
            }
        }
        // The descriptor stays open until the daemon object goes (after both of its threads):
        // closing it here let a late hangUp() from the consumer thread shut down a descriptor
        // number that the next test's socketpair had already reused.
        served.store(false, ordering: .releasing)
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Answers hello with welcome and openStream (as stream 5) with a ring of 1024 frames of
    /// ``deviceFormat`` and its descriptors; every other request gets `ok` (drain gets `drained`).
    static let standard: @Sendable (Envelope, ScriptedDaemon) -> Void = { envelope, daemon in
        switch envelope.message {
        case .hello:
            daemon.send(Envelope(.welcome(Welcome(daemonPID: 1, maxStreams: 8, daemonName: "scripted")), tag: envelope.tag))
        case .openStream(let open):
            let (opened, stream) = daemon.makeStream(StreamID(5), direction: open.direction, device: deviceFormat, frames: 1024)
            daemon.sendOpened(opened, stream, tag: envelope.tag)
        case .drain:
            daemon.send(Envelope(.drained, stream: envelope.stream, tag: envelope.tag))
        case .listDevices:
            daemon.send(Envelope(.deviceList([]), tag: envelope.tag))
        case .listStreams:
            daemon.send(Envelope(.streamList([]), tag: envelope.tag))
        default:
            daemon.send(Envelope(.ok, stream: envelope.stream, tag: envelope.tag))
        }
    }

    private final class Runner: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
