// What this system offers: the sound cards with their PCM devices and subdevices per
// direction (through each card's control interface, for `pcmd --list-devices` and for choosing
// the first card), the PCM names the ALSA configuration defines (null, default, ...), and the
// alsa-lib version. (`ALSALibrary` is not named `ALSA`: a type named like its module would
// shadow the module and break `ALSA.PCM` qualification for callers.)

import CALSA
import Glibc

/// A sound card as the control interface describes it.
public struct SoundCard: Sendable, Hashable {
    /// The card number (`N` in `hw:N`).
    public var index: Int
    /// The card's short id (`Loopback`, `PCH`), usable as `hw:Loopback`.
    public var id: String
    /// The driver's name for the card.
    public var name: String
    /// The long description (often with the bus address and IRQ).
    public var longName: String
    /// The card's PCM devices, in device order.
    public var pcmDevices: [PCMDeviceInfo]

    /// Makes a card description (`cards()` builds them; tests and fakes may too).
    public init(index: Int, id: String, name: String, longName: String, pcmDevices: [PCMDeviceInfo]) {
        self.index = index
        self.id = id
        self.name = name
        self.longName = longName
        self.pcmDevices = pcmDevices
    }
}

/// One PCM device of a card, with its subdevices for each direction it supports.
public struct PCMDeviceInfo: Sendable, Hashable {
    /// The card number.
    public var card: Int
    /// The device number (`D` in `hw:N,D`).
    public var device: Int
    /// The device's id string.
    public var id: String
    /// The device's name.
    public var name: String
    /// Playback subdevices; empty if the device cannot play.
    public var playback: [PCMSubdevice]
    /// Capture subdevices; empty if the device cannot record.
    public var capture: [PCMSubdevice]

    /// Makes a device description (`cards()` builds them; tests and fakes may too).
    public init(card: Int, device: Int, id: String, name: String, playback: [PCMSubdevice], capture: [PCMSubdevice]) {
        self.card = card
        self.device = device
        self.id = id
        self.name = name
        self.playback = playback
        self.capture = capture
    }

    /// The subdevices for `direction`.
    public func subdevices(_ direction: PCM.Direction) -> [PCMSubdevice] {
        direction == .playback ? playback : capture
    }

    /// The `hw:` name that opens this device, or one subdevice of it.
    public func hardwareName(subdevice: Int? = nil) -> String {
        if let subdevice { return "hw:\(card),\(device),\(subdevice)" }
        return "hw:\(card),\(device)"
    }
}

/// One subdevice of a PCM device.
public struct PCMSubdevice: Sendable, Hashable {
    /// The subdevice number (`S` in `hw:N,D,S`).
    public var index: Int
    /// The subdevice's name (`subdevice #0`).
    public var name: String

    /// Makes a subdevice description.
    public init(index: Int, name: String) {
        self.index = index
        self.name = name
    }
}

/// A PCM name from the ALSA configuration, with its description.
public struct PCMNameHint: Sendable, Hashable {
    /// The name to open, e.g. `null`, `default`, `hw:CARD=PCH,DEV=0`.
    public var name: String
    /// The configuration's description, if any (may span lines).
    public var description: String?
    /// Whether it can be opened for playback.
    public var playback: Bool
    /// Whether it can be opened for capture.
    public var capture: Bool
}

/// Enumerates cards and configured PCM names.
public enum DeviceList {
    /// Every sound card, in card order, with its PCM devices. Empty when there are none
    /// (no /dev/snd): that is not an error.
    /// - Throws: `ALSAError` when a card exists but its control interface cannot be read.
    ///
    /// The corresponding ALSA functions are `snd_card_next`, `snd_ctl_card_info` and
    /// `snd_ctl_pcm_next_device` / `snd_ctl_pcm_info`.
    public static func cards() throws(ALSAError) -> [SoundCard] {
        var cards: [SoundCard] = []
        var index: CInt = -1
        while true {
            try check(alsa_card_next(&index), "snd_card_next")
            if index < 0 { break }
            cards.append(try card(Int(index)))
        }
        return cards
    }

    /// The PCM names the ALSA configuration defines (what `aplay -L` prints). On a machine
    /// with no cards this still lists `null`.
    ///
    /// The corresponding ALSA function is `snd_device_name_hint`.
    public static func pcmNameHints() throws(ALSAError) -> [PCMNameHint] {
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        try check(alsa_device_name_hint(-1, "pcm", &hints), "snd_device_name_hint")
        guard let hints else { return [] }
        defer {
            // ignored because the hint list was read completely; a failed free leaks at worst
            _ = alsa_device_name_free_hint(hints)
        }
        var result: [PCMNameHint] = []
        var cursor = hints
        while let hint = cursor.pointee {
            defer { cursor += 1 }
            guard let name = takeHint(hint, "NAME") else { continue }
            let direction = takeHint(hint, "IOID")
            result.append(
                PCMNameHint(
                    name: name,
                    description: takeHint(hint, "DESC"),
                    playback: direction == nil || direction == "Output",
                    capture: direction == nil || direction == "Input"
                )
            )
        }
        return result
    }

