// The engine of a client connection: the state every API call and the I/O thread share (behind
// one Mutex), and the I/O thread itself. The thread owns the socket and the receive framer; it
// sends what calls queue, decodes what the daemon sends, answers waiting requests by tag and
// applies events (credits, clock, xruns, capture audio) to the stream records. API calls never
// touch the socket, so no task ever blocks in a system call.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMProtocol
import Synchronization
import SystemPackage

/// A request waiting for its reply.
struct PendingRequest {
    /// Resumed with the reply (or the reason there will be none).
    let continuation: CheckedContinuation<Result<Envelope, PCMClientError>, Never>
    /// For `openStream`: the client's format, recorded with the stream when the reply arrives.
    let format: StreamFormat?
}

/// Everything about a connection that changes, guarded by ``ConnectionCore/state``.
struct ConnectionState {
    /// Encoded messages waiting for the I/O thread to send them.
    var outgoing: [UInt8] = []
    /// The next request tag (never 0, which marks events).
    var nextTag: UInt32 = 1
    /// Requests waiting for replies, by tag.
    var pending: [UInt32: PendingRequest] = [:]
    /// Tags of requests sent without waiting (a stream closed by `deinit`): replies are dropped.
    var unawaited: Set<UInt32> = []
    /// Open streams, by number.
    var streams: [StreamID: StreamRecord] = [:]
    /// The latest master volume of each device, as announced by the daemon.
    var masterVolumes: [AudioDeviceID: Volume] = [:]
    /// The last connection-level error event: the reason for a disconnect that follows it.
    var lastError: ErrorReply?
    /// Set once the connection is over; every later call fails with it.
    var closed: PCMClientError?
    /// Set by ``ConnectionCore/close()``: the I/O thread stops at its next wakeup.
    var closeRequested = false

    /// A fresh request tag, skipping 0.
    mutating func takeTag() -> UInt32 {
        defer { nextTag = nextTag == .max ? 1 : nextTag + 1 }
        return nextTag
    }

    /// Ends the connection: every waiter and every stream fails with `reason`.
    mutating func fail(_ reason: PCMClientError) {
        guard closed == nil else { return }
        closed = reason
        for (_, request) in pending { request.continuation.resume(returning: .failure(reason)) }
        pending = [:]
        for id in streams.keys { streams[id]?.close(reason) }
    }
}

/// The shared half of a connection: state plus the way to wake the I/O thread.
final class ConnectionCore: Sendable {
    /// All mutable state. Held only for short, non-blocking sections.
    let state = Mutex(ConnectionState())
    /// The I/O thread's doorbell. Owned here, not by the socket, so it stays open as long as
    /// anyone can ring it: a wake after the connection ended is a harmless eventfd write.
    private let wakeEvent: WakeEvent

    private init(wakeEvent: WakeEvent) {
        self.wakeEvent = wakeEvent
    }

    /// Starts the I/O thread on `socket` and returns the core that talks to it.
    static func start(socket: consuming ClientSocket) throws(PCMClientError) -> ConnectionCore {
        let core = ConnectionCore(wakeEvent: try WakeEvent())
        let transfer = Transfer(socket)
        try startThread { [core] in
            guard let socket = transfer.take() else { return }
            core.run(socket)
        }
        return core
    }

    /// Wakes the I/O thread (to send queued bytes, or to stop).
    func wake() {
        wakeEvent.signal()
    }

    /// Closes the connection: pending calls fail with ``PCMClientError/disconnected(_:)``.
    func close() {
        state.withLock { state in
            state.closeRequested = true
            state.fail(.disconnected(nil))
        }
        wakeEvent.signal()
    }

    /// Sends a request and waits for its reply. A daemon `error` reply becomes ``PCMClientError/refused(_:)``.
    func request(_ message: Message, stream: StreamID = .connection, format: StreamFormat? = nil)
        async throws(PCMClientError) -> Envelope
    {
        let result: Result<Envelope, PCMClientError> = await withCheckedContinuation { continuation in
            let queued: Bool = state.withLock { state in
                if let closed = state.closed {
                    continuation.resume(returning: .failure(closed))
                    return false
                }
                let tag = state.takeTag()
                do throws(ProtocolError) {
                    try Envelope(message, stream: stream, tag: tag).encode(appendingTo: &state.outgoing)
                } catch {
                    continuation.resume(returning: .failure(.invalidArgument(error.description)))
                    return false
                }
                state.pending[tag] = PendingRequest(continuation: continuation, format: format)
                return true
            }
            if queued { wake() }
        }
        return try result.get()
    }

    /// Sends a request whose reply nobody waits for (closing a stream from `deinit`).
    func send(unawaited message: Message, stream: StreamID) {
        let queued: Bool = state.withLock { state in
            guard state.closed == nil else { return false }
            let tag = state.takeTag()
            do throws(ProtocolError) {
                try Envelope(message, stream: stream, tag: tag).encode(appendingTo: &state.outgoing)
            } catch {
                return false  // only payload-less messages come here, and they always encode
            }
            state.unawaited.insert(tag)
            return true
        }
        if queued { wake() }
    }

    // MARK: - The I/O thread

