// The socket side of the daemon: one thread running a poll() loop over the listening socket and
// every client (sndio's file.c shape). It accepts and vets connections, reads and answers
// control messages, and sends each new stream its shared memory. It does nothing per period:
// audio, the clock and xruns travel through the shared memory, and the audio threads ring their
// slot table's progress eventfd only for the rare events the server must act on (a drain that
// completed, a client that wrote an impossible position). It meets the audio threads only
// through the slots' atomics, so nothing it does (or any client does to it) can block or disturb
// audio.
//
// Places are limited (`max-clients` in all, a share per uid), so a connection must earn its
// place: `hello` within a deadline, and no message left half-sent for as long. The deadlines are
// times stored in the sessions, not timers: the loop looks at them only once the earliest one
// may have passed, on the wakeup it already has while clients are connected.

#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Logging
import PCMBufferCore
import PCMProtocol
import Synchronization

/// The client server. `run()` is the thread body; `stop()` may be called from anywhere.
public final class SocketServer: @unchecked Sendable {
    // Safety: every stored property except `stopRequested`, `finishedFlag`, `devicesAdded` and
    // `wakeup` is used only inside `run()` on the server thread (the listener, the sessions, the
    // streams and their converters); `stop()` and `devicesChanged()` touch only the atomics and
    // the eventfd.
    private let listener: ClientListener
    let engine: ServerEngine
    let configuration: ServerConfiguration
    let logger: Logger
    private let wakeup: Int32
    private let stopRequested = Atomic<Bool>(false)
    private let finishedFlag = Atomic<Bool>(false)
    /// Set when a device was added while running (`DeviceRegistry`); the loop tells the clients.
    private let devicesAdded = Atomic<Bool>(false)
    /// The devices found gone at the last look, so clients are told only of changes.
    var lastLostDevices: Set<AudioDeviceID> = []
    var sessions: [Int32: ClientSession] = [:]
    var nextStream: UInt32 = 1
    /// Whether the first refused `mlock` of stream memory was logged (once per run is enough).
    var lockRefusalLogged = false
    /// No session's step deadline (hello, a half-sent message) falls before this monotonic
    /// time, so the sessions are scanned for expired ones only once it has passed. It may be
    /// early (a deadline that moved on), never late.
    private var nextStepCheck = UInt64.max
    /// How often stall and close deadlines are checked while some session has output queued or is
    /// closing. Otherwise the thread sleeps until a descriptor is ready or the next step deadline
    /// (a hello, a half-sent message) is due: while clients simply play, it does not wake at all.
    private static let deadlineCheckMilliseconds: Int32 = 250

    public init(listener: consuming ClientListener, engine: ServerEngine, configuration: ServerConfiguration, logger: Logger) throws(ServerError) {
        let event = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard event >= 0 else { throw .system(call: "eventfd", errno: errno) }
        self.listener = listener
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
        wakeup = event
        engine.registry.onChange { [weak self] in self?.devicesChanged() }
    }

