// The public entry point of the client library: one connection to the pcmd daemon, on which a
// program opens any number of playback, capture or duplex streams and makes control calls
// (listing devices and streams, setting volumes). Every call is async and never blocks a thread.

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMClientCore
import PCMBufferCore
import PCMProtocol
import Synchronization
import SystemPackage

/// A connection to the pcmd daemon.
///
/// ```swift
/// let connection = try await PCMConnection.connect(clientName: "player")
/// let stream = try await connection.openPlayback(format: StreamFormat(.s16, rate: 48_000, channels: 2))
/// try await stream.write(samples)
/// try await stream.drain()
/// ```
///
/// The connection closes when ``close()`` is called or the last reference to it (including the
/// references its streams hold) goes away.
public final class PCMConnection: Sendable {
    let core: ConnectionCore

    /// What the daemon said when it accepted the connection.
    public let welcome: Welcome

    private init(core: ConnectionCore, welcome: Welcome) {
        self.core = core
        self.welcome = welcome
    }

    deinit { core.close() }

    /// Connects to the daemon and introduces the client.
    ///
    /// - Parameters:
    ///   - path: The socket to use. `nil` follows the usual rule: `$PCMD_SOCKET` if set, else the
    ///     user daemon (`$XDG_RUNTIME_DIR/pcmd/socket`), then the system daemon (`/run/pcmd/socket`).
    ///   - clientName: How the client appears in listings (at most 255 bytes of UTF-8).
    /// - Throws: ``PCMClientError/noDaemon(tried:)`` when no candidate socket answers,
    ///   ``PCMClientError/refused(_:)`` when the daemon turns the client away (for example
    ///   ``ErrorCode/accessDenied``).
    public static func connect(path: String? = nil, clientName: String) async throws(PCMClientError) -> PCMConnection {
        let candidates = SocketLocation.clientCandidates(explicitPath: path) { name in
            getenv(name).map { String(cString: $0) }
        }
        var failures: [String: Errno] = [:]
        for candidate in candidates {
            let channel: ControlChannel
            do throws(ClientCoreError) {
                channel = try ControlChannel(connectingTo: candidate)
            } catch .system(call: "connect", let code) {
                failures[candidate] = Errno(rawValue: code)
                continue
            } catch {
                throw PCMClientError(error)
            }
            return try await handshake(channel: channel, clientName: clientName)
        }
        throw .noDaemon(tried: failures)
    }

    /// Speaks the protocol over a socket that is already connected (for example one end of a
    /// `socketpair` in a test, or a descriptor inherited from a parent). Takes ownership of `fd`.
    public static func connect(adopting fd: Int32, clientName: String) async throws(PCMClientError) -> PCMConnection {
        let channel: ControlChannel
        do throws(ClientCoreError) {
            channel = try ControlChannel(adopting: fd)
        } catch {
            throw PCMClientError(error)
        }
        return try await handshake(channel: channel, clientName: clientName)
    }

    private static func handshake(channel: consuming ControlChannel, clientName: String) async throws(PCMClientError) -> PCMConnection {
        let core = try ConnectionCore.start(channel: channel)
        let hello = Hello(pid: UInt32(bitPattern: getpid()), clientName: clientName)
        do throws(PCMClientError) {
            let reply = try await core.request(.hello(hello))
            guard case .welcome(let welcome) = reply.message else { throw .unexpectedReply(reply.message.type) }
            return PCMConnection(core: core, welcome: welcome)
        } catch {
            core.close()
            throw error
        }
    }

    /// Closes the connection and every stream on it. Waiting calls fail with
    /// ``PCMClientError/disconnected(_:)``. Closing twice does nothing.
    public func close() { core.close() }

    /// Whether the connection has ended, and why.
    public var closedReason: PCMClientError? { core.state.withLock { $0.closed } }

    // MARK: - Streams

    /// Opens a playback stream: the client writes audio in `format`; this library converts it to
    /// the device's format and rate into the stream's shared ring, and the daemon mixes it with
    /// the other clients.
    ///
    /// - Parameters:
    ///   - format: The client's sample format, rate and channels.
    ///   - latencyMicroseconds: The buffering the client wants (0: the daemon's default).
    ///   - device: The device, or the daemon's default.
    ///   - name: The stream's name in listings.
    /// - Throws: ``PCMClientError/refused(_:)`` with ``ErrorCode/tooManyStreams``,
    ///   ``ErrorCode/unsupportedFormat``, ``ErrorCode/noSuchDevice`` and the like.
    public func openPlayback(
        format: StreamFormat, latencyMicroseconds: UInt32 = 0,
        device: AudioDeviceID = .defaultDevice, name: String = ""
    ) async throws(PCMClientError) -> PCMStream {
        try await open(.playback, format: format, latencyMicroseconds: latencyMicroseconds, device: device, name: name)
    }

