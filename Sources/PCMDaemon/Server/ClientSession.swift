// One connected client: its credentials, where it is in the protocol, its receive framer, its
// bounded send queue and its streams. Everything here runs on the server thread; reads and
// writes are non-blocking, so a client that stops reading or sends garbage costs the daemon
// only its own (bounded) buffers and never holds up anyone else.
//
// Since protocol version 2 some replies carry descriptors (a stream's memfd and eventfd). They
// wait in an attachment queue next to the bytes: each entry remembers where in the output its
// message starts and owns duplicates of the descriptors, so a send that would block (EAGAIN),
// or a stream closed before its reply went out, can never send a descriptor number that has
// meanwhile been closed or reused. Descriptors go with the first byte of their message, and a
// send never spans the start of a message that has attachments.

#if canImport(Glibc)
import Glibc
#endif
import PCMProtocol

/// Descriptors to send with the first byte of a queued message. Owns duplicates, closed
/// once sent or when the session goes away.
private struct Attachment {
    /// Where the message starts in the session's output.
    var offset: Int
    /// Duplicates (`F_DUPFD_CLOEXEC`) of the descriptors, in the order the protocol names them.
    let descriptors: [Int32]

    func close() { for fd in descriptors { _ = Glibc.close(fd) } }
}

/// A client connection. Confined to the server thread.
final class ClientSession {
    /// Where the client is in the protocol.
    enum Phase: Equatable {
        /// Connected and allowed; the first message must be `hello`.
        case awaitingHello
        /// Introduced: any request may come.
        case ready
        /// Being closed: queued output (an error explaining why) is flushed, input is ignored.
        case closing
    }

    let fd: Int32
    let peer: PeerCredentials
    /// When the connection was accepted (monotonic): `hello` is due a timeout later.
    let connectedAt: UInt64
    private(set) var phase = Phase.awaitingHello
    /// Since when the framer has held part of a message (monotonic), or nil when it holds none:
    /// the rest is due a timeout later. Reset whenever a whole message is taken out.
    var partialSince: UInt64?
    /// Why the session is closing, for the log line when it is finally dropped.
    private(set) var closingReason = ""
    /// The name the client gave in hello.
    var clientName = ""
    var framer = MessageFramer()
    /// Streams owned by this client.
    var streams: [StreamID: ServerStream] = [:]
    /// Bytes waiting to be sent, from `sent` on.
    private var output: [UInt8] = []
    private var sent = 0
    /// Descriptors waiting to go out with their messages, in output order.
    private var attachments: [Attachment] = []
    /// Monotonic time since which queued output has made no progress, if it is stuck.
    private var stalledSince: UInt64?
    /// When a closing session is given up on even if its last words were not all sent.
    var closeDeadline: UInt64 = 0

    /// Above this much queued output the client is considered gone (it stopped reading).
    static let maximumQueuedBytes = 4 * 1024 * 1024

    init(fd: Int32, peer: PeerCredentials, now: UInt64) {
        self.fd = fd
        self.peer = peer
        connectedAt = now
    }

    deinit {
        for attachment in attachments { attachment.close() }
        close(fd)
    }

    var pendingBytes: Int { output.count - sent }
    var wantsToWrite: Bool { pendingBytes > 0 }
    /// Descriptors queued but not yet sent.
    var pendingDescriptors: Int { attachments.reduce(0) { $0 + $1.descriptors.count } }

    func becomeReady() { phase = .ready }

    /// Marks the session for closing once its queued output is flushed (or the deadline passes).
    func beginClosing(now: UInt64, reason: String) {
        guard phase != .closing else { return }
        phase = .closing
        closingReason = reason
        closeDeadline = now + 500_000_000
    }

    /// When the client must have made its next step (sent `hello`, or finished the message it
    /// began), given the server's timeout; nil when nothing is due.
    func stepDeadline(timeoutNanoseconds: UInt64) -> UInt64? {
        switch phase {
        case .awaitingHello: connectedAt + timeoutNanoseconds
        case .ready: partialSince.map { $0 + timeoutNanoseconds }
        case .closing: nil  // `closeDeadline` bounds it
        }
    }

    /// Queues a message. Encoding failures are the server's bugs, reported to the client as such.
    func enqueue(_ envelope: Envelope) {
        do throws(ProtocolError) {
            try envelope.encode(appendingTo: &output)
        } catch {
            try? Envelope(.error(ErrorReply(code: .internalError, text: "reply could not be encoded: \(error)")),
                          stream: .connection, tag: envelope.tag).encode(appendingTo: &output)
        }
    }

