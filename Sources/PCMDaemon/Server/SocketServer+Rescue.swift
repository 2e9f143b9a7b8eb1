// What happens to the streams of a device that goes away (unplugged, its PCI function removed,
// a driver unloaded): by default they move to the default device, or the first device still
// there, and go on playing from the frame they stopped at (PulseAudio's rescue-streams); with
// `rescue-streams = no` they are closed with `deviceUnavailable`, which their clients see. With
// nowhere to go, they wait: the device's audio thread reopens it when it comes back and they
// play on. The audio thread rings the progress eventfd when a device is lost or comes back, so
// this runs only then, never on a timer.
import Logging
import PCMProtocol

extension SocketServer {
    /// The devices that went away and have not come back.
    var lostDevices: Set<AudioDeviceID> {
        Set(engine.devices.filter { device in device.controls.contains { $0.isLost } }.map(\.id))
    }

    /// Moves (or closes) every stream of every lost device. Called when an audio thread signals.
    func rescueStreams(now: UInt64) {
        let lost = lostDevices
        if lost != lastLostDevices {
            lastLostDevices = lost
            announceDeviceListChange()
        }
        guard !lost.isEmpty else { return }
        for session in Array(sessions.values) where session.phase == .ready {
            for (id, stream) in session.streams where lost.contains(stream.device) {
                let from = stream.device
                if configuration.rescueStreams {
                    guard let (target, table) = rescueTarget(for: stream.mode, avoiding: lost) else { continue }
                    do throws(SlotError) {
                        try stream.move(to: table, device: target.id)
                        logger.notice("device lost: stream moved", metadata: [
                            "stream.id": "\(id.rawValue)", "stream.name": "\(stream.name)", "client.name": "\(session.clientName)",
                            "pcm.from": "\(from.rawValue)", "pcm.to": "\(target.id.rawValue)",
                        ])
                    } catch {
                        logger.warning("device lost: the stream could not move", metadata: [
                            "stream.id": "\(id.rawValue)", "pcm.to": "\(target.id.rawValue)", "error": "\(error)",
                        ])
                    }
                } else {
                    stream.release()
                    session.streams[id] = nil
                    session.enqueue(Envelope(.error(ErrorReply(
                        code: .deviceUnavailable, text: "device \(from.rawValue) went away; the stream is closed")), stream: id))
                    logger.notice("device lost: stream closed", metadata: [
                        "stream.id": "\(id.rawValue)", "client.name": "\(session.clientName)", "pcm.device": "\(from.rawValue)",
                    ])
                }
            }
        }
    }

    /// Where a lost device's stream goes: the default device if it is there and goes the
    /// stream's way, else the first such device; nil when there is none.
    func rescueTarget(for mode: PCMProtocol.StreamMode, avoiding lost: Set<AudioDeviceID>) -> (ServedDevice, SlotTable)? {
        let defaultID = engine.defaultDevice.id
        let candidates = engine.devices.filter { $0.id == defaultID } + engine.devices.filter { $0.id != defaultID }
        for device in candidates where !lost.contains(device.id) {
            if let table = mode == .playback ? device.playback?.slots : device.capture?.slots { return (device, table) }
        }
        return nil
    }
}
