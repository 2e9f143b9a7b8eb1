// The engine of an async client connection: the state every API call and the I/O thread share
// (behind one lock), and the I/O thread itself. The thread owns the control channel
// (PCMClientCore's ControlChannel: socket, framer, received descriptors); it sends what calls
// queue, decodes what the daemon sends, answers waiting requests by tag (mapping a new stream's
// shared memory from the descriptors of its reply), applies events, and polls the eventfd of
// every stream with a waiting writer or reader, resuming it when the daemon rings. API calls
// never touch the socket, so no task ever blocks in a system call. Audio never passes through
// here: writers and readers use their stream's shared ring directly.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMBufferCore
import PCMClientCore
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
    /// How many times the daemon said its devices changed (`deviceListChanged`).
    var deviceListChanges: UInt64 = 0
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
    let state = Locked(ConnectionState())
    /// The I/O thread's doorbell. Owned here, not by the socket, so it stays open as long as
    /// anyone can ring it: a wake after the connection ended is a harmless eventfd write.
    private let wakeEvent: WakeEvent

    private init(wakeEvent: WakeEvent) {
        self.wakeEvent = wakeEvent
    }

    /// Starts the I/O thread on `channel` and returns the core that talks to it.
    static func start(channel: consuming ControlChannel) throws(PCMClientError) -> ConnectionCore {
        let core = ConnectionCore(wakeEvent: try WakeEvent())
        let transfer = Transfer(channel)
        try startThread { [core] in
            guard var channel = transfer.take() else { return }
            core.run(&channel)
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

    /// The I/O thread's loop: send what is queued, read what arrives, wake stream waiters,
    /// until the connection ends. When it ends, every waiter fails with the reason.
    private func run(_ channel: inout ControlChannel) {
        var sending: [UInt8] = []
        var sent = 0
        // Reused every round: the poll set (socket, doorbell, then the eventfds of streams
        // with a waiter) and the streams those eventfds belong to.
        var descriptors: [pollfd] = []
        var watched: [StreamID] = []
        let reason: PCMClientError
        loop: while true {
            descriptors.removeAll(keepingCapacity: true)
            watched.removeAll(keepingCapacity: true)
            let stop: Bool = state.withLock { state in
                if sent == sending.count {
                    sending.removeAll(keepingCapacity: true)
                    sent = 0
                    swap(&sending, &state.outgoing)
                }
                for (id, record) in state.streams where record.waiter != nil {
                    watched.append(id)
                    descriptors.append(pollfd(fd: record.shared.wakeDescriptor, events: Int16(POLLIN), revents: 0))
                }
                return state.closeRequested
            }
            if stop {
                reason = .disconnected(nil)
                break loop
            }
            do throws(ClientCoreError) {
                if sent < sending.count {
                    let offset = sent
                    let result: Result<Int, ClientCoreError> = sending.withUnsafeBytes { raw in
                        Result { () throws(ClientCoreError) in try channel.sendAvailable(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
                    }
                    sent += try result.get()
                }
                descriptors.insert(pollfd(fd: channel.fd, events: Int16(POLLIN) | (sent < sending.count ? Int16(POLLOUT) : 0), revents: 0), at: 0)
                descriptors.insert(pollfd(fd: wakeEvent.fd, events: Int16(POLLIN), revents: 0), at: 1)
                let ready = descriptors.withUnsafeMutableBufferPointer { fds in
                    retryingInterrupts { poll(fds.baseAddress, nfds_t(fds.count), -1) }
                }
                guard ready >= 0 else { throw .system(call: "poll", errno: errno) }
                if descriptors[1].revents != 0 { wakeEvent.drain() }
                if descriptors.count > 2 {
                    state.withLock { state in
                        for (index, id) in watched.enumerated() where descriptors[index + 2].revents != 0 {
                            state.streams[id]?.wakeWaiter()
                        }
                    }
                }
                if descriptors[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    if let end = try receive(&channel) {
                        reason = end
                        break loop
                    }
                }
            } catch {
                var ending = PCMClientError(error)
                if case .disconnected = error {
                    // The daemon hung up while we were writing: its last words (an error event
                    // with the reason) may still be waiting to be read. Read them, so the
                    // disconnect carries the daemon's reason rather than EPIPE.
                    if (try? receive(&channel)) != nil { ending = .disconnected(nil) }
                }
                reason = ending
                break loop
            }
        }
        channel.shutDown()
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
    private func receive(_ channel: inout ControlChannel) throws(ClientCoreError) -> PCMClientError? {
        while true {
            let open = try channel.receiveAvailable()
            var handled = 0
            while let envelope = try channel.nextEnvelope() {
                handled += 1
                // A new stream's reply takes its two descriptors from the front of the queue,
                // outside the lock: mapping is a few system calls.
                var mapped: Result<ClientStream, PCMClientError>?
                if envelope.tag != 0, case .streamOpened(let opened) = envelope.message {
                    let format = state.withLock { $0.pending[envelope.tag]?.format }
                    mapped = Self.map(opened, stream: envelope.stream, format: format, from: &channel)
                }
                if let violation = state.withLock({ $0.apply(envelope, mapped: mapped) }) { return violation }
            }
            if !open { return .disconnected(nil) }
            if handled == 0 { return nil }
        }
    }

    /// Maps a new stream from the two descriptors its reply carried.
    private static func map(_ opened: StreamOpened, stream: StreamID, format: StreamFormat?,
                            from channel: inout ControlChannel) -> Result<ClientStream, PCMClientError> {
        let memfd = channel.takeDescriptor()
        let wake = channel.takeDescriptor()
        guard let memfd, let wake, let format else {
            if let memfd { _ = Glibc.close(memfd) }
            if let wake { _ = Glibc.close(wake) }
            return .failure(format == nil ? .unexpectedReply(.streamOpened) : .sharedMemory("streamOpened came without its two descriptors"))
        }
        do throws(ClientCoreError) {
            return .success(try ClientStream(id: stream, opened: opened, format: format, memoryDescriptor: memfd, wakeDescriptor: wake))
        } catch {
            return .failure(PCMClientError(error))
        }
    }
}

extension ConnectionState {
    /// Applies one message from the daemon. Returns an error if the daemon broke the protocol.
    mutating func apply(_ envelope: Envelope, mapped: Result<ClientStream, PCMClientError>?) -> PCMClientError? {
        if envelope.tag != 0 {
            if unawaited.remove(envelope.tag) != nil { return nil }
            guard let request = pending.removeValue(forKey: envelope.tag) else {
                return .unexpectedReply(envelope.message.type)
            }
            switch envelope.message {
            case .error(let reply):
                request.continuation.resume(returning: .failure(.refused(reply)))
            case .streamOpened(let opened):
                guard let format = request.format, let mapped else { return .unexpectedReply(.streamOpened) }
                switch mapped {
                case .success(let shared):
                    streams[envelope.stream] = StreamRecord(format: format, opened: opened, shared: shared)
                    request.continuation.resume(returning: .success(envelope))
                case .failure(let error):
                    // The daemon holds a stream we cannot use: tell it, and the caller why.
                    let tag = takeTag()
                    // A payload-less message always encodes; nothing to report otherwise.
                    if (try? Envelope(.closeStream, stream: envelope.stream, tag: tag).encode(appendingTo: &outgoing)) != nil {
                        unawaited.insert(tag)
                    }
                    request.continuation.resume(returning: .failure(error))
                }
            default:
                request.continuation.resume(returning: .success(envelope))
            }
            return nil
        }
        switch envelope.message {
        case .streamVolumeChanged(let volume):
            streams[envelope.stream]?.volume = volume
        case .masterVolumeChanged(let master):
            masterVolumes[master.device] = master.volume
        case .deviceListChanged:
            deviceListChanges &+= 1
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

/// Runs a system call again while it fails with EINTR.
@inline(__always)
func retryingInterrupts<Result: BinaryInteger>(_ call: () -> Result) -> Result {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

extension Errno {
    /// The calling thread's `errno`.
    static var current: Errno { Errno(rawValue: errno) }
}
