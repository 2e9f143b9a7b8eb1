// Which devices pcmd serves, and under which names (issue 13). A device's stable name is its
// card's id and its PCM device number, `PCH,0` or `Loopback,1`: card numbers change with the
// order drivers load, card ids do not. Such a name is opened as `hw:CARD=PCH,DEV=0`, so it
// keeps meaning the same card. Any other ALSA name (`hw:0,0`, `null`, a plugin from
// asoundrc) is served as given, under that name.
//
// With no device configured, pcmd serves every PCM device of every card that can do what the
// mode asks (play, record), in card and device order, less the ones excluded; with none at all,
// the null device, so that clients still connect and the log says why nothing is heard.
import ALSA

/// One device pcmd serves.
public struct PlannedDevice: Sendable, Hashable {
    /// What clients see and name it by: a stable name (`PCH,0`) or the ALSA name given.
    public var name: String
    /// What alsa-lib opens for playback (and for capture, unless `captureName` is set).
    public var alsaName: String
    /// What alsa-lib opens for capture, when it is not `alsaName` (`--capture-device`).
    public var captureName: String?
    /// The card's name and the PCM device's (`HDA Intel PCH: ALC892 Analog`), or empty.
    public var description: String
    /// Whether it has playback and capture substreams; true when unknown (an ALSA name that is
    /// not a card's device), so that opening it tells.
    public var canPlay: Bool
    public var canCapture: Bool

    public init(name: String, alsaName: String, captureName: String? = nil, description: String = "",
                canPlay: Bool = true, canCapture: Bool = true) {
        self.name = name
        self.alsaName = alsaName
        self.captureName = captureName
        self.description = description
        self.canPlay = canPlay
        self.canCapture = canCapture
    }
}

/// The rule that turns the configuration and the cards present into the devices served.
public enum DevicePlan {
    /// The devices to serve.
    /// - Parameters:
    ///   - configured: `--device` values, in order (duplicates are served once).
    ///   - excluded: `--exclude-device` values: stable names, card ids or ALSA names.
    ///   - captureDevice: `--capture-device`, which pairs with the one configured device.
    ///   - cards: the sound cards present (`DeviceList.cards()`).
    ///   - mode: which directions are served; a card device with neither is skipped.
    public static func devices(configured: [String], excluded: [String], captureDevice: String?,
                               cards: [SoundCard], mode: StreamMode) -> [PlannedDevice] {
        var planned: [PlannedDevice] = []
        if configured.isEmpty {
            for card in cards {
                for pcm in card.pcmDevices where serves(pcm, mode: mode) {
                    let device = cardDevice(card, pcm)
                    let names = [device.name, card.id, device.alsaName, pcm.hardwareName()]
                    guard !names.contains(where: excluded.contains) else { continue }
                    planned.append(device)
                }
            }
            if planned.isEmpty { planned.append(PlannedDevice(name: "null", alsaName: "null", description: "no sound card")) }
        } else {
            for name in configured where !planned.contains(where: { $0.name == name }) {
                planned.append(resolve(name, cards: cards))
            }
        }
        if let captureDevice, planned.count == 1 { planned[0].captureName = captureDevice }
        return planned
    }

    /// A configured name: a card's stable name, or any other ALSA name as given.
    public static func resolve(_ name: String, cards: [SoundCard]) -> PlannedDevice {
        for card in cards {
            for pcm in card.pcmDevices where stableName(card, pcm) == name { return cardDevice(card, pcm) }
        }
        return PlannedDevice(name: name, alsaName: name)
    }

    /// `PCH,0`: the card's id and the PCM device's number.
    public static func stableName(_ card: SoundCard, _ pcm: PCMDeviceInfo) -> String { "\(card.id),\(pcm.device)" }

    private static func cardDevice(_ card: SoundCard, _ pcm: PCMDeviceInfo) -> PlannedDevice {
        let what = pcm.name.isEmpty ? card.name : "\(card.name): \(pcm.name)"
        return PlannedDevice(name: stableName(card, pcm), alsaName: "hw:CARD=\(card.id),DEV=\(pcm.device)", description: what,
                             canPlay: !pcm.playback.isEmpty, canCapture: !pcm.capture.isEmpty)
    }

    private static func serves(_ pcm: PCMDeviceInfo, mode: StreamMode) -> Bool {
        (mode.playsBack && !pcm.playback.isEmpty) || (mode.captures && !pcm.capture.isEmpty)
    }
}
