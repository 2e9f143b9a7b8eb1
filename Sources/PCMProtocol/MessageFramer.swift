// Reassembles whole messages from a byte stream, for both the client and the daemon.
// One buffer the size of the largest message is allocated when the framer is made and never
// again; the header is validated as soon as its 20 bytes arrive, so an absurd length or a wrong
// magic is refused before the payload is waited for, and a peer can never make this side
// allocate or buffer more than one maximum-size message.

/// Splits a stream of received bytes into messages, with no allocation per message.
///
/// Use: read from the socket into ``receiveBuffer()``, report the count with
/// ``didReceive(_:)``, then call ``nextMessage(_:)`` (zero-copy) or ``next()`` (decoded) until
/// it returns `nil`, and read again.
///
/// A stream of bytes has no resynchronisation point: once a header is invalid, every later call
/// throws the same error, and the connection should be closed after telling the peer why.
public struct MessageFramer: ~Copyable {
    /// Where the framer is in the byte stream.
    enum ReceiveState: Equatable {
        /// Fewer than a header's bytes are buffered after the last whole message.
        case awaitingHeader
        /// A valid header is buffered; waiting for the rest of its payload.
        case awaitingPayload(MessageHeader)
        /// A header was invalid; the stream cannot be resynchronised.
        case failed(ProtocolError)
    }

    /// The receive buffer: allocated once, released in `deinit`.
    private let storage: UnsafeMutableRawBufferPointer
    /// Offset of the first byte not yet handed out as part of a message.
    private var start = 0
    /// Offset one past the last byte received.
    private var end = 0
    private var state = ReceiveState.awaitingHeader

    /// Makes a framer with a buffer of exactly one maximum-size message.
    public init() {
        storage = .allocate(byteCount: WireLimits.maxMessageBytes, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Bytes received but not yet returned as part of a message.
    public var bufferedBytes: Int { end - start }

    /// Whether a header was invalid (every later call throws).
    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// The free space the next `read` should fill. Never empty once every whole buffered
    /// message has been taken with ``nextMessage(_:)`` or ``next()``.
    ///
    /// Moves a partly received message to the front of the buffer first, which is why the
    /// returned space is only valid until the next call on the framer.
    public mutating func receiveBuffer() -> UnsafeMutableRawBufferPointer {
        if start > 0 {
            let pending = end - start
            if pending > 0, let base = storage.baseAddress {
                base.copyMemory(from: base + start, byteCount: pending)
            }
            start = 0
            end = pending
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[end...])
    }

    /// Records that `count` bytes were written into the space ``receiveBuffer()`` returned.
    ///
    /// - Precondition: `count` is not more than that space.
    public mutating func didReceive(_ count: Int) {
        precondition(count >= 0 && end + count <= storage.count, "received more than the receive buffer holds")
        end += count
    }

    /// Copies as many of `bytes` as fit into the buffer and returns how many that was
    /// (for tests and for transports that hand over bytes rather than filling a buffer).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Int {
        let space = receiveBuffer()
        let count = min(space.count, bytes.count)
        if count > 0, let destination = space.baseAddress, let source = bytes.baseAddress {
            destination.copyMemory(from: source, byteCount: count)
        }
        didReceive(count)
        return count
    }

    /// Hands the next whole message to `body` without copying its payload, or returns `nil`
    /// when no whole message is buffered yet.
    ///
    /// The payload pointer is valid only inside `body`. The header has been fully validated;
    /// the payload has not (decode it with ``Envelope/decode(header:payload:)``).
    public mutating func nextMessage<Result>(
        _ body: (MessageHeader, UnsafeRawBufferPointer) -> Result
    ) throws(ProtocolError) -> Result? {
        let header: MessageHeader
        switch state {
        case .failed(let error):
            throw error
        case .awaitingPayload(let pending):
            header = pending
        case .awaitingHeader:
            guard end - start >= WireLimits.headerBytes else { return nil }
            do throws(ProtocolError) {
                header = try MessageHeader.decode(UnsafeRawBufferPointer(rebasing: storage[start..<end]))
            } catch {
                state = .failed(error)
                throw error
            }
        }
        let payloadStart = start + WireLimits.headerBytes
        guard end - payloadStart >= header.length else {
            state = .awaitingPayload(header)
            return nil
        }
        let payloadEnd = payloadStart + header.length
        start = payloadEnd
        state = .awaitingHeader
        if start == end {
            start = 0
            end = 0
        }
        return body(header, UnsafeRawBufferPointer(rebasing: storage[payloadStart..<payloadEnd]))
    }

    /// The next whole message, decoded, or `nil` when none is buffered yet.
    ///
    /// A payload that fails to decode throws, but unlike a bad header it does not poison the
    /// framer: the message was delimited correctly, so the next one can still be read.
    public mutating func next() throws(ProtocolError) -> Envelope? {
        let decoded = try nextMessage { header, payload in
            Result { () throws(ProtocolError) in try Envelope.decode(header: header, payload: payload) }
        }
        return try decoded?.get()
    }
}
