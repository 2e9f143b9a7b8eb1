// The keys of a `pcm.NAME { type pcmd ... }` block (docs/pcmd-alsa.7), validated: an unknown
// key or a value of the wrong type fails the open with a sentence naming it, as alsa-lib's own
// plugins do, rather than being ignored.

import ALSA

/// Which pcmd device a plugin PCM plays to or records from.
enum PluginDevice: Equatable {
    /// By number; 0 is the daemon's default device.
    case id(UInt32)
    /// By name (`PCH,0`, `Loopback,1`, or the ALSA name the daemon serves under).
    case name(String)
}

/// What the configuration asks of one plugin PCM.
struct PluginSettings: Equatable {
    /// The daemon's socket; nil follows the client rule ($PCMD_SOCKET, the user daemon, the
    /// system daemon).
    var socket: String?
    /// The pcmd device: its id (0: the daemon's default) or its name (`PCH,0`, as
    /// `pcmctl devices` lists it), looked up when the PCM is opened.
    var device = PluginDevice.id(0)
    /// The stream's name in `pcmctl streams`; nil: the program's name.
    var streamName: String?
    /// The least audio, in milliseconds, the plugin keeps queued towards the daemon however
    /// small the application's buffer (0: the daemon's minimum).
    var latencyMilliseconds = 0
    /// A PCM to open instead when no daemon answers.
    var fallback: String?

    /// The keys this plugin reads, for the error message.
    static let keys = ["socket", "device", "name", "latency_ms", "fallback"]

    /// Why a configuration block is refused.
    enum Failure: Error, Equatable, CustomStringConvertible {
        case unknownKey(String)
        case wrongType(key: String, expected: String)
        case outOfRange(key: String, value: Int, range: ClosedRange<Int>)

        var description: String {
            switch self {
            case .unknownKey(let key):
                "unknown key \"\(key)\" (the pcmd plugin reads \(PluginSettings.keys.joined(separator: ", ")); see pcmd-alsa(7))"
            case .wrongType(let key, let expected): "\"\(key)\" must be \(expected)"
            case .outOfRange(let key, let value, let range): "\"\(key)\" is \(value), outside \(range.lowerBound)...\(range.upperBound)"
            }
        }
    }

    init() {}

    init(_ configuration: [(key: String, value: ExternalPCMConfigValue)]) throws(Failure) {
        for (key, value) in configuration {
            switch key {
            case "socket": socket = try Self.text(value, key: key)
            case "fallback": fallback = try Self.text(value, key: key)
            case "name": streamName = try Self.text(value, key: key)
            case "device":
                // A name that is all digits is an id: pcmd never names a device with a bare number.
                if case .string(let text) = value, Int(text) == nil {
                    guard !text.isEmpty else { throw .wrongType(key: key, expected: "a device id or a device name") }
                    device = .name(text)
                } else {
                    device = .id(UInt32(try Self.integer(value, key: key, range: 0...Int(Int32.max))))
                }
            case "latency_ms": latencyMilliseconds = try Self.integer(value, key: key, range: 0...10_000)
            default: throw .unknownKey(key)
            }
        }
    }

    /// A string value; an empty one means "not set" (so `fallback ""` disables a fallback).
    private static func text(_ value: ExternalPCMConfigValue, key: String) throws(Failure) -> String? {
        guard case .string(let text) = value else { throw .wrongType(key: key, expected: "a string") }
        return text.isEmpty ? nil : text
    }

    /// An integer value; a string of digits (what `@args` substitution can produce) is accepted.
    private static func integer(_ value: ExternalPCMConfigValue, key: String, range: ClosedRange<Int>) throws(Failure) -> Int {
        let number: Int
        switch value {
        case .integer(let value): number = value
        case .string(let text):
            guard let parsed = Int(text) else { throw .wrongType(key: key, expected: "an integer") }
            number = parsed
        default: throw .wrongType(key: key, expected: "an integer")
        }
        guard range.contains(number) else { throw .outOfRange(key: key, value: number, range: range) }
        return number
    }
}
