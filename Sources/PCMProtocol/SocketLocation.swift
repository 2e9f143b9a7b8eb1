// Where the daemon listens and where clients look for it. Pure string logic (the environment is
// passed in), so the daemon, the client library and the tests all agree on one rule.

/// The Unix socket paths of the pcmd daemon.
///
/// A per-user daemon listens on `$XDG_RUNTIME_DIR/pcmd/socket`; the system daemon on
/// `/run/pcmd/socket`. `PCMD_SOCKET` overrides both for clients; the daemon's own configuration
/// overrides both for the daemon.
public enum SocketLocation {
    /// The system daemon's socket.
    public static let systemPath = "/run/pcmd/socket"

    /// The environment variable that names a socket explicitly.
    public static let environmentVariable = "PCMD_SOCKET"

    /// The longest path a Unix socket address holds (`sun_path` is 108 bytes with its NUL).
    public static let maxPathBytes = 107

    /// The per-user daemon's socket inside `runtimeDirectory` (normally `$XDG_RUNTIME_DIR`).
    public static func userPath(runtimeDirectory: String) -> String {
        var directory = runtimeDirectory
        while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        return directory == "/" ? "/pcmd/socket" : directory + "/pcmd/socket"
    }

    /// The paths a client tries, in order.
    ///
    /// An explicit path (a command-line option) or `PCMD_SOCKET` is the only candidate: naming
    /// a socket and silently reaching another daemon would be a surprise. Otherwise the user
    /// daemon (when `XDG_RUNTIME_DIR` is set and absolute) comes before the system daemon.
    ///
    /// - Parameters:
    ///   - explicitPath: A path the user gave, if any.
    ///   - environment: Looks up an environment variable (`getenv` in a real process).
    public static func clientCandidates(
        explicitPath: String? = nil, environment: (String) -> String?
    ) -> [String] {
        if let explicitPath, !explicitPath.isEmpty { return [explicitPath] }
        if let named = environment(environmentVariable), !named.isEmpty { return [named] }
        var candidates: [String] = []
        if let runtime = environment("XDG_RUNTIME_DIR"), runtime.hasPrefix("/") {
            candidates.append(userPath(runtimeDirectory: runtime))
        }
        candidates.append(systemPath)
        return candidates
    }

    /// The path a daemon listens on when its configuration names none.
    ///
    /// - Parameters:
    ///   - system: Whether this is the system daemon.
    ///   - environment: Looks up an environment variable.
    /// - Returns: `nil` for a user daemon without an absolute `XDG_RUNTIME_DIR` (there is no
    ///   safe per-user place to put the socket; the caller must say so rather than guess `/tmp`).
    public static func daemonDefault(system: Bool, environment: (String) -> String?) -> String? {
        if system { return systemPath }
        guard let runtime = environment("XDG_RUNTIME_DIR"), runtime.hasPrefix("/") else { return nil }
        return userPath(runtimeDirectory: runtime)
    }

    /// Whether `path` fits in a Unix socket address and contains no NUL byte.
    public static func isUsable(_ path: String) -> Bool {
        !path.isEmpty && path.utf8.count <= maxPathBytes && !path.utf8.contains(0)
    }
}
