// The payloads that open a connection and answer requests: hello, welcome, and error.
// A connection starts with the client's hello; the daemon answers welcome (or error and close).

/// Client → daemon, the first message on a connection: who is speaking.
///
/// The daemon does not trust `pid`: it takes the peer's real uid and pid from the socket
/// (SO_PEERCRED). The pid here only labels the client in listings when the two agree.
public struct Hello: Hashable, Sendable {
    /// The client's process id, as the client sees it.
    public var pid: UInt32
    /// A human-readable client name for listings and logs (`pcmplay`, `firefox`), ≤ 255 bytes.
    public var clientName: String

    public init(pid: UInt32, clientName: String) {
        self.pid = pid
        self.clientName = clientName
    }
}

extension Hello: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        pid = try reader.uint32()
        clientName = try reader.string("clientName", limit: WireLimits.maxNameBytes)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint32(pid)
        try writer.string(clientName, field: "clientName", limit: WireLimits.maxNameBytes)
    }
}

/// Daemon → client, the answer to ``Hello``: the connection is accepted.
public struct Welcome: Hashable, Sendable {
    /// The daemon's process id.
    public var daemonPID: UInt32
    /// The most streams the daemon serves at once (all clients together).
    public var maxStreams: UInt16
    /// The daemon's name and version (`pcmd 0.1.0`), for diagnostics.
    public var daemonName: String

    public init(daemonPID: UInt32, maxStreams: UInt16, daemonName: String) {
        self.daemonPID = daemonPID
        self.maxStreams = maxStreams
        self.daemonName = daemonName
    }
}

extension Welcome: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        daemonPID = try reader.uint32()
        maxStreams = try reader.uint16()
        daemonName = try reader.string("daemonName", limit: WireLimits.maxNameBytes)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint32(daemonPID)
        writer.uint16(maxStreams)
        try writer.string(daemonName, field: "daemonName", limit: WireLimits.maxNameBytes)
    }
}

/// Daemon → client: why a request failed, or (with tag 0) what went wrong on its own.
///
/// An error whose header names a stream means that stream is closed. An error the daemon sends
/// just before closing the connection explains the close.
public struct ErrorReply: Hashable, Sendable, CustomStringConvertible {
    /// The machine-readable reason.
    public var code: ErrorCode
    /// A sentence for humans, ≤ 1024 bytes.
    public var text: String

    public init(code: ErrorCode, text: String) {
        self.code = code
        self.text = text
    }

    /// The reply that tells a peer exactly what was wrong with what it sent.
    public init(_ error: ProtocolError) {
        self.init(code: error.code, text: error.description)
    }

    public var description: String { "\(code): \(text)" }
}

extension ErrorReply: WirePayload {
    init(from reader: inout WireReader) throws(ProtocolError) {
        code = ErrorCode(rawValue: try reader.uint16())
        text = try reader.string("text", limit: WireLimits.maxErrorTextBytes)
    }

    func encode(to writer: inout WireWriter) throws(ProtocolError) {
        writer.uint16(code.rawValue)
        try writer.string(text, field: "text", limit: WireLimits.maxErrorTextBytes)
    }
}

/// How every payload type reads and writes itself: an exact shape, no trailing bytes.
protocol WirePayload {
    /// Reads the fields in order; the caller checks that nothing is left over.
    init(from reader: inout WireReader) throws(ProtocolError)
    /// Appends the fields in order, checking the same ranges the reader enforces.
    func encode(to writer: inout WireWriter) throws(ProtocolError)
}
