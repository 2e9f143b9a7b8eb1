// libFuzzer target: whole client sessions fed to the daemon's request handling, with no socket
// and no audio device. A real `SocketServer` serves up to three sessions over a real engine
// (playback and capture slot tables whose streams get real sealed shared memory and eventfds);
// the bytes a client would send go into its session's framer, and `handleReceived` does what the
// server loop does after a read. Replies are taken from the session's queue.
//
// The input is a list of records, each `[control][length: u16 LE][bytes]`:
//   control bits 0-1  which session (0-2; 3 runs the step-deadline check instead)
//           bit 2     the client shuts its side down after these bytes (end of stream)
//           bits 3-4  how far the clock moves first: 0, 1 ms, 3 s or 6 s (hello and
//                     half-sent-message deadlines are 5 s)
// A session that closes is dropped once its last words are taken, as the server loop does; a
// later record for it is a new connection.
//
// Invariants, after every record:
// - every reply decodes (the daemon never sends bytes its own framer refuses), re-encodes to the
//   same bytes, is a message the daemon may send, and carries a tag the client sent (or 0) and a
//   stream the client named or was given (or 0);
// - exactly two descriptors go with each `streamOpened`, and none with anything else;
// - at most one `welcome` per connection;
// - no session holds more streams than its share, the server no more than its limit, and every
//   stream a session holds has its slot and memory; a closing session holds none;
// and after the input, once every session is dropped: every slot is free and the clients' cards
// have no memory in use. (The device card's preallocation, which `setPreallocation` may move,
// is put back after each input, so that every input starts from the same allocator.)

import FuzzSupport
import Logging
import PCMBufferCore
@testable import PCMDaemon
import PCMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The server and its engine, made once (as the daemon makes them at startup) and reused by
/// every input; each input leaves them as it found them (the final invariants check that).
struct SessionWorld {
    let allocator: SubstreamAllocator
    let playback: SlotTable
    let capture: SlotTable
    let server: SocketServer
    static let clientCards = [100, 101]
    static let devicePreallocation = 64 * 1024
    static let deviceSubstreams = [StreamDirection.playback, .capture].map { SubstreamID(card: 0, device: 0, direction: $0, subdevice: 0) }

    /// A small device (8 kHz, 64-frame periods, rings of at most 4096 frames): every stream
    /// still gets real sealed memory, but a few pages of it rather than hundreds, which the
    /// fuzzer would otherwise spend most of its time faulting in and punching out.
    init() throws {
        allocator = SubstreamAllocator()
        // A device card with preallocated substreams, so that `setPreallocation` can succeed
        // (each input puts the preallocation back, see `deviceSubstreams`).
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 1)
        _ = try allocator.preallocateForAll(card: 0, device: 0, type: .continuous, size: ByteCount(Self.devicePreallocation),
                                            max: ByteCount(4 * Self.devicePreallocation))
        let layout = FrameLayout(format: .s16, channels: 2)
        playback = try SlotTable(allocator: allocator, card: Self.clientCards[0], direction: .playback, count: 5,
                                 layout: layout, maximumFrames: 4096)
        capture = try SlotTable(allocator: allocator, card: Self.clientCards[1], direction: .capture, count: 5,
                                layout: layout, maximumFrames: 4096)
        let playbackControl = try DeviceControl(stream: .playback, deviceName: "fuzz")
        let captureControl = try DeviceControl(stream: .capture, deviceName: "fuzz")
        let engine = ServerEngine(
            playback: PlaybackProcessor(slots: playback, control: playbackControl),
            capture: CaptureProcessor(slots: capture, control: captureControl),
            controls: [playbackControl, captureControl], deviceName: "fuzz", layout: layout, rate: 8_000,
            periodFrames: 64, bufferFrames: 192, allocator: allocator)
        var configuration = ServerConfiguration(policy: AccessPolicy.userDaemon(), maxStreams: 4)
        configuration.maxStreamsPerClient = 3
        configuration.maxClients = 4
        // A listening socket is all `SocketServer` needs to exist; it never accepts here.
        let listening = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let listener = try ClientListener.adopt(fd: listening)
        server = try SocketServer(listener: listener, engine: engine, configuration: configuration,
                                  logger: Logger(label: "fuzz-session") { _ in SwiftLogNoOpLogHandler() })
    }
}

/// libFuzzer runs every input on the main thread, one after another; nothing else touches it.
let world: SessionWorld = {
    do {
        return try SessionWorld()
    } catch {
        fatalError("the session fuzzer's server could not be built: \(error)")
    }
}()

/// What the harness knows about one connection: the session and what its client sent.
final class Connection {
    let session: ClientSession
    /// Every byte the client sent, to learn which tags and streams it named.
    var sent: [UInt8] = []
    /// Streams the daemon gave it.
    var opened: Set<StreamID> = []
    var welcomes = 0

    init(_ session: ClientSession) { self.session = session }

    /// Whether the client named `tag` and `stream` in some header it sent (a walk over its
    /// bytes, header to header, up to the first that is not valid).
    func named(tag: UInt32, stream: StreamID) -> (tag: Bool, stream: Bool) {
        var tagFound = tag == 0
        var streamFound = stream == .connection || opened.contains(stream)
        sent.withUnsafeBytes { bytes in
            var offset = 0
            while !(tagFound && streamFound), bytes.count - offset >= WireLimits.headerBytes,
                  let header = try? MessageHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                tagFound = tagFound || header.tag == tag
                streamFound = streamFound || header.stream == stream
                offset += WireLimits.headerBytes + header.length
            }
        }
        return (tagFound, streamFound)
    }
}

