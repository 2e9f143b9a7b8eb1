// The pcmd command line: options and their help, the config file, then PCMDaemon does the rest.
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import PCMDaemon

@main
struct Pcmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcmd",
        abstract: "A low-latency sound server for Linux.",
        discussion: """
            pcmd opens a sound card through alsa-lib, keeps it streaming with mmap access on a \
            real-time thread, and serves playback and capture to applications over a Unix socket.
            With no --device it serves every PCM device of every sound card, each under a stable \
            name (card id and device number, e.g. PCH,0 or Loopback,1); on a machine without one \
            it falls back to the ALSA 'null' device and says so. Clients open on a device by \
            name or number, or on the default one (the first served, until `pcmctl default` \
            chooses another).

            Settings come from the config file (--config, default /etc/pcmd/pcmd.conf when it \
            exists), one 'key = value' per line with the long option names as keys (period = 128); \
            options given on the command line win.

            Signals: SIGTERM and SIGINT drain playback and stop; SIGHUP reopens the devices.
            """,
        version: PCMDaemonVersion.string
    )

    @Option(name: .shortAndLong, help: ArgumentHelp(
        "A device to serve; repeat it to serve several. A stable name (PCH,0) or any ALSA name (hw:0,0, null).",
        discussion: "Default: every PCM device of every sound card, or null when there is none."))
    var device: [String] = []

    @Option(name: .customLong("state-directory"), help: ArgumentHelp(
        "Where pcmd keeps the default device across restarts.",
        discussion: "Default: $STATE_DIRECTORY (systemd's StateDirectory=), else $XDG_STATE_HOME/pcmd or ~/.local/state/pcmd."))
    var stateDirectory: String?

    @Option(name: .customLong("rescue-streams"), help: ArgumentHelp(
        "What happens to the streams of a device that goes away: yes moves them to the default device, no closes them.",
        discussion: "Default: yes."))
    var rescueStreams: String?

    @Option(name: .customLong("exclude-device"), help: ArgumentHelp(
        "A device to leave out when serving every card: a stable name (HDMI,3), a card id (the whole card) or an ALSA name; repeatable."))
    var excludeDevice: [String] = []

    @Option(name: .customLong("capture-device"), help: "ALSA device for capture when it is not --device.")
    var captureDevice: String?

    @Option(name: .shortAndLong, help: "Directions to open: playback, capture or duplex. Default: playback.")
    var mode: String?

    @Option(name: .shortAndLong, help: "Device sample format: s16, s24 (24 in 4 bytes), s24_3, s32, f32. Default: s16.")
    var format: String?

    @Option(name: .shortAndLong, help: "Sample rate in Hz; the device must support it exactly. Default: 48000.")
    var rate: Int?

    @Option(name: .shortAndLong, help: "Channels. Default: 2.")
    var channels: Int?

    @Option(name: .shortAndLong, help: ArgumentHelp(
        "Frames per period: how much audio each wakeup of the audio thread moves. Default: 1024.",
        discussion: "Smaller periods mean lower latency and more wakeups."))
    var period: Int?

    @Option(help: "Periods per device buffer, when --buffer is not given. Default: 3.")
    var periods: Int?

    @Option(name: .shortAndLong, help: "Device buffer in frames (at least two periods). Default: period × periods.")
    var buffer: Int?

    @Option(help: ArgumentHelp(
        "Bytes preallocated per device substream; caps the device buffer.",
        discussion: "Default: 64 KiB, raised to fit an explicit --buffer."))
    var prealloc: Int?

    @Option(help: ArgumentHelp(
        "Built-in playback source: silence, sine[:HZ[:AMPLITUDE]], file:PATH, loop:PATH. Default: silence.",
        discussion: "Plays when no client does; a diagnostic like speaker-test."))
    var source: String?

    @Option(help: "Built-in capture sink: discard or file:PATH (WAV). Default: discard.")
    var sink: String?

    @Option(help: "Unix socket for clients. Default: $XDG_RUNTIME_DIR/pcmd/socket, or /run/pcmd/socket as root.")
    var socket: String?

    @Option(name: .customLong("max-streams"), help: "Most client streams served at once. Default: 32.")
    var maxStreams: Int?

    @Option(name: .customLong("max-streams-per-client"), help: ArgumentHelp(
        "Most streams one connection may hold at once. Default: 8.",
        discussion: "Each stream is a slot, shared memory charged to the clients' card and an eventfd: the quota keeps one client from taking them all."))
    var maxStreamsPerClient: Int?

    @Option(name: .customLong("max-clients"), help: ArgumentHelp(
        "Most client connections at once, all users together. Default: 128.",
        discussion: "A connection that sends no hello within 5 s is closed, so idle ones cannot hold places."))
    var maxClients: Int?

    @Option(name: .customLong("max-clients-per-user"), help: ArgumentHelp(
        "Most connections one user (uid) may hold at once. Default: a quarter of --max-clients, at least 4.",
        discussion: "Keeps one local user from taking every place; raise it for a per-user daemon with many clients."))
    var maxClientsPerUser: Int?

    @Option(name: .customLong("allow-users"), help: ArgumentHelp(
        "More users allowed to connect: comma-separated names or uids.",
        discussion: "Always allowed: the daemon's own user and root; for the system daemon also the audio group."))
    var allowUsers: String?

    @Option(name: .customLong("allow-groups"), help: "More groups whose members may connect: comma-separated names or gids.")
    var allowGroups: String?

    @Option(name: .customLong("rt-priority"), help: "SCHED_FIFO priority for the audio threads; 0 disables. Default: 70.")
    var rtPriority: Int?

    @Option(help: "Config file to read. Default: /etc/pcmd/pcmd.conf when it exists.")
    var config: String?

    @Option(name: .customLong("log-level"), help: "Least severe log level shown: trace, debug, info, notice, warning, error. Default: info.")
    var logLevel: String = "info"

    @Option(help: "Stop after this many seconds (for tests and diagnostics). Default: run until stopped.")
    var duration: Double?

    @Flag(name: .customLong("list-devices"), help: "List sound cards and PCM devices, then exit.")
    var listDevices = false

    mutating func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("invalid --log-level '\(logLevel)': expected trace, debug, info, notice, warning or error")
        }
        if let duration, !(duration > 0) {
            throw ValidationError("invalid --duration '\(duration)': expected a number of seconds above 0")
        }
    }

    func run() throws {
        // A peer or log reader that goes away is an error on that descriptor, never a signal
        // that stops the daemon (every socket send also passes MSG_NOSIGNAL).
        signal(SIGPIPE, SIG_IGN)
        if listDevices {
            print(DeviceListing.render())
            return
        }
        let configuration: DaemonConfiguration
        do {
            configuration = try settings().configuration()
        } catch {
            throw ValidationError(error.description)
        }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            // "<N>" priority prefixes when stderr is the journal (under systemd), timestamps otherwise.
            var handler = JournalLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let daemon = Daemon(configuration: configuration, logger: Logger(label: "pcmd"), duration: duration)
        try MainThread.block { try await daemon.run() }
    }

    /// The config file's settings with the command line's on top.
    private func settings() throws(ConfigurationError) -> ConfigurationSettings {
        var fromFile = ConfigurationSettings()
        if let config {
            fromFile = try ConfigurationSettings(contentsOf: config)
        } else if let found = ConfigurationSettings.defaultFile() {
            fromFile = try ConfigurationSettings(contentsOf: found)
        }
        var fromCommandLine = ConfigurationSettings()
        for name in device { fromCommandLine.set("device", name) }
        for name in excludeDevice { fromCommandLine.set("exclude-device", name) }
        let given: [(String, String?)] = [
            ("capture-device", captureDevice), ("mode", mode), ("format", format),
            ("rate", rate.map(String.init)), ("channels", channels.map(String.init)),
            ("period", period.map(String.init)), ("periods", periods.map(String.init)),
            ("buffer", buffer.map(String.init)), ("prealloc", prealloc.map(String.init)),
            ("source", source), ("sink", sink), ("socket", socket),
            ("max-streams", maxStreams.map(String.init)), ("max-streams-per-client", maxStreamsPerClient.map(String.init)),
            ("max-clients", maxClients.map(String.init)),
            ("max-clients-per-user", maxClientsPerUser.map(String.init)), ("rt-priority", rtPriority.map(String.init)),
            ("allow-users", allowUsers), ("allow-groups", allowGroups), ("state-directory", stateDirectory),
            ("rescue-streams", rescueStreams),
        ]
        for case let (key, value?) in given { fromCommandLine.set(key, value) }
        return fromFile.overridden(by: fromCommandLine)
    }
}
