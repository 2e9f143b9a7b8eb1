// Opening a PCM defined by ALSA configuration text instead of by a name from the system's
// configuration files: a `plug` with a fixed slave rate, a `file` writer with chosen options,
// anything alsa-lib's configuration language can say. The daemon uses it for diagnostics
// devices, the tests for devices with limits the `null` PCM does not have.

import CALSA
import Glibc

extension PCM {
    /// Opens the PCM `name` defined in `configuration`, a piece of ALSA configuration such as
    /// `pcm.fixed { type plug slave { pcm { type null } rate 48000 } }`.
    ///
    /// Only the given text is searched for `name` and its slaves (it does not see
    /// `/usr/share/alsa/alsa.conf`), so slaves must be defined inline.
    /// - Throws: `ALSAError` naming `snd_config_load` for text that does not parse, or
    ///   `snd_pcm_open_lconf` with reason `.cannotOpen(device: name)` when the definition is
    ///   missing or incomplete.
    ///
    /// The corresponding ALSA function is `snd_pcm_open_lconf`.
    public init(
        configuration: String, name: String, direction: Direction, nonblocking: Bool = false
    ) throws(ALSAError) {
        var top: OpaquePointer?
        let created = alsa_config_top(&top)
        guard created >= 0, let top else {
            throw ALSAError(code: created < 0 ? created : -ENOMEM, function: "snd_config_top")
        }
        defer {
            // ignored because the tree is only needed while opening; alsa-lib keeps no reference
            _ = alsa_config_delete(top)
        }
        try Self.load(configuration, into: top)
        var raw: OpaquePointer?
        let opened = alsa_pcm_open_lconf(&raw, name, direction.raw, nonblocking ? SND_PCM_NONBLOCK : 0, top)
        guard opened >= 0, let raw else {
            throw ALSAError(code: opened < 0 ? opened : -ENODEV, function: "snd_pcm_open_lconf", reason: .cannotOpen(device: name))
        }
        try self.init(adopting: raw, direction: direction)
    }

    private static func load(_ text: String, into top: OpaquePointer) throws(ALSAError) {
        var input: OpaquePointer?
        let length = text.utf8.count
        let opened = text.withCString { alsa_input_buffer_open(&input, $0, length) }
        guard opened >= 0, let input else {
            throw ALSAError(code: opened < 0 ? opened : -ENOMEM, function: "snd_input_buffer_open")
        }
        defer {
            // ignored because a memory input has nothing to flush
            _ = alsa_input_close(input)
        }
        try check(alsa_config_load(top, input), "snd_config_load")
    }
}