    /// The I/O thread's loop: send what is queued, read what arrives, until the connection ends.
    private func run(_ socket: borrowing ClientSocket) {
        var framer = MessageFramer()
        var sending: [UInt8] = []
        var sent = 0
        let reason: PCMClientError
        loop: while true {
            let stop: Bool = state.withLock { state in
                if sent == sending.count {
                    sending.removeAll(keepingCapacity: true)
                    sent = 0
                    swap(&sending, &state.outgoing)
                }
                return state.closeRequested
            }
            if stop {
                reason = .disconnected(nil)
                break loop
            }
            do throws(PCMClientError) {
                if sent < sending.count {
                    let offset = sent
                    let result: Result<Int, PCMClientError> = sending.withUnsafeBytes { raw in
                        Result { () throws(PCMClientError) in try socket.send(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
                    }
                    sent += try result.get()
                }
                let readiness = try socket.wait(forWriting: sent < sending.count, wake: wakeEvent)
                if readiness.readable || readiness.hangUp {
                    if let end = try receive(from: socket, into: &framer) {
                        reason = end
                        break loop
                    }
                }
            } catch {
                var ending = error
                if case .system(call: "send", errno: let code) = error, code == .brokenPipe || code == .connectionReset {
                    // The daemon hung up while we were writing: its last words (an error event
                    // with the reason) may still be waiting to be read. Read them, so the
                    // disconnect carries the daemon's reason rather than EPIPE.
                    if (try? receive(from: socket, into: &framer)) != nil { ending = .disconnected(nil) }
                }
                reason = ending
                break loop
            }
        }
        socket.shutDown()
        state.withLock { state in
            let final: PCMClientError
            if case .disconnected(nil) = reason, let lastError = state.lastError {
                final = .disconnected(lastError)
            } else {
                final = reason
            }
            state.fail(final)
        }
    }

    /// Reads everything available and dispatches each whole message.
    /// Returns the reason the connection ended, or `nil` if it is still open.
    private func receive(from socket: borrowing ClientSocket, into framer: inout MessageFramer) throws(PCMClientError) -> PCMClientError? {
        while true {
            guard let count = try socket.receive(into: framer.receiveBuffer()) else { return nil }
            if count == 0 { return .disconnected(nil) }
            framer.didReceive(count)
            while true {
                let envelope: Envelope?
                do throws(ProtocolError) {
                    envelope = try framer.next()
                } catch {
                    return .protocolViolation(error)
                }
                guard let envelope else { break }
                if let violation = state.withLock({ $0.apply(envelope) }) { return violation }
            }
        }
    }
}

extension ConnectionState {
    /// Applies one message from the daemon. Returns an error if the daemon broke the protocol.
    mutating func apply(_ envelope: Envelope) -> PCMClientError? {
        if envelope.tag != 0 {
            if unawaited.remove(envelope.tag) != nil { return nil }
            guard let request = pending.removeValue(forKey: envelope.tag) else {
                return .unexpectedReply(envelope.message.type)
            }
            switch envelope.message {
            case .error(let reply):
                request.continuation.resume(returning: .failure(.refused(reply)))
            case .streamOpened(let opened):
                guard let format = request.format else { return .unexpectedReply(.streamOpened) }
                streams[envelope.stream] = StreamRecord(format: format, opened: opened)
                request.continuation.resume(returning: .success(envelope))
            default:
                request.continuation.resume(returning: .success(envelope))
            }
            return nil
        }
        switch envelope.message {
        case .credits(let credits):
            guard streams[envelope.stream] != nil else { return nil }  // a late event for a closed stream
            streams[envelope.stream]!.credits += Int(credits.frames)
            if let waiter = streams[envelope.stream]!.creditWaiter {
                streams[envelope.stream]!.creditWaiter = nil
                waiter.resume(returning: .success(()))
            }
        case .position(let position):
            streams[envelope.stream]?.position = position
        case .xrun(let xrun):
            streams[envelope.stream]?.lastXrun = xrun
        case .streamVolumeChanged(let volume):
            streams[envelope.stream]?.volume = volume
        case .masterVolumeChanged(let master):
            masterVolumes[master.device] = master.volume
        case .audioData(let samples):
            streams[envelope.stream]?.capture.append(samples)
        case .error(let reply):
            if envelope.stream == .connection {
                lastError = reply
            } else {
                // The record stays (closed) until the PCMStream goes away, so every later call
                // on the stream learns the daemon's reason.
                streams[envelope.stream]?.close(.streamClosed(reply))
            }
        default:
            return .unexpectedReply(envelope.message.type)
        }
        return nil
    }
}

/// Moves a noncopyable value into a closure that runs on another thread, exactly once.
final class Transfer<Value: ~Copyable>: @unchecked Sendable {
    // Safety: `value` is written once in `init` on the creating thread and taken once by the
    // new thread; pthread_create orders the two, and `take` leaves nothing behind to share.
    private var value: Value?

    init(_ value: consuming Value) { self.value = consume value }

    func take() -> Value? { value.take() }
}

/// Starts a detached thread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) throws(PCMClientError) {
    final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<Box>.fromOpaque(context).release()
        throw .system(call: "pthread_create", errno: Errno(rawValue: result))
    }
    pthread_detach(thread)
}
