// `pcmd --list-devices`: the sound cards, their PCM devices (with the stable name pcmd serves
// each under, `PCH,0`) and subdevices per direction, and the other PCM names alsa-lib knows
// (null, default, plugins), in a form a person can read.
import ALSA

/// Renders the device list.
public enum DeviceListing {
    /// The text `pcmd --list-devices` prints.
    public static func render() -> String {
        var lines: [String] = []
        do {
            let cards = try DeviceList.cards()
            if cards.isEmpty {
                lines.append("No sound cards. pcmd would fall back to the ALSA 'null' device.")
            }
            for card in cards {
                lines.append("card \(card.index): \(card.id) [\(card.name)]  \(card.longName)")
                for pcm in card.pcmDevices {
                    let directions = [("playback", pcm.playback), ("capture", pcm.capture)]
                        .filter { !$0.1.isEmpty }
                        .map { "\($0.0) ×\($0.1.count)" }
                        .joined(separator: ", ")
                    lines.append("  \(DevicePlan.stableName(card, pcm))  \(pcm.hardwareName())  \(pcm.id) [\(pcm.name)]  \(directions)")
                }
            }
        } catch {
            lines.append("cannot list sound cards: \(error)")
        }
        do {
            let hints = try DeviceList.pcmNameHints()
            if !hints.isEmpty {
                lines.append("")
                lines.append("Other PCM names:")
                for hint in hints {
                    let directions = [hint.playback ? "playback" : nil, hint.capture ? "capture" : nil].compactMap { $0 }
                    let text = hint.description.map { $0.split(separator: "\n").joined(separator: " / ") } ?? ""
                    lines.append("  \(hint.name)  (\(directions.joined(separator: ", ")))  \(text)")
                }
            }
        } catch {
            lines.append("cannot list PCM names: \(error)")
        }
        return lines.joined(separator: "\n")
    }
}
