// How pcmctl, the tools and the ALSA plugin find the device a user named (`device(named:)`), and
// what their errors list when the name matches none (`servedSummary`).

import PCMProtocol
import Testing

@Suite("Device names")
struct DeviceNamingTests {
    /// A device whose name is another device's id: the name must win.
    static func device(_ id: UInt32, _ name: String) -> DeviceInfo {
        var info = SampleMessages.otherDevice
        info.id = AudioDeviceID(id)
        info.name = name
        return info
    }

    @Test("a name finds its device; a number finds the device with that id; a name wins over an id")
    func lookup() {
        let devices = [Self.device(1, "PCH,0"), Self.device(2, "1"), Self.device(3, "Loopback,0")]
        #expect(devices.device(named: "Loopback,0")?.id == AudioDeviceID(3))
        #expect(devices.device(named: "3")?.id == AudioDeviceID(3))
        #expect(devices.device(named: "1")?.id == AudioDeviceID(2), "the device named 1, not device 1")
    }

    @Test("no match: names that differ in case, spacing or card number, unknown ids, an empty name, an empty list",
          arguments: ["pch,0", "PCH,0 ", " PCH,0", "PCH,1", "PCH", "9", "-1", "4294967296", ""])
    func noMatch(text: String) {
        #expect([Self.device(1, "PCH,0")].device(named: text) == nil)
        #expect([DeviceInfo]().device(named: text) == nil)
    }

    @Test("the summary lists ids and escaped names, or says none")
    func summary() {
        #expect([Self.device(1, "PCH,0"), Self.device(2, "evil\u{1B}[2J")].servedSummary == "1 PCH,0, 2 evil\\u{1B}[2J")
        #expect([DeviceInfo]().servedSummary == "none")
    }
}