    /// One hint field as a Swift string, freeing the C copy alsa-lib made.
    private static func takeHint(_ hint: UnsafeMutableRawPointer, _ field: String) -> String? {
        guard let value = alsa_device_name_get_hint(hint, field) else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    /// Card `index`: its identity from the control interface, then its PCM devices.
    private static func card(_ index: Int) throws(ALSAError) -> SoundCard {
        let controlName = "hw:\(index)"
        var ctl: OpaquePointer?
        let opened = alsa_ctl_open(&ctl, controlName, 0)
        guard opened >= 0, let ctl else {
            throw ALSAError(code: opened < 0 ? opened : -ENODEV, function: "snd_ctl_open", reason: .cannotOpen(device: controlName))
        }
        defer {
            // ignored because the card was only read; there is nothing to undo
            _ = alsa_ctl_close(ctl)
        }
        let info = try InfoObject(kind: .card)
        try check(alsa_ctl_card_info(ctl, info.raw), "snd_ctl_card_info")
        var card = SoundCard(
            index: index,
            id: string(alsa_ctl_card_info_get_id(info.raw)),
            name: string(alsa_ctl_card_info_get_name(info.raw)),
            longName: string(alsa_ctl_card_info_get_longname(info.raw)),
            pcmDevices: []
        )
        let pcmInfo = try InfoObject(kind: .pcm)
        var device: CInt = -1
        while true {
            try check(alsa_ctl_pcm_next_device(ctl, &device), "snd_ctl_pcm_next_device")
            if device < 0 { break }
            var entry = PCMDeviceInfo(card: index, device: Int(device), id: "", name: "", playback: [], capture: [])
            for direction in [PCM.Direction.playback, .capture] {
                let subdevices = try Self.subdevices(ctl, pcmInfo.raw, device: device, direction: direction)
                guard let subdevices else { continue }
                entry.id = subdevices.id
                entry.name = subdevices.name
                if direction == .playback { entry.playback = subdevices.list } else { entry.capture = subdevices.list }
            }
            card.pcmDevices.append(entry)
        }
        return card
    }

    /// The subdevices of `device` for `direction`, or `nil` if the device has no such stream.
    private static func subdevices(
        _ ctl: OpaquePointer, _ info: OpaquePointer, device: CInt, direction: PCM.Direction
    ) throws(ALSAError) -> (id: String, name: String, list: [PCMSubdevice])? {
        alsa_pcm_info_set_device(info, CUnsignedInt(device))
        alsa_pcm_info_set_subdevice(info, 0)
        alsa_pcm_info_set_stream(info, direction.raw)
        let result = alsa_ctl_pcm_info(ctl, info)
        // -ENOENT: the device exists but not in this direction (a capture-only device, say).
        if result == -ENOENT { return nil }
        try check(result, "snd_ctl_pcm_info")
        let id = string(alsa_pcm_info_get_id(info))
        let name = string(alsa_pcm_info_get_name(info))
        let count = Int(alsa_pcm_info_get_subdevices_count(info))
        var list: [PCMSubdevice] = []
        for subdevice in 0..<count {
            alsa_pcm_info_set_subdevice(info, CUnsignedInt(subdevice))
            try check(alsa_ctl_pcm_info(ctl, info), "snd_ctl_pcm_info")
            list.append(PCMSubdevice(index: subdevice, name: string(alsa_pcm_info_get_subdevice_name(info))))
        }
        return (id, name, list)
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }
}

/// An owned `snd_ctl_card_info_t` or `snd_pcm_info_t`, freed on destruction.
private struct InfoObject: ~Copyable {
    enum Kind { case card, pcm }
    let raw: OpaquePointer
    let kind: Kind

    init(kind: Kind) throws(ALSAError) {
        var raw: OpaquePointer?
        let result = kind == .card ? alsa_ctl_card_info_malloc(&raw) : alsa_pcm_info_malloc(&raw)
        guard result >= 0, let raw else {
            throw ALSAError(
                code: result < 0 ? result : -ENOMEM,
                function: kind == .card ? "snd_ctl_card_info_malloc" : "snd_pcm_info_malloc"
            )
        }
        self.raw = raw
        self.kind = kind
    }

    deinit {
        if kind == .card { alsa_ctl_card_info_free(raw) } else { alsa_pcm_info_free(raw) }
    }
}

/// The alsa-lib library loaded at run time.
public enum ALSALibrary {
    /// The run-time alsa-lib version, e.g. `"1.2.8"`.
    ///
    /// The corresponding ALSA function is `snd_asoundlib_version`.
    public static var version: String { String(cString: alsa_asoundlib_version()) }
}
