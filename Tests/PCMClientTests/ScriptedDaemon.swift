// A stand-in daemon for client tests: the other end of a socketpair, driven by blocking I/O on
// its own thread, that records every message the client sends and answers as each test scripts.
// It speaks through PCMProtocol only, so the client is tested against the protocol, not itself.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMBufferCore
import PCMProtocol
import Synchronization

/// The daemon side of a socketpair.
final class ScriptedDaemon: Sendable {
    /// The daemon's descriptor (the client adopts the other one).
    let fd: Int32
    /// The client's descriptor, to hand to `PCMConnection.connect(adopting:)`.
    let clientFD: Int32
    /// Every message received from the client, in order.
    let received = Mutex<[Envelope]>([])
    /// Errors the daemon saw decoding the client's bytes.
    let decodeErrors = Mutex<[ProtocolError]>([])
    private let responder: @Sendable (Envelope, ScriptedDaemon) -> Void

    /// - Parameter respond: Called on the daemon thread for each message; send replies with ``send(_:)``.
    init(respond: @escaping @Sendable (Envelope, ScriptedDaemon) -> Void = ScriptedDaemon.standard) {
        var pair: [Int32] = [-1, -1]
        let ok = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
        precondition(ok == 0, "socketpair failed")
        fd = pair[0]
        clientFD = pair[1]
        responder = respond
        let this = self
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Runner { this.serve() }).toOpaque()
        pthread_create(&thread, nil, { context in
            Unmanaged<Runner>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_detach(thread)
    }

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
        _ = Glibc.close(fd)
    }

    /// Answers hello with welcome and openStream with a 100-frame buffer plus its credits;
    /// every other request gets `ok` (drain gets `drained`).
    static let standard: @Sendable (Envelope, ScriptedDaemon) -> Void = { envelope, daemon in
        switch envelope.message {
        case .hello:
            daemon.send(Envelope(.welcome(Welcome(daemonPID: 1, maxStreams: 8, daemonName: "scripted")), tag: envelope.tag))
        case .openStream(let open):
            let opened = StreamOpened(
                direction: open.direction, buffer: BufferGeometry(bufferFrames: 100, periodFrames: 25),
                device: AudioDeviceID(1), deviceFormat: StreamFormat(.s32, rate: 48_000, channels: 2),
                deviceBuffer: BufferGeometry(bufferFrames: 1024, periodFrames: 256)
            )
            daemon.send(Envelope(.streamOpened(opened), stream: StreamID(5), tag: envelope.tag))
            if open.direction.plays { daemon.send(Envelope(.credits(Credits(frames: 100)), stream: StreamID(5))) }
        case .drain:
            daemon.send(Envelope(.drained, stream: envelope.stream, tag: envelope.tag))
        case .listDevices:
            daemon.send(Envelope(.deviceList([]), tag: envelope.tag))
        case .listStreams:
            daemon.send(Envelope(.streamList([]), tag: envelope.tag))
        case .audioData:
            break
        default:
            daemon.send(Envelope(.ok, stream: envelope.stream, tag: envelope.tag))
        }
    }

    private final class Runner: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
