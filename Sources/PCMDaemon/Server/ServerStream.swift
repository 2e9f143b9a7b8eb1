// One client stream on the socket side (protocol version 2): the slot whose shared memory the
// client maps, the protocol's state machine as requests drive it, and the two rare events the
// audio thread reports through the progress eventfd: a completed drain and a violation. Audio,
// the clock and xrun counts never pass through here: they live in the shared memory.

import PCMBufferCore
import PCMDSP
import PCMProtocol

/// A client's stream as the server sees it. Confined to the server thread.
final class ServerStream {
    let id: StreamID
    let mode: PCMProtocol.StreamMode
    /// The client's format: only for listings; the client converts to the device's itself.
    let format: PCMProtocol.StreamFormat
    let name: String
    /// The device it plays to or records from now.
    private(set) var device: AudioDeviceID
    /// The slot the stream plays in now: its home slot, or after `pcmctl move` a slot of the
    /// other device's table that adopted it.
    private(set) var slot: StreamSlot
    private var table: SlotTable
    /// The slot that owns the stream's memory and eventfd, in the table of the device it opened
    /// on; `lent` while the stream plays elsewhere.
    private let homeSlot: StreamSlot
    private let homeTable: SlotTable
    /// The ring's size and the start threshold, in device frames.
    let ringFrames: Int
    let startThreshold: Int
    /// The device's buffer in device frames: audio mixed but not yet heard.
    let deviceBufferFrames: Int
    /// The device's rate, for the latency in listings.
    let deviceRate: Int
    /// The tag of the `drain` to answer once the audio thread reports it drained.
    private var drainTag: UInt32?
    var volume = Volume.unity
    private var released = false

    init(id: StreamID, request: OpenStream, device: AudioDeviceID, slot: StreamSlot, table: SlotTable, ringFrames: Int,
         startThreshold: Int, deviceBufferFrames: Int, deviceRate: Int) {
        self.id = id
        self.device = device
        mode = request.direction
        format = request.format
        name = request.name
        self.slot = slot
        self.table = table
        homeSlot = slot
        homeTable = table
        self.ringFrames = ringFrames
        self.startThreshold = startThreshold
        self.deviceBufferFrames = deviceBufferFrames
        self.deviceRate = deviceRate
    }

    /// Detaches the audio thread, then gives the memory back (punched) and closes the eventfd.
    /// Returns the allocator's complaint, if any, for the log. Releasing twice is harmless.
    @discardableResult
    func release() -> SlotError? {
        guard !released else { return nil }
        released = true
        if slot !== homeSlot { table.giveBack(slot) }
        return homeTable.release(homeSlot)
    }

    /// Moves the stream to `target`, the slot table of device `newDevice`, without the client
    /// noticing: the same memory, ring position, clock and state, so the other device continues
    /// at the frame this one stopped at, with nothing repeated or skipped. The old device's audio
    /// thread lets go first (at most a period). Throws `noFreeSlot` when the target is full; the
    /// stream then keeps playing where it was.
    func move(to target: SlotTable, device newDevice: AudioDeviceID) throws(SlotError) {
        guard target !== table else { return }
        let source = slot
        let sourceTable = table
        let state = sourceTable.lend(source)
        let seated: StreamSlot
        do throws(SlotError) {
            seated = try target.adopt(from: source, state: state, into: target === homeTable ? homeSlot : nil)
        } catch {
            sourceTable.unlend(source, state: state)
            throw error
        }
        if source !== homeSlot { sourceTable.giveBack(source) }
        slot = seated
        table = target
        device = newDevice
    }

    /// The state as listings show it.
    var state: StreamState {
        switch slot.state {
        case .prefilling: .prefilling
        case .paused: .paused
        case .draining, .drained: .draining
        default: .running
        }
    }

    // MARK: - Requests

    func pause() {
        guard slot.state != .paused else { return }
        slot.setState(.paused)
    }

    /// Runs the stream (after pause, or before a playback ring reached its start threshold).
    func resume() {
        let current = slot.state
        guard current == .paused || current == .prefilling else { return }
        slot.setState(.active)
    }

    /// Plays out what the client wrote before the drain; answers `drained` with `tag` once the
    /// audio thread reached it.
    func drain(tag: UInt32) -> Bool {
        guard mode == .playback, drainTag == nil else { return false }
        slot.setState(.draining)
        drainTag = tag
        return true
    }

    func setVolume(_ newVolume: Volume) {
        volume = newVolume
        slot.volume = StreamVolume(gain: newVolume.level, muted: newVolume.muted)
    }

    // MARK: - Rare events

    /// What the audio thread reported for this stream, looked at when it rings the progress
    /// eventfd (a drain done, a violation): never once per period.
    enum Event {
        /// The drain with this tag completed; the stream is prefilling again.
        case drained(tag: UInt32)
        /// The client wrote an impossible position: the stream is silent and must end.
        case violation
    }

    func takeEvent() -> Event? {
        if slot.violated { return .violation }
        guard slot.state == .drained, let tag = drainTag else { return nil }
        drainTag = nil
        // The ring is empty up to the drain target: start afresh, waiting for a full ring.
        slot.setState(.prefilling)
        return .drained(tag: tag)
    }

    // MARK: - Listings

    /// Device frames played out (playback: mixed minus the device buffer) or recorded (capture).
    var frames: UInt64 {
        let moved = Int(slot.position)
        return UInt64(mode == .playback ? max(0, moved - deviceBufferFrames) : moved)
    }

    var xrunCount: UInt32 { UInt32(clamping: slot.underruns + slot.overruns) }

    /// The ring plus the device buffer, in microseconds: the most this stream can add.
    var latencyMicroseconds: UInt32 {
        UInt32(clamping: (ringFrames + deviceBufferFrames) * 1_000_000 / max(deviceRate, 1))
    }

    /// The ring, for listings: its size and the device period, in device frames.
    var buffer: BufferGeometry {
        BufferGeometry(bufferFrames: ringFrames, periodFrames: max(1, min(slot.attachedMemory?.geometry.devicePeriodFrames.value ?? 1, ringFrames)))
    }
}