    /// A device was added (a card plugged in): the loop watches its eventfds from its next turn
    /// and tells every client. May be called from any thread.
    public func devicesChanged() {
        devicesAdded.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)  // ignored: fails only if the counter is saturated (already woken)
    }

    /// Tells every client that the device list changed (`deviceListChanged`).
    func announceDeviceListChange() {
        for session in sessions.values where session.phase == .ready { session.enqueue(Envelope(.deviceListChanged)) }
    }

    deinit { close(wakeup) }

    /// Asks `run()` to return: clients are told the daemon is shutting down and disconnected.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)  // ignored: fails only if the counter is saturated (already woken)
    }

    /// Whether `run()` has returned.
    public var isFinished: Bool { finishedFlag.load(ordering: .acquiring) }

    var totalStreams: Int { sessions.values.reduce(0) { $0 + $1.streams.count } }

    /// The server loop.
    public func run() {
        logger.notice("serving clients", metadata: ["socket.path": "\(listener.path ?? "(inherited)")",
                                                    "socket.access": "\(configuration.policy)",
                                                    "clients.max": "\(configuration.maxClients)",
                                                    "clients.per_user": "\(configuration.clientsPerUser)"])
        var descriptors: [pollfd] = []
        var order: [Int32] = []
        while !stopRequested.load(ordering: .acquiring) {
            // The audio threads' signals for rare events (drained, violation, a device gone or
            // back), from every device, those added while running included.
            let progress = engine.devices.flatMap { [$0.playback?.slots.progress.fd, $0.capture?.slots.progress.fd].compactMap { $0 } }
            let fixed = 2 + progress.count
            descriptors.removeAll(keepingCapacity: true)
            order.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: wakeup, events: Int16(POLLIN), revents: 0))
            descriptors.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0))
            for fd in progress { descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            for (fd, session) in sessions {
                let events = Int16(session.phase == .closing ? 0 : POLLIN) | Int16(session.wantsToWrite ? POLLOUT : 0)
                descriptors.append(pollfd(fd: fd, events: events, revents: 0))
                order.append(fd)
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), pollTimeout())  // EINTR: just go round again

            if descriptors[0].revents != 0 {
                var value: UInt64 = 0
                _ = read(wakeup, &value, 8)  // resets the eventfd; the loop condition reads the flag
            }
            if descriptors[1].revents & Int16(POLLIN) != 0 { acceptClients() }
            if devicesAdded.exchange(false, ordering: .acquiringAndReleasing) {
                logger.notice("device list changed", metadata: ["pcm.devices": "\(engine.devices.map(\.name).joined(separator: ", "))"])
                announceDeviceListChange()
            }
            var eventsDue = false
            for index in 2..<fixed where descriptors[index].revents != 0 {
                var value: UInt64 = 0
                _ = read(descriptors[index].fd, &value, 8)  // resets the eventfd: one look however many events
                eventsDue = true
            }
            let current = MonotonicClock.nanoseconds()
            for (index, fd) in order.enumerated() {
                guard let session = sessions[fd] else { continue }
                let revents = descriptors[index + fixed].revents
                if revents & Int16(POLLIN) != 0 { serviceInput(session, now: current) }
                if revents & Int16(POLLERR | POLLHUP) != 0, revents & Int16(POLLIN) == 0 {
                    drop(session, reason: "hung up")
                }
            }
            if current >= nextStepCheck { expireStepDeadlines(now: current) }
            if eventsDue {
                serviceStreamEvents(now: current)
                rescueStreams(now: current)
            }
            flushAll(now: MonotonicClock.nanoseconds())
        }
        shutDown()
        finishedFlag.store(true, ordering: .releasing)
    }

    // MARK: - Connections

    private func acceptClients() {
        while true {
            let fd: Int32?
            do throws(ServerError) {
                fd = try listener.accept()
            } catch {
                logger.error("accept failed", metadata: ["error": "\(error)"])
                return
            }
            guard let fd else { return }
            let peer: PeerCredentials
            do throws(ServerError) {
                peer = try PeerCredentials.of(socket: fd)
            } catch {
                logger.warning("client refused: credentials unreadable", metadata: ["error": "\(error)"])
                refuse(fd, ErrorReply(code: .accessDenied, text: "the daemon could not read your credentials"))
                continue
            }
            guard configuration.policy.allows(peer) else {
                logger.warning("client refused: not allowed", metadata: [
                    "peer.uid": "\(peer.uid)", "peer.gid": "\(peer.gid)", "peer.pid": "\(peer.pid)",
                ])
                refuse(fd, ErrorReply(code: .accessDenied,
                                      text: "uid \(peer.uid) is not allowed to use this pcmd (allowed: \(configuration.policy))"))
                continue
            }
            guard sessions.count < configuration.maxClients else {
                logger.warning("client refused: too many clients", metadata: ["peer.pid": "\(peer.pid)", "clients": "\(sessions.count)"])
                refuse(fd, ErrorReply(code: .tooManyClients, text: "the daemon serves at most \(configuration.maxClients) clients (max-clients)"))
                continue
            }
            let fromUser = sessions.values.reduce(0) { $1.peer.uid == peer.uid ? $0 + 1 : $0 }
            guard fromUser < configuration.clientsPerUser else {
                logger.warning("client refused: too many clients of one user", metadata: [
                    "peer.uid": "\(peer.uid)", "peer.pid": "\(peer.pid)", "clients": "\(fromUser)",
                ])
                refuse(fd, ErrorReply(code: .tooManyClients,
                                      text: "uid \(peer.uid) already has \(fromUser) connections, its limit (max-clients-per-user)"))
                continue
            }
            admit(ClientSession(fd: fd, peer: peer, now: MonotonicClock.nanoseconds()))
            logger.info("client connected", metadata: ["peer.uid": "\(peer.uid)", "peer.pid": "\(peer.pid)"])
        }
    }

    /// Starts serving an accepted, vetted connection: its hello deadline runs from now.
    func admit(_ session: ClientSession) {
        sessions[session.fd] = session
        watchStepDeadline(of: session)
    }

    /// Tells a refused peer why, without waiting for it, and closes the connection.
    private func refuse(_ fd: Int32, _ reply: ErrorReply) {
        if let bytes = try? Envelope(.error(reply)).encoded() {
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        }
        close(fd)
    }

    /// Releases every stream of a session (each waits for the audio thread to let go of its
    /// memory, about a period at most), logging any stream whose memory was not reclaimed cleanly.
    func releaseStreams(of session: ClientSession) {
        for (id, stream) in session.streams {
            if let failure = stream.release() {
                logger.warning("stream memory not released cleanly", metadata: ["stream.id": "\(id.rawValue)", "error": "\(failure)"])
            }
        }
        session.streams.removeAll()
    }

    /// Ends a session now: its streams are released, nothing of it is kept.
    func drop(_ session: ClientSession, reason: String) {
        releaseStreams(of: session)
        sessions[session.fd] = nil
        logger.info("client disconnected", metadata: [
            "peer.pid": "\(session.peer.pid)", "client.name": "\(session.clientName)", "reason": "\(reason)",
        ])
    }

    /// Sends `reply` and closes the session once it is flushed: its streams stop at once.
    func fail(_ session: ClientSession, _ reply: ErrorReply, now: UInt64) {
        logger.info("client misbehaved; disconnecting", metadata: [
            "peer.pid": "\(session.peer.pid)", "client.name": "\(session.clientName)", "error": "\(reply)",
        ])
        releaseStreams(of: session)
        session.enqueue(Envelope(.error(reply)))
        session.beginClosing(now: now, reason: "disconnected after an error")
    }

    private func serviceInput(_ session: ClientSession, now: UInt64) {
        var rounds = 0
        while session.phase != .closing, rounds < 4 {
            rounds += 1
            let outcome = session.read(limit: 256 * 1024)
            if case .failed(let code) = outcome {
                drop(session, reason: String(cString: strerror(code)))
                return
            }
            var endOfStream = false
            if case .endOfStream = outcome { endOfStream = true }
            let handled = handleReceived(session, endOfStream: endOfStream, now: now)
            if endOfStream || handled == 0 { return }
        }
    }

    /// Everything the server does with the bytes one read put into the session's framer, and
    /// with the end of the client's stream: handles each whole message, restarts the clock on a
    /// message left half-sent, and finishes a session whose client will send nothing more.
    /// Returns how many messages were handled. Apart from `serviceInput`, the session fuzzer
    /// (fuzz/Sources/fuzz-session) calls it, having put the bytes in the framer itself, so the
    /// whole request path runs without a socket.
    func handleReceived(_ session: ClientSession, endOfStream: Bool, now: UInt64) -> Int {
        // Even at the end of the stream: a client may send its last requests and shut its
        // side down at once, and each of them still gets its reply.
        let handled = handleBuffered(session, now: now)
        trackPartialMessage(of: session, handled: handled, now: now)
        if endOfStream { finishAfterEndOfStream(session, now: now) }
        return handled
    }

    /// Handles every whole message in the session's framer; returns how many there were.
    private func handleBuffered(_ session: ClientSession, now: UInt64) -> Int {
        var handled = 0
        while session.phase != .closing {
            do throws(ProtocolError) {
                let handledOne: Bool? = try session.framer.nextMessage { header, payload in
                    handle(header: header, payload: payload, from: session, now: now)
                    return true
                }
                guard handledOne != nil else { break }
                handled += 1
            } catch {
                // A bad header: the byte stream cannot be trusted any more.
                fail(session, ErrorReply(error), now: now)
            }
        }
        return handled
    }

    /// The client sends nothing more: its streams stop now, the replies it is owed go out,
    /// then the connection closes.
    private func finishAfterEndOfStream(_ session: ClientSession, now: UInt64) {
        guard session.phase != .closing else { return }  // already closing after an error
        guard session.wantsToWrite else {
            drop(session, reason: "closed by the client")
            return
        }
        releaseStreams(of: session)
        session.beginClosing(now: now, reason: "closed by the client")
    }

    /// How long the loop may sleep: until the next step deadline, and no more than
    /// `deadlineCheckMilliseconds` while a session has output queued (it may stall) or is
    /// closing (it has a close deadline); forever (-1) when nothing is due.
    private func pollTimeout() -> Int32 {
        var timeout: Int32 = -1
        if sessions.values.contains(where: { $0.wantsToWrite || $0.phase == .closing }) {
            timeout = Self.deadlineCheckMilliseconds
        }
        if nextStepCheck != .max {
            let now = MonotonicClock.nanoseconds()
            // Rounded up, so the loop wakes after the deadline, not just before it.
            let due = nextStepCheck > now ? Int32(min((nextStepCheck - now + 999_999) / 1_000_000, 60_000)) : 0
            timeout = timeout < 0 ? due : min(timeout, due)
        }
        return timeout
    }

    // MARK: - Step deadlines

    private var stepTimeoutNanoseconds: UInt64 { UInt64(configuration.helloTimeoutSeconds * 1_000_000_000) }

    /// Makes sure the loop looks at `session` again when its step deadline passes.
    private func watchStepDeadline(of session: ClientSession) {
        if let due = session.stepDeadline(timeoutNanoseconds: stepTimeoutNanoseconds) { nextStepCheck = min(nextStepCheck, due) }
    }

    /// Starts (or restarts, after a whole message) the clock on a message the framer holds
    /// only part of, and stops it when the framer is empty.
    private func trackPartialMessage(of session: ClientSession, handled: Int, now: UInt64) {
        guard session.framer.bufferedBytes > 0 else {
            session.partialSince = nil
            return
        }
        if handled > 0 || session.partialSince == nil {
            session.partialSince = now
            watchStepDeadline(of: session)
        }
    }

    /// Closes, with `timedOut`, every session whose step deadline has passed, and notes the
    /// next deadline of the others.
    func expireStepDeadlines(now: UInt64) {
        let timeout = stepTimeoutNanoseconds
        var next = UInt64.max
        for session in Array(sessions.values) {
            guard let due = session.stepDeadline(timeoutNanoseconds: timeout) else { continue }
            guard due <= now else {
                next = min(next, due)
                continue
            }
            let seconds = configuration.helloTimeoutSeconds
            let text = session.phase == .awaitingHello
                ? "no hello within \(seconds) s of connecting"
                : "a message was left incomplete for \(seconds) s"
            fail(session, ErrorReply(code: .timedOut, text: text), now: now)
        }
        nextStepCheck = next
    }

    // MARK: - Output

    private func flushAll(now: UInt64) {
        let timeout = UInt64(configuration.stallTimeoutSeconds * 1_000_000_000)
        for session in Array(sessions.values) {
            guard session.flush(now: now) else {
                drop(session, reason: "connection lost")
                continue
            }
            if session.phase == .closing {
                if !session.wantsToWrite || now > session.closeDeadline { drop(session, reason: session.closingReason) }
            } else if session.isStuck(now: now, timeoutNanoseconds: timeout) {
                fail(session, ErrorReply(code: .tooSlow, text: "you stopped reading for \(configuration.stallTimeoutSeconds) s"), now: now)
            }
        }
    }

    // MARK: - Rare stream events

    /// Answers completed drains and ends the clients that violated their shared memory.
    private func serviceStreamEvents(now: UInt64) {
        for session in Array(sessions.values) where session.phase == .ready {
            for (id, stream) in session.streams {
                switch stream.takeEvent() {
                case .drained(let tag)?:
                    session.enqueue(Envelope(.drained, stream: id, tag: tag))
                case .violation?:
                    fail(session, ErrorReply(code: .sharedMemoryViolation,
                                             text: "stream \(id.rawValue): your position in the shared ring is impossible"), now: now)
                case nil:
                    continue
                }
                if session.phase == .closing { break }
            }
        }
    }

    private func shutDown() {
        let now = MonotonicClock.nanoseconds()
        for session in Array(sessions.values) {
            session.enqueue(Envelope(.error(ErrorReply(code: .shuttingDown, text: "pcmd is stopping"))))
            _ = session.flush(now: now)
            drop(session, reason: "daemon stopping")
        }
        logger.notice("stopped serving clients")
    }
}
