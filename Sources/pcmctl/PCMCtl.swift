// pcmctl: inspects and controls a running pcmd daemon: lists its devices and every client's
// streams (format, latency, position, xruns, volume) and sets stream and master volumes (here),
// chooses the default device and moves streams between devices (DeviceCommands.swift), watches it
// all live (Top.swift), and shows and changes the buffer memory the daemon's allocator manages
// (MemoryCommands.swift).

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PCMBufferCore
import PCMClient
import PCMProtocol

@main
struct PCMCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcmctl",
        abstract: "Inspect and control the pcmd sound server.",
        discussion: """
            Examples:
              pcmctl devices
              pcmctl default Loopback,0
              pcmctl move 7 PCH,0
              pcmctl streams
              pcmctl top
              pcmctl volume 7 50%
              pcmctl volume 7 --mute
              pcmctl master 0.8
              pcmctl memory
              pcmctl prealloc card0/pcm0p/sub0 128K
            """,
        subcommands: [Devices.self, DefaultDevice.self, Streams.self, Top.self, MoveStream.self, StreamVolume.self,
                      MasterVolumeCommand.self, Memory.self, Prealloc.self],
        defaultSubcommand: Streams.self
    )
}

/// Options every subcommand takes.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The pcmd socket (default: $PCMD_SOCKET, then the user daemon, then the system daemon).")
    var socket: String?

    func connect() async throws -> PCMConnection {
        // No signal ends pcmctl: a daemon or a pipe that goes away is an error on that descriptor.
        signal(SIGPIPE, SIG_IGN)
        return try await PCMConnection.connect(path: socket, clientName: "pcmctl")
    }
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List the devices: which is the default, format, buffer, state, xruns, master volume.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let pcm = try await connection.connect()
        let devices = try await pcm.devices()
        pcm.close()
        var table = Table(["ID", "DEVICE", "DEFAULT", "DIR", "FORMAT", "BUFFER", "PERIOD", "LATENCY", "STATE", "XRUNS", "MASTER",
                           "DESCRIPTION"])
        for device in devices {
            table.add([
                "\(device.id.rawValue)", device.name, device.isDefault ? "yes" : "no", device.directions.description, device.format.description,
                "\(device.buffer.bufferFrames)", "\(device.buffer.periodFrames)",
                Table.milliseconds(frames: device.buffer.bufferFrames, rate: device.format.rate),
                device.state.description, "\(device.xruns)", device.masterVolume.description, device.description,
            ])
        }
        print(devices.isEmpty ? "no devices" : table.render())
    }
}

struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams", abstract: "List every client's streams: format, latency, position, xruns, volume.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let pcm = try await connection.connect()
        let streams = try await pcm.streams()
        pcm.close()
        var table = Table(["ID", "CLIENT", "PID", "UID", "NAME", "DIR", "DEV", "FORMAT", "BUFFER", "LATENCY", "POSITION", "XRUNS", "VOLUME", "STATE"])
        for stream in streams {
            table.add([
                "\(stream.id.rawValue)", stream.clientName, "\(stream.clientPID)", "\(stream.clientUID)", stream.name,
                stream.direction.description, "\(stream.device.rawValue)", stream.format.description,
                "\(stream.buffer.bufferFrames)/\(stream.buffer.periodFrames)",
                String(format3: Double(stream.latencyMicroseconds) / 1000) + " ms",
                Table.seconds(frames: stream.position, rate: stream.format.rate),
                "\(stream.xruns)", stream.volume.description, stream.state.description,
            ])
        }
        print(streams.isEmpty ? "no streams" : table.render())
    }
}

struct StreamVolume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Set a stream's volume and/or mute.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The stream's ID (from `pcmctl streams`).")
    var stream: UInt32

    @Argument(help: "The level: 0 to 1, or 0% to 100% (default: keep it).")
    var level: String?

    @Flag(exclusivity: .exclusive, help: "Mute or unmute (default: keep as is).")
    var mute: MuteChange?

    mutating func validate() throws {
        guard stream != 0 else { throw ValidationError("stream IDs start at 1") }
        guard level != nil || mute != nil else { throw ValidationError("give a level, --mute or --unmute") }
        if let level, LevelArgument.parse(level) == nil {
            throw ValidationError("level must be 0 to 1 or 0% to 100%, not \"\(level)\"")
        }
    }

    func run() async throws {
        let pcm = try await connection.connect()
        let id = StreamID(stream)
        guard let current = try await pcm.streams().first(where: { $0.id == id }) else {
            pcm.close()
            throw ValidationError("no stream \(stream) (see `pcmctl streams`)")
        }
        let volume = Volume(
            level: level.flatMap(LevelArgument.parse) ?? current.volume.level,
            muted: mute.map { $0 == .mute } ?? current.volume.muted
        )
        try await pcm.setVolume(volume, stream: id)
        pcm.close()
        print("stream \(stream): \(volume)")
    }
}

struct MasterVolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master", abstract: "Show or set a device's master volume and mute.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The level: 0 to 1, or 0% to 100% (default: show it).")
    var level: String?

    @Flag(exclusivity: .exclusive, help: "Mute or unmute.")
    var mute: MuteChange?

    @Option(help: "The device's ID (from `pcmctl devices`); 0 is the daemon's default.")
    var device: UInt32 = 0

    mutating func validate() throws {
        if let level, LevelArgument.parse(level) == nil {
            throw ValidationError("level must be 0 to 1 or 0% to 100%, not \"\(level)\"")
        }
    }

    func run() async throws {
        let pcm = try await connection.connect()
        defer { pcm.close() }
        let devices = try await pcm.devices()
        let target = device == 0 ? devices.first(where: \.isDefault) ?? devices.first : devices.first { $0.id.rawValue == device }
        guard let target else { throw ValidationError("no device \(device) (see `pcmctl devices`)") }
        guard level != nil || mute != nil else {
            print("\(DisplayText.escaped(target.name)): \(target.masterVolume)")
            return
        }
        let volume = Volume(
            level: level.flatMap(LevelArgument.parse) ?? target.masterVolume.level,
            muted: mute.map { $0 == .mute } ?? target.masterVolume.muted
        )
        try await pcm.setMasterVolume(volume, device: AudioDeviceID(device))
        print("\(DisplayText.escaped(target.name)): \(volume)")
    }
}

/// `--mute` or `--unmute`.
enum MuteChange: String, EnumerableFlag {
    case mute
    case unmute

    static func help(for value: MuteChange) -> ArgumentHelp? {
        value == .mute ? "Mute." : "Unmute."
    }
}

/// Parses a level given as `0.5` or `50%`.
enum LevelArgument {
    static func parse(_ text: String) -> Float? {
        let value = text.hasSuffix("%") ? Float(text.dropLast()).map { $0 / 100 } : Float(text)
        guard let value, value.isFinite, value >= 0, value <= 1 else { return nil }
        return value
    }
}
