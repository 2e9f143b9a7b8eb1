// The keys of a `pcm.NAME { type pcmd ... }` block: each one read with its type and range, and
// every mistake (an unknown key, a wrong type, a value out of range) refused with a sentence that
// names the key, never ignored.

import ALSA
import Testing
@testable import PCMALSAPlugin

@Suite struct PluginSettingsTests {
    @Test("every key is read")
    func allKeys() throws {
        let settings = try PluginSettings([
            ("socket", .string("/run/pcmd/socket")), ("device", .integer(1)), ("name", .string("music")),
            ("latency_ms", .integer(40)), ("fallback", .string("sysdefault")),
        ])
        #expect(settings.socket == "/run/pcmd/socket")
        #expect(settings.device == .id(1))
        #expect(settings.streamName == "music")
        #expect(settings.latencyMilliseconds == 40)
        #expect(settings.fallback == "sysdefault")
    }

    @Test("nothing given: the client rule for the socket, device 0, no fallback")
    func defaults() throws {
        let settings = try PluginSettings([])
        #expect(settings == PluginSettings())
        #expect(settings.socket == nil && settings.device == .id(0) && settings.fallback == nil && settings.latencyMilliseconds == 0)
    }

    @Test("@args substitution can give a number as a string; an empty string means unset")
    func stringForms() throws {
        let settings = try PluginSettings([("device", .string("2")), ("fallback", .string(""))])
        #expect(settings.device == .id(2))
        #expect(settings.fallback == nil)
    }

    @Test("a device by name: a stable name or an ALSA name, looked up when the PCM opens")
    func deviceNames() throws {
        #expect(try PluginSettings([("device", .string("PCH,0"))]).device == .name("PCH,0"))
        #expect(try PluginSettings([("device", .string("hw:1,0"))]).device == .name("hw:1,0"))
        #expect(try PluginSettings([("device", .string("one"))]).device == .name("one"))
    }

    @Test("mistakes are refused with the key's name",
          arguments: [
            ([("sockt", ExternalPCMConfigValue.string("/x"))], PluginSettings.Failure.unknownKey("sockt")),
            ([("socket", .integer(3))], .wrongType(key: "socket", expected: "a string")),
            ([("device", .string(""))], .wrongType(key: "device", expected: "a device id or a device name")),
            ([("device", .real(1.5))], .wrongType(key: "device", expected: "an integer")),
            ([("device", .integer(-1))], .outOfRange(key: "device", value: -1, range: 0...Int(Int32.max))),
            ([("latency_ms", .integer(10_001))], .outOfRange(key: "latency_ms", value: 10_001, range: 0...10_000)),
            ([("fallback", .other("{ }"))], .wrongType(key: "fallback", expected: "a string")),
          ])
    func refused(keys: [(String, ExternalPCMConfigValue)], failure: PluginSettings.Failure) {
        #expect(throws: failure) { try PluginSettings(keys.map { (key: $0.0, value: $0.1) }) }
        #expect(failure.description.contains("\""))
    }
}