func fuzzSession(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let server = world.server
    // Stream ids count on across connections; from 1 in every input, so that an input means
    // the same thing however many ran before it (and a crash replays alone).
    server.nextStream = 1
    var connections: [Connection?] = [nil, nil, nil]
    var now: UInt64 = 1_000_000_000
    while !input.isAtEnd {
        let control = input.byte()
        let length = Int(input.integer(UInt16.self))
        let bytes = input.take(length)
        now += [0, 1_000_000, 3_000_000_000, 6_000_000_000][Int(control >> 3) & 3]
        let index = Int(control & 3)
        if index == 3 {
            server.expireStepDeadlines(now: now)
        } else {
            let connection = connections[index] ?? {
                // A distinct negative descriptor per connection: the session's key, never a file.
                let session = ClientSession(fd: -2 - Int32(index), peer: PeerCredentials(pid: 4242, uid: getuid(), gid: getgid()), now: now)
                server.admit(session)
                return Connection(session)
            }()
            connections[index] = connection
            connection.sent.append(contentsOf: bytes)
            feed(bytes, to: connection.session, endOfStream: control & 4 != 0, server: server, now: now)
        }
        for index in connections.indices {
            guard let connection = connections[index] else { continue }
            checkReplies(of: connection)
            if connection.session.phase == .closing || server.sessions[connection.session.fd] !== connection.session {
                // The server loop drops a closing session once its last words are out.
                if server.sessions[connection.session.fd] === connection.session {
                    server.drop(connection.session, reason: "fuzz: closed")
                }
                connections[index] = nil
            }
        }
        checkLimits(server)
    }
    for connection in connections.compactMap({ $0 }) where server.sessions[connection.session.fd] === connection.session {
        server.drop(connection.session, reason: "fuzz: input over")
    }
    invariant(server.sessions.isEmpty, "sessions left after every connection was dropped")
    invariant(world.playback.activeCount == 0 && world.capture.activeCount == 0,
              "slots still in use after every session was dropped: \(world.playback.activeCount) + \(world.capture.activeCount)")
    for card in SessionWorld.clientCards {
        invariant(world.allocator.bytesInUse(card: card).value == 0, "card \(card) still has memory in use")
    }
    // A client may have moved the device card's preallocation: put it back for the next input.
    for substream in SessionWorld.deviceSubstreams {
        do throws(PCMMemoryError) {
            try world.allocator.writeProcPrealloc(substream: substream, kibibytes: SessionWorld.devicePreallocation / 1024)
        } catch {
            invariant(false, "the device preallocation could not be restored: \(error)")
        }
    }
    invariant(world.allocator.bytesInUse(card: 0).value == 2 * SessionWorld.devicePreallocation, "the device card's memory is not back")
    return 0
}

/// Puts the client's bytes into the session's framer as reads would, and lets the server handle
/// them; stops where the server stops reading (a closing session).
func feed(_ bytes: UnsafeRawBufferPointer, to session: ClientSession, endOfStream: Bool, server: SocketServer, now: UInt64) {
    var rest = bytes
    while !rest.isEmpty {
        guard session.phase != .closing, server.sessions[session.fd] === session else { return }
        let count = session.framer.receive(rest)
        invariant(count > 0, "a session that is not closing has no room for input")
        rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        _ = server.handleReceived(session, endOfStream: endOfStream && rest.isEmpty, now: now)
    }
    if bytes.isEmpty, endOfStream, session.phase != .closing, server.sessions[session.fd] === session {
        _ = server.handleReceived(session, endOfStream: true, now: now)
    }
}

func checkReplies(of connection: Connection) {
    let (output, descriptors) = connection.session.takeQueuedOutput()
    var opened = 0
    output.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let header: MessageHeader
            let envelope: Envelope
            do throws(ProtocolError) {
                header = try MessageHeader.decode(rest)
                invariant(rest.count - WireLimits.headerBytes >= header.length, "the daemon's output ends inside a message")
                let message = UnsafeRawBufferPointer(rebasing: rest[..<(WireLimits.headerBytes + header.length)])
                envelope = try Envelope.decode(message)
                let again = try envelope.encoded()
                invariant(again.elementsEqual(message), "reply \(envelope) is not in canonical form")
            } catch {
                invariant(false, "the daemon sent a reply its own protocol refuses: \(error)")
                return
            }
            offset += WireLimits.headerBytes + header.length
            let type = envelope.message.type
            invariant(type.sender != .client, "the daemon sent \(type), a client's message")
            let named = connection.named(tag: envelope.tag, stream: envelope.stream)
            invariant(named.tag, "reply \(envelope) carries a tag the client never sent")
            if case .streamOpened = envelope.message {
                opened += 1
                connection.opened.insert(envelope.stream)
            } else {
                invariant(named.stream, "reply \(envelope) names a stream the client never named nor got")
            }
            if case .welcome = envelope.message { connection.welcomes += 1 }
        }
    }
    invariant(descriptors == 2 * opened, "\(descriptors) descriptors went with \(opened) streamOpened replies")
    invariant(connection.welcomes <= 1, "more than one welcome on a connection")
}

func checkLimits(_ server: SocketServer) {
    var total = 0
    for session in server.sessions.values {
        invariant(session.streams.count <= server.configuration.maxStreamsPerClient, "a session holds more streams than its share")
        if session.phase == .closing { invariant(session.streams.isEmpty, "a closing session still holds streams") }
        for (id, stream) in session.streams {
            invariant(stream.id == id, "a stream is filed under another id")
            invariant(stream.slot.state != .free && stream.slot.attachedMemory != nil, "stream \(id.rawValue) has no slot")
        }
        total += session.streams.count
    }
    invariant(total <= server.configuration.maxStreams, "\(total) streams, over the server's limit")
    invariant(world.playback.activeCount + world.capture.activeCount == total, "slots in use do not match the streams held")
}
