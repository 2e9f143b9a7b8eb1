// How a PCM substream is named: card, device, direction and subdevice, as in the kernel's
// /proc/asound/cardN/pcmD{p,c}/subS tree and in ALSA's hw:CARD,DEV,SUB device strings.

/// The direction of a PCM stream.
///
/// The raw values match the kernel's `SNDRV_PCM_STREAM_PLAYBACK` (0) and
/// `SNDRV_PCM_STREAM_CAPTURE` (1).
public enum StreamDirection: Int, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Audio flows from the application to the device.
    case playback = 0
    /// Audio flows from the device to the application.
    case capture = 1

    /// The letter the kernel uses in `/proc` directory names: `p` or `c`.
    public var procLetter: Character {
        switch self {
        case .playback: "p"
        case .capture: "c"
        }
    }

    public var description: String {
        switch self {
        case .playback: "playback"
        case .capture: "capture"
        }
    }
}

/// The address of one substream: card, PCM device, direction and subdevice number.
///
/// All numbers are zero-based, like the kernel's. A `SubstreamID` only names a substream;
/// whether it exists is decided by the ``SubstreamAllocator`` it is used with.
public struct SubstreamID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The card index (`N` in `/proc/asound/cardN`).
    public var card: Int
    /// The PCM device on the card (`D` in `pcmDp`).
    public var device: Int
    /// Playback or capture.
    public var direction: StreamDirection
    /// The subdevice (`S` in `subS`), the substream's `number` in the kernel.
    public var subdevice: Int

    /// Names a substream; the numbers are not validated here.
    public init(card: Int, device: Int, direction: StreamDirection, subdevice: Int) {
        self.card = card
        self.device = device
        self.direction = direction
        self.subdevice = subdevice
    }

    /// The PCM (card and device) this substream belongs to.
    public var pcm: PCMID { PCMID(card: card, device: device) }

    /// The substream's `/proc` directory, e.g. `/proc/asound/card0/pcm0p/sub0`.
    public var procDirectory: String {
        "/proc/asound/card\(card)/pcm\(device)\(direction.procLetter)/sub\(subdevice)"
    }

    /// The ALSA device string that opens exactly this substream, e.g. `hw:0,0,0`.
    public var alsaDeviceName: String { "hw:\(card),\(device),\(subdevice)" }

    public var description: String {
        "card \(card) device \(device) \(direction) subdevice \(subdevice)"
    }

    /// Orders by card, device, direction (playback first), then subdevice.
    public static func < (a: Self, b: Self) -> Bool {
        (a.card, a.device, a.direction.rawValue, a.subdevice) < (b.card, b.device, b.direction.rawValue, b.subdevice)
    }
}

/// The address of a PCM device: a card and a device number on it.
public struct PCMID: Hashable, Sendable, CustomStringConvertible {
    /// The card index.
    public var card: Int
    /// The PCM device on the card.
    public var device: Int

    /// Names a PCM; the numbers are not validated here.
    public init(card: Int, device: Int) {
        self.card = card
        self.device = device
    }

    public var description: String { "card \(card) device \(device)" }
}
