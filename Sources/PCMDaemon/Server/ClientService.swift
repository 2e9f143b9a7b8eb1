// The socket server as a service of the daemon's ServiceGroup: it decides where to listen
// (configured path, inherited socket, or the default for a user or system daemon), starts the
// server thread, and on graceful shutdown stops accepting and tells clients the daemon is going,
// before the device services drain (the group stops services in reverse order).

#if canImport(Glibc)
import Glibc
#endif
import Logging
import PCMProtocol
import ServiceLifecycle

/// Runs a `SocketServer` on its own thread for the life of the daemon.
public final class ClientService: Service, Sendable {
    public let server: SocketServer

    public init(server: SocketServer) { self.server = server }

    public func run() async throws {
        let server = self.server
        let thread = try RealtimeThread(name: "pcmd-clients", realtimePriority: 0) { server.run() }
        // Wakes rarely (every 5 s), only to notice a server thread that ended by itself, which
        // never happens in a healthy daemon; a graceful shutdown cancels the wait at once, so
        // stopping is never delayed by it, and an idle daemon is not kept awake by it.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled, !server.isFinished {
                try? await Task.sleep(for: .seconds(5))
            }
        }
        server.stop()
        thread.join()
    }

    /// Builds the server for a daemon run, or returns nil when there is nowhere to listen.
    ///
    /// - Parameters:
    ///   - configuredPath: The socket path from the configuration; failures to use it are fatal.
    ///   - inheritedFD: A listening socket passed by systemd (socket activation), used as is.
    ///   - maxStreams: The stream limit.
    ///   - maxClients: The connection limit (every user together).
    ///   - maxClientsPerUser: The connection limit per uid; nil for the default share.
    ///   - maxStreamsPerClient: The stream limit per connection.
    ///   - allowedUsers: Users allowed besides the defaults (`allow-users`).
    ///   - allowedGroups: Groups allowed besides the defaults (`allow-groups`).
    ///   - rescueStreams: Whether a lost device's streams move to the default one (`rescue-streams`).
    /// - Returns: nil (after a warning) when no path was configured and the default one cannot
    ///   be used (no XDG_RUNTIME_DIR, or another daemon already serves it): the daemon still
    ///   drives its device, it just serves no clients.
    public static func makeServer(
        configuredPath: String?, inheritedFD: Int32? = nil, engine: ServerEngine, maxStreams: Int,
        maxClients: Int = ServerConfiguration.defaultMaxClients, maxClientsPerUser: Int? = nil,
        maxStreamsPerClient: Int = ServerConfiguration.defaultMaxStreamsPerClient,
        allowedUsers: [UInt32] = [], allowedGroups: [UInt32] = [], rescueStreams: Bool = true, logger: Logger
    ) throws(ServerError) -> SocketServer? {
        let system = getuid() == 0 || configuredPath == SocketLocation.systemPath
        let audioGroup = AccessPolicy.groupID(named: "audio")
        var configuration = ServerConfiguration(
            policy: (system ? AccessPolicy.systemDaemon(audioGroup: audioGroup) : AccessPolicy.userDaemon())
                .adding(users: allowedUsers, groups: allowedGroups),
            maxStreams: maxStreams)
        configuration.daemonName = "pcmd \(PCMDaemonVersion.string)"
        configuration.maxClients = maxClients
        configuration.maxClientsPerUser = maxClientsPerUser
        configuration.maxStreamsPerClient = maxStreamsPerClient
        configuration.rescueStreams = rescueStreams
        if let inheritedFD {
            let listener = try ClientListener.adopt(fd: inheritedFD, path: configuredPath)
            return try SocketServer(listener: listener, engine: engine, configuration: configuration, logger: logger)
        }
        let mode: mode_t = system ? 0o660 : 0o600
        let group = system ? audioGroup : nil
        if let configuredPath {
            let listener = try ClientListener.bind(path: configuredPath, mode: mode, group: group)
            return try SocketServer(listener: listener, engine: engine, configuration: configuration, logger: logger)
        }
        guard let path = SocketLocation.daemonDefault(system: system, environment: { name in getenv(name).map { String(cString: $0) } }) else {
            logger.warning("no client socket: XDG_RUNTIME_DIR is not set and no socket path is configured")
            return nil
        }
        do throws(ServerError) {
            let listener = try ClientListener.bind(path: path, mode: mode, group: group)
            return try SocketServer(listener: listener, engine: engine, configuration: configuration, logger: logger)
        } catch {
            logger.warning("no client socket at the default path", metadata: ["socket.path": "\(path)", "error": "\(error)"])
            return nil
        }
    }
}
