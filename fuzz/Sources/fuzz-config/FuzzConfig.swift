// libFuzzer target: the config-file parser and what is built from its settings. The input is
// the file's text (decoded as UTF-8 the way `ConfigurationSettings(contentsOf:)` decodes it).
//
// Invariants: parsing gives settings or a ConfigurationError, never a trap; settings hold only
// known keys with non-empty values; writing them back as `key = value` lines parses to the same
// settings (the format round-trips); the settings over themselves are themselves; and whatever
// `configuration()` accepts passes `validate()` again and keeps every documented range,
// including a buffer that fits the preallocation.

import FuzzSupport
import PCMBufferCore
@testable import PCMDaemon

func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let text = String(decoding: input.bytes, as: UTF8.self)
    let settings: ConfigurationSettings
    do throws(ConfigurationError) {
        settings = try ConfigurationSettings(parsing: text, file: "fuzz.conf")
    } catch {
        invariant(!error.description.isEmpty, "an error without a message")
        if case .malformedLine(let line, let file, _) = error { invariant(line >= 1 && file == "fuzz.conf", "error names the wrong place") }
        if case .unknownKey(_, let line, let file) = error { invariant(line >= 1 && file == "fuzz.conf", "error names the wrong place") }
        return 0
    }
    // A list key (`device`, given once per line) holds its values joined by newlines.
    func lines(_ key: String, _ value: String) -> [String] {
        ConfigurationSettings.listKeys.contains(key) ? value.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) : [value]
    }
    for (key, value) in settings.values {
        invariant(ConfigurationSettings.keys.contains(key), "unknown key \(key) accepted")
        for part in lines(key, value) {
            invariant(!part.isEmpty && !part.contains("\n") && !part.contains("#"), "value of \(key) is empty or spans a comment or line")
            invariant(part.trimmingWhitespace() == part[...], "value of \(key) keeps surrounding white space")
        }
    }
    let rendered = settings.values.sorted { $0.key < $1.key }.flatMap { entry in lines(entry.key, entry.value).map { "\(entry.key) = \($0)\n" } }.joined()
    do throws(ConfigurationError) {
        let again = try ConfigurationSettings(parsing: rendered, file: "again.conf")
        invariant(again == settings, "settings written back parse differently")
    } catch {
        invariant(false, "settings written back do not parse: \(error)")
    }
    invariant(settings.overridden(by: settings) == settings, "settings over themselves changed")
    invariant(settings.overridden(by: ConfigurationSettings()) == settings, "nothing on top changed the settings")

    let configuration: DaemonConfiguration
    do throws(ConfigurationError) {
        configuration = try settings.configuration()
    } catch {
        invariant(!error.description.isEmpty, "an error without a message")
        return 0
    }
    do throws(ConfigurationError) {
        try configuration.validate()
    } catch {
        invariant(false, "an accepted configuration fails validation: \(error)")
    }
    invariant((1_000...768_000).contains(configuration.rate) && (1...64).contains(configuration.channels), "rate or channels out of range")
    invariant((16...65_536).contains(configuration.periodFrames) && (2...32).contains(configuration.periods), "period out of range")
    let bytes = configuration.requestedBufferFrames * configuration.format.bytesPerSample * configuration.channels
    invariant(configuration.requestedBufferFrames >= 2 * configuration.periodFrames, "a buffer of fewer than two periods")
    invariant(bytes <= configuration.preallocationBytes, "the buffer does not fit the preallocation")
    invariant((configuration.maxClientsPerUser ?? 1) <= configuration.maxClients, "per-user share above the limit")
    return 0
}
