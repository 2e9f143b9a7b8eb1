// pcmctl's commands about which device plays what: `default` shows or chooses the device that
// streams naming none go to (kept by the daemon across restarts), `move` moves a playing stream
// to another device. Both take a device by its name (PCH,0) or its id.

import ArgumentParser
import PCMClient
import PCMProtocol

/// A device named on the command line: its name as `pcmctl devices` lists it, or its id.
enum DeviceArgument {
    /// The device `text` names among `devices`; the error lists the ones there are.
    static func find(_ text: String, in devices: [DeviceInfo]) throws -> DeviceInfo {
        if let device = devices.device(named: text) { return device }
        throw ValidationError("no device \"\(DisplayText.escaped(text))\"; the daemon serves: \(devices.servedSummary)")
    }
}

struct DefaultDevice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "default",
        abstract: "Show the default device, or make another one the default.",
        discussion: """
            The default device is where streams go that do not name one (pcmplay without --device, \
            the ALSA plugin without a device). pcmd keeps the choice across restarts.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The device: its name (PCH,0) or ID, as `pcmctl devices` lists them (default: show the default).")
    var device: String?

    func run() async throws {
        let pcm = try await connection.connect()
        defer { pcm.close() }
        let devices = try await pcm.devices()
        guard let device else {
            guard let current = devices.first(where: \.isDefault) ?? devices.first else { throw ValidationError("the daemon serves no device") }
            print(DisplayText.escaped(current.name))
            return
        }
        let target = try DeviceArgument.find(device, in: devices)
        try await pcm.setDefaultDevice(target.id)
        print("default device: \(DisplayText.escaped(target.name))")
    }
}

struct MoveStream: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "Move a playing or recording stream to another device.",
        discussion: """
            The stream goes on where it was, on the other device, from the next frame: its \
            application notices nothing and reopens nothing.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The stream's ID (from `pcmctl streams`).")
    var stream: UInt32

    @Argument(help: "The device: its name (PCH,0) or ID, as `pcmctl devices` lists them.")
    var device: String

    mutating func validate() throws {
        guard stream != 0 else { throw ValidationError("stream IDs start at 1") }
    }

    func run() async throws {
        let pcm = try await connection.connect()
        defer { pcm.close() }
        let devices = try await pcm.devices()
        let target = try DeviceArgument.find(device, in: devices)
        try await pcm.moveStream(StreamID(stream), to: target.id)
        print("stream \(stream): now on \(DisplayText.escaped(target.name))")
    }
}
