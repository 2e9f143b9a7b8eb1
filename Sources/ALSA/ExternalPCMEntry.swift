// The open function of an external PCM plugin (`_snd_pcm_NAME_open`), in Swift: reads the
// plugin's block of the ALSA configuration (`pcm.NAME { type NAME key value ... }`), lets the
// plugin decide (a driver, a fallback PCM to open instead, or an error), and creates the ioplug.
// The plugin's @_cdecl entry points pass their C arguments straight through, so the plugin itself
// never sees alsa-lib's C API (the ALSA module stays its only user).

import CALSA
import Glibc
import PCMBufferCore

/// One value of a plugin's configuration block.
public enum ExternalPCMConfigValue: Sendable, Equatable {
    case integer(Int)
    case real(Double)
    case string(String)
    /// A compound (`{ ... }`) or anything else: plugins that accept it read its ASCII form.
    case other(String)
}

/// What an external PCM is asked to open.
public struct ExternalPCMOpenRequest: Sendable {
    /// The PCM name the application asked for (`pcmd`, `default`, `pcmd:1`).
    public var name: String
    public var direction: ExternalPCMDirection
    /// SND_PCM_NONBLOCK was given.
    public var nonblocking: Bool
    /// The plugin's configuration keys, in order, without `type`, `comment` and `hint`.
    public var configuration: [(key: String, value: ExternalPCMConfigValue)]
}

/// What the plugin decided.
public enum ExternalPCMOpenOutcome {
    /// Create the PCM with this driver.
    case driver(any ExternalPCMDriver, ExternalPCMCapabilities)
    /// Open this other PCM instead (the `fallback` of pulse and pcmd), with the same arguments.
    case fallback(String)
    /// Fail the open with this errno; the message goes to stderr as alsa-lib's own do.
    case failed(ExternalPCMError, message: String)
}

public enum ExternalPCMEntry {
    /// Implements `_snd_pcm_NAME_open(snd_pcm_t **pcmp, const char *name, snd_config_t *root,
    /// snd_config_t *conf, snd_pcm_stream_t stream, int mode)`; returns 0 or a negative errno.
    public static func open(handle: UnsafeMutablePointer<OpaquePointer?>?, name: UnsafePointer<CChar>?, root: OpaquePointer?,
                            configuration: OpaquePointer?, stream: UInt32, mode: Int32,
                            plugin: (ExternalPCMOpenRequest) -> ExternalPCMOpenOutcome) -> Int32 {
        guard let handle else { return -EINVAL }
        let pcmName = name.map { String(cString: $0) } ?? "pcmd"
        let keys: [(key: String, value: ExternalPCMConfigValue)]
        do throws(ExternalPCMError) {
            keys = try configurationKeys(configuration)
        } catch {
            report(pcmName, "its configuration cannot be read")
            return -error.code
        }
        let direction: ExternalPCMDirection = stream == SND_PCM_STREAM_CAPTURE.rawValue ? .capture : .playback
        let request = ExternalPCMOpenRequest(name: pcmName, direction: direction, nonblocking: mode & SND_PCM_NONBLOCK != 0,
                                             configuration: keys)
        switch plugin(request) {
        case .driver(let driver, let capabilities):
            do throws(ExternalPCMError) {
                try ExternalPCM.create(name: pcmName, direction: direction, mode: mode, driver: driver, capabilities: capabilities, handle: handle)
                return 0
            } catch {
                driver.close()
                report(pcmName, "alsa-lib refused the plugin's PCM (\(error))")
                return -error.code
            }
        case .fallback(let other):
            return snd_pcm_open_fallback(handle, root, other, name, snd_pcm_stream_t(stream), mode)
        case .failed(let error, let message):
            report(pcmName, message)
            return -error.code
        }
    }

    /// Writes `ALSA lib pcm NAME: message` to stderr, the way alsa-lib reports its own errors.
    /// One write(2) to descriptor 2, not stdio: the host's stdio buffers are its own.
    public static func report(_ name: String, _ message: String) {
        var line = "ALSA lib pcm \(name): \(message)\n"
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }

    private static func configurationKeys(_ node: OpaquePointer?) throws(ExternalPCMError) -> [(key: String, value: ExternalPCMConfigValue)] {
        guard let node else { return [] }
        var keys: [(key: String, value: ExternalPCMConfigValue)] = []
        var iterator = snd_config_iterator_first(node)
        let end = snd_config_iterator_end(node)
        while iterator != end {
            let entry = snd_config_iterator_entry(iterator)
            iterator = snd_config_iterator_next(iterator)
            var id: UnsafePointer<CChar>?
            guard snd_config_get_id(entry, &id) >= 0, let id else { throw ExternalPCMError(EINVAL) }
            let key = String(cString: id)
            if ["comment", "type", "hint"].contains(key) { continue }
            keys.append((key, try value(of: entry)))
        }
        return keys
    }

    private static func value(of node: OpaquePointer?) throws(ExternalPCMError) -> ExternalPCMConfigValue {
        switch snd_config_get_type(node) {
        case SND_CONFIG_TYPE_INTEGER:
            var number: Int = 0
            guard snd_config_get_integer(node, &number) >= 0 else { throw ExternalPCMError(EINVAL) }
            return .integer(number)
        case SND_CONFIG_TYPE_INTEGER64:
            var number: Int64 = 0
            guard snd_config_get_integer64(node, &number) >= 0 else { throw ExternalPCMError(EINVAL) }
            return .integer(Int(number))
        case SND_CONFIG_TYPE_REAL:
            var number: Double = 0
            guard snd_config_get_real(node, &number) >= 0 else { throw ExternalPCMError(EINVAL) }
            return .real(number)
        case SND_CONFIG_TYPE_STRING:
            var text: UnsafePointer<CChar>?
            guard snd_config_get_string(node, &text) >= 0, let text else { throw ExternalPCMError(EINVAL) }
            return .string(String(cString: text))
        default:
            var text: UnsafeMutablePointer<CChar>?
            guard snd_config_get_ascii(node, &text) >= 0, let text else { return .other("") }
            defer { free(text) }
            return .other(String(cString: text))
        }
    }
}