    /// Opens a capture stream: the daemon writes the device's input into the stream's shared
    /// ring and this library converts it to `format`; read it from ``PCMStream/captured``.
    public func openCapture(
        format: StreamFormat, latencyMicroseconds: UInt32 = 0,
        device: AudioDeviceID = .defaultDevice, name: String = ""
    ) async throws(PCMClientError) -> PCMStream {
        try await open(.capture, format: format, latencyMicroseconds: latencyMicroseconds, device: device, name: name)
    }

    /// Opens a stream. Protocol version 2 has no duplex streams (the daemon refuses them):
    /// open a playback and a capture stream instead.
    public func open(
        _ direction: StreamMode, format: StreamFormat, latencyMicroseconds: UInt32 = 0,
        device: AudioDeviceID = .defaultDevice, name: String = ""
    ) async throws(PCMClientError) -> PCMStream {
        let request = OpenStream(
            direction: direction, format: format, latencyMicroseconds: latencyMicroseconds, device: device, name: name
        )
        let reply = try await core.request(.openStream(request), format: format)
        guard case .streamOpened(let opened) = reply.message,
              let shared = core.state.withLock({ $0.streams[reply.stream]?.shared })
        else { throw .unexpectedReply(reply.message.type) }
        return PCMStream(connection: self, id: reply.stream, format: format, opened: opened, shared: shared)
    }

    // MARK: - Control

    /// Every device the daemon drives.
    public func devices() async throws(PCMClientError) -> [DeviceInfo] {
        let reply = try await core.request(.listDevices)
        guard case .deviceList(let devices) = reply.message else { throw .unexpectedReply(reply.message.type) }
        return devices
    }

    /// Every stream of every client, as far as this client is allowed to see them.
    public func streams() async throws(PCMClientError) -> [StreamInfo] {
        let reply = try await core.request(.listStreams)
        guard case .streamList(let streams) = reply.message else { throw .unexpectedReply(reply.message.type) }
        return streams
    }

    /// The daemon's allocator: every card's total against its limit, every device substream
    /// and every open client substream (`pcmctl memory`).
    public func memory() async throws(PCMClientError) -> MemoryListing {
        let reply = try await core.request(.listMemory)
        guard case .memoryList(let listing) = reply.message else { throw .unexpectedReply(reply.message.type) }
        return listing
    }

    /// Writes `kibibytes` to a substream's `prealloc`, with the kernel's rules (`pcmctl
    /// prealloc`). Only the daemon's own user and root may.
    /// Makes `device` the default one: what streams opened on device 0 play to or record from,
    /// kept by the daemon across restarts. Throws `noSuchDevice` for an id not in ``devices()``.
    public func setDefaultDevice(_ device: AudioDeviceID) async throws(PCMClientError) {
        try await expectOK(core.request(.setDefaultDevice(device)))
    }

    /// Moves a stream (any allowed client's) to `device` as it plays; its owner notices
    /// nothing. Throws `noSuchStream`, `noSuchDevice`, `unsupportedFormat` (the device cannot
    /// go that way) or `tooManyStreams` (no free place there).
    public func moveStream(_ stream: StreamID, to device: AudioDeviceID) async throws(PCMClientError) {
        try await expectOK(core.request(.moveStream(device), stream: stream))
    }

    public func setPreallocation(_ substream: SubstreamID, kibibytes: UInt64) async throws(PCMClientError) {
        try await expectOK(core.request(.setPreallocation(SetPreallocation(substream: substream, kibibytes: kibibytes))))
    }

    /// Sets the volume of any stream (this client's or, if allowed, another's).
    public func setVolume(_ volume: Volume, stream: StreamID) async throws(PCMClientError) {
        try await expectOK(core.request(.setStreamVolume(volume), stream: stream))
        core.state.withLock { $0.streams[stream]?.volume = volume }
    }

    /// Sets a device's master volume.
    public func setMasterVolume(_ volume: Volume, device: AudioDeviceID = .defaultDevice) async throws(PCMClientError) {
        try await expectOK(core.request(.setMasterVolume(MasterVolume(device: device, volume: volume))))
    }

    /// The latest master volume the daemon announced for `device`, if any.
    /// How many times the daemon has announced that its devices changed (a card plugged in,
    /// gone or back) since this connection opened: list them again when it grows.
    public var deviceListChanges: UInt64 { core.state.withLock { $0.deviceListChanges } }

    public func announcedMasterVolume(device: AudioDeviceID) -> Volume? {
        core.state.withLock { $0.masterVolumes[device] }
    }

    func expectOK(_ reply: Envelope) throws(PCMClientError) {
        guard case .ok = reply.message else { throw .unexpectedReply(reply.message.type) }
    }
}
