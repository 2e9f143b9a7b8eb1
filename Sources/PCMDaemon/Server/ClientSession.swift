// One connected client: its credentials, where it is in the protocol, its receive framer, its
// bounded send queue and its streams. Everything here runs on the server thread; reads and
// writes are non-blocking, so a client that stops reading or sends garbage costs the daemon
// only its own (bounded) buffers and never holds up anyone else.

#if canImport(Glibc)
import Glibc
#endif
import PCMProtocol

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
    /// Monotonic time since which queued output has made no progress, if it is stuck.
    private var stalledSince: UInt64?
    /// When a closing session is given up on even if its last words were not all sent.
    var closeDeadline: UInt64 = 0

    /// Above this much queued output the client is considered gone (it stopped reading).
    static let maximumQueuedBytes = 4 * 1024 * 1024
    /// Capture audio is queued only while less than this is waiting, so control messages
    /// (credits, clock) never sit behind a wall of audio.
    static let audioQueueBytes = 2 * WireLimits.maxMessageBytes

    init(fd: Int32, peer: PeerCredentials, now: UInt64) {
        self.fd = fd
        self.peer = peer
        connectedAt = now
        output.reserveCapacity(Self.audioQueueBytes)
    }

    deinit { close(fd) }

    var pendingBytes: Int { output.count - sent }
    var wantsToWrite: Bool { pendingBytes > 0 }
    var hasAudioRoom: Bool { pendingBytes < Self.audioQueueBytes }

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

    /// Queues captured audio for a stream, split into messages of at most the payload limit.
    func enqueueAudio(_ samples: UnsafeRawBufferPointer, stream: StreamID, frameBytes: Int) {
        let perMessage = (WireLimits.maxPayloadBytes / frameBytes) * frameBytes
        var offset = 0
        while offset < samples.count {
            let end = min(samples.count, offset + perMessage)
            try? Envelope.appendAudioData(stream: stream, samples: UnsafeRawBufferPointer(rebasing: samples[offset..<end]), to: &output)
            offset = end
        }
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

    /// Sends as much queued output as the socket takes. Returns false if the connection failed.
    func flush(now: UInt64) -> Bool {
        while sent < output.count {
            let count = output.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if count > 0 {
                sent += count
                stalledSince = nil
                continue
            }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                if stalledSince == nil { stalledSince = now }
                break
            }
            return false
        }
        if sent == output.count {
            output.removeAll(keepingCapacity: true)
            sent = 0
            stalledSince = nil
        } else if sent > 256 * 1024 {
            output.removeSubrange(0..<sent)
            sent = 0
        }
        return true
    }

    /// Whether the client has stopped reading: output stuck for longer than `timeout`, or more
    /// queued than any reading client would let pile up.
    func isStuck(now: UInt64, timeoutNanoseconds: UInt64) -> Bool {
        if pendingBytes > Self.maximumQueuedBytes { return true }
        guard let stalledSince else { return false }
        return now - stalledSince > timeoutNanoseconds
    }
}