    /// Queues a message that carries descriptors. They are duplicated here, so the caller keeps
    /// (and may close) its own. If a duplicate cannot be made or the message cannot be encoded,
    /// the client gets an `internalError` reply with the same tag instead, and nothing is sent
    /// without its descriptors.
    func enqueue(_ envelope: Envelope, attaching descriptors: [Int32]) {
        var duplicates: [Int32] = []
        for fd in descriptors {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else {
                let code = errno
                Attachment(offset: 0, descriptors: duplicates).close()
                enqueue(Envelope(.error(ErrorReply(code: .internalError, text: "descriptor could not be duplicated: \(String(cString: strerror(code)))")),
                                 stream: envelope.stream, tag: envelope.tag))
                return
            }
            duplicates.append(copy)
        }
        let start = output.count
        do throws(ProtocolError) {
            try envelope.encode(appendingTo: &output)
        } catch {
            Attachment(offset: 0, descriptors: duplicates).close()
            enqueue(Envelope(.error(ErrorReply(code: .internalError, text: "reply could not be encoded: \(error)")),
                             stream: envelope.stream, tag: envelope.tag))
            return
        }
        attachments.append(Attachment(offset: start, descriptors: duplicates))
    }

    /// What one read did.
    enum ReadOutcome {
        /// Bytes arrived (or none were waiting); messages may be buffered in the framer.
        case progress
        /// The client closed its end (or half-closed it: `shutdown(SHUT_WR)`). Whatever it sent
        /// before is in the framer, and its requests still deserve their replies.
        case endOfStream
        /// The read failed (connection reset).
        case failed(Int32)
    }

    /// Reads what is available, at most `limit` bytes, into the framer.
    func read(limit: Int) -> ReadOutcome {
        var total = 0
        while total < limit {
            let space = framer.receiveBuffer()
            let count = Glibc.read(fd, space.baseAddress, min(space.count, limit - total))
            if count > 0 {
                framer.didReceive(count)
                total += count
                // Stop once a whole buffer is pending so the caller can take the messages out.
                if framer.receiveBuffer().isEmpty { return .progress }
                continue
            }
            if count == 0 { return .endOfStream }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .progress
            case let code: return .failed(code)
            }
        }
        return .progress
    }

    /// Sends as much queued output as the socket takes, each message's descriptors with its
    /// first byte. Returns false if the connection failed.
    func flush(now: UInt64) -> Bool {
        while sent < output.count {
            // Send up to the next message with descriptors (or from it, with them, up to the one
            // after), so that descriptors always travel with their own message's first byte.
            let carrying = attachments.first.map { $0.offset == sent } ?? false
            let nextIndex = carrying ? 1 : 0
            let end = attachments.count > nextIndex ? attachments[nextIndex].offset : output.count
            let outcome: Result<Int, DescriptorPassingError> = output.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[sent..<end])
                return Result { () throws(DescriptorPassingError) in
                    try DescriptorPassing.send(on: fd, bytes: bytes, descriptors: carrying ? attachments[0].descriptors : [])
                }
            }
            switch outcome {
            case .success(let count):
                if carrying, count > 0 { attachments.removeFirst().close() }  // the kernel holds its own copies now
                sent += count
                stalledSince = nil
            case .failure(.wouldBlock):
                if stalledSince == nil { stalledSince = now }
                compactOutput()
                return true
            case .failure(.systemCall(_, let code)) where code == EINTR:
                continue
            case .failure:
                return false
            }
        }
        output.removeAll(keepingCapacity: true)
        sent = 0
        stalledSince = nil
        return true
    }

    /// Takes every queued byte out as a client that reads everything would, and closes the
    /// descriptors that would have gone with them; returns the bytes and how many descriptors
    /// there were. The session fuzzer (fuzz/Sources/fuzz-session) reads replies through this
    /// instead of a socket; the server itself always sends with `flush`.
    func takeQueuedOutput() -> (bytes: [UInt8], descriptors: Int) {
        let bytes = Array(output[sent...])
        let descriptors = pendingDescriptors
        for attachment in attachments { attachment.close() }
        attachments.removeAll()
        output.removeAll(keepingCapacity: true)
        sent = 0
        stalledSince = nil
        return (bytes, descriptors)
    }

    /// Drops bytes already sent from the front of the output, keeping the attachments' offsets
    /// true. Called when much has been sent but the socket is still backed up.
    func compactOutput() {
        guard sent > 256 * 1024 else { return }
        output.removeSubrange(0..<sent)
        for index in attachments.indices { attachments[index].offset -= sent }
        sent = 0
    }

    /// Whether the client has stopped reading: output stuck for longer than `timeout`, or more
    /// queued than any reading client would let pile up.
    func isStuck(now: UInt64, timeoutNanoseconds: UInt64) -> Bool {
        if pendingBytes > Self.maximumQueuedBytes { return true }
        guard let stalledSince else { return false }
        return now - stalledSince > timeoutNanoseconds
    }
}
