// libFuzzer target: the shared-memory words a client controls, against the daemon's validation.
// Two halves, chosen by bit 7 of the first byte.
//
// The audio thread's half (bit 7 clear): real slot tables with real sealed memory, mixed and
// fanned out by the real PlaybackProcessor and CaptureProcessor over alsa-lib's `null` PCM (no
// sound card). The input claims one or two slots per direction with fuzzed ring sizes and start
// thresholds, then is a list of operations: the client stores any position (absolute, or near
// the daemon's), wake threshold and waiting word; the owner changes a slot's state or volume; a
// playback or capture period runs. After every period, for every slot:
// - a position that claims more than the ring is a violation: the slot is flagged, stopped in
//   the header and moves nothing, then or ever after;
// - otherwise the daemon moves at most the frames the client made available and the period
//   holds (playback never reads past the client's W; capture writes a whole period only into
//   room the client left), and publishes exactly its own position;
// - the client is woken exactly when it says it waits and its threshold (clamped to the ring)
//   is met, never otherwise;
// - a lone stream at unity gain is copied bit-exactly from its ring (frames R...R+n, then
//   silence), and what capture writes into a ring is exactly what the device delivered.
//
// The client's half (bit 7 set): a memfd of fuzzed size (odd, truncated, oversized), holding a
// real stream header with fuzzed bytes, sealed or not, mapped with `SharedStreamMemory(mapping:)`
// as a client maps what the daemon sent. A mapping that is accepted must lie inside the file,
// and a client cursor over it must keep every region inside the ring whatever daemon position
// is scribbled into the header.

import ALSA
import CLinux
import CPCMShm
import FuzzSupport
@testable import PCMBufferCore
@testable import PCMDaemon
import PCMDSP
#if canImport(Glibc)
import Glibc
#endif

/// A null PCM set up as the daemon sets up a device, with its processor.
final class NullDevice {
    var pcm: PCM
    let hardware: HardwareConfiguration
    let slots: SlotTable
    let processor: any PeriodProcessor

    init(_ direction: PCM.Direction, allocator: SubstreamAllocator, card: Int) throws {
        pcm = try PCM(device: "null", direction: direction)
        hardware = try pcm.configureHardware(HardwareRequest(
            format: .s16, channels: 2, rate: 48_000, maxBufferFrames: 512, bufferFrames: 512, periodFrames: 128))
        _ = try pcm.configureSoftware()
        let kind: StreamDirection = direction == .playback ? .playback : .capture
        let substream = SubstreamID(card: card, device: 0, direction: kind, subdevice: 0)
        try allocator.addPCM(card: card, device: 0, playbackSubstreams: kind == .playback ? 1 : 0, captureSubstreams: kind == .capture ? 1 : 0)
        _ = try allocator.preallocate(substream: substream, type: .continuous, size: 65_536, max: 65_536)
        try allocator.open(substream: substream)
        _ = try allocator.allocate(substream: substream, bytes: ShmWorld.layout.bytes(for: hardware.bufferFrames))
        guard let staging = try allocator.runtimeBuffer(substream: substream) else { fatalError("no staging buffer") }
        slots = try SlotTable(allocator: allocator, card: card + 100, direction: kind, count: 2, layout: ShmWorld.layout, maximumFrames: 4096)
        let control = try DeviceControl(stream: direction == .playback ? .playback : .capture, deviceName: "null")
        if direction == .playback {
            processor = PlaybackProcessor(slots: slots, control: control)
        } else {
            processor = CaptureProcessor(slots: slots, control: control)
        }
        processor.deviceOpened(hardware, staging: staging)
        try pcm.start()
    }

    /// Runs one period of at most `frames` frames; returns the device's bytes after the
    /// processor ran (playback: what was mixed; capture: what was captured), or nil if the null
    /// device did not give a region.
    func period(maxFrames: Int) -> [UInt8]? {
        for _ in 0..<2 {
            guard case .ok = pcm.availUpdate() else {
                try? pcm.prepare()
                try? pcm.start()
                continue
            }
            var bytes: [UInt8]?
            let result = pcm.mmapTransfer(maxFrames: FrameCount(maxFrames)) { region in
                processor.process(region, deviceQueued: 0)
                bytes = Array(UnsafeRawBufferPointer(region.interleavedBytes))
                return region.frames
            }
            if case .ok = result { return bytes }
            try? pcm.prepare()
            try? pcm.start()
        }
        return nil
    }
}

/// The devices and tables, made once and shared by every input (each input frees what it claims).
final class ShmWorld {
    static let layout = FrameLayout(format: .s16, channels: 2)
    let allocator = SubstreamAllocator()
    let playback: NullDevice
    let capture: NullDevice
    /// The first page of a real stream's memory (header), the client half's starting point.
    let headerTemplate: [UInt8]

    init() throws {
        playback = try NullDevice(.playback, allocator: allocator, card: 0)
        capture = try NullDevice(.capture, allocator: allocator, card: 1)
        let slot = try playback.slots.claim(ringFrames: 1024, rate: 48_000, devicePeriodFrames: 128, deviceBufferFrames: 512,
                                            startThreshold: 1, latencyFrames: 1024, initialState: .active)
        guard let memory = slot.attachedMemory else { fatalError("a claimed slot has no memory") }
        headerTemplate = Array(UnsafeRawBufferPointer(start: memory.base, count: PageSize.bytes))
        playback.slots.release(slot)
    }
}

// Safety: libFuzzer runs every input on the main thread, one after another; nothing else
// touches the world.
nonisolated(unsafe) let world: ShmWorld = {
    do {
        return try ShmWorld()
    } catch {
        fatalError("the shared-memory fuzzer's devices could not be built: \(error)")
    }
}()

func fuzzShm(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    if mode & 0x80 != 0 {
        fuzzMapping(&input, flags: mode)
    } else {
        fuzzPeriods(&input, flags: mode)
    }
    return 0
}

// MARK: - The audio thread's half

/// A claimed slot and what the harness expects of it.
struct Claimed {
    let slot: StreamSlot
    let memory: SharedStreamMemory
    let device: NullDevice
    var violated = false
    var buffer: UInt64 { UInt64(memory.geometry.bufferFrames.value) }
}

func fuzzPeriods(_ input: inout FuzzInput, flags: UInt8) {
    var claimed: [Claimed] = []
    for (device, count) in [(world.playback, 1 + Int(flags & 1)), (world.capture, 1 + Int(flags >> 1 & 1))] {
        for _ in 0..<count {
            let ring = 1 + Int(input.integer(UInt16.self)) % 4096
            let threshold = Int(input.integer(UInt16.self))
            let initial: SlotState = device === world.playback && flags & 4 == 0 ? .prefilling : .active
            do {
                let slot = try device.slots.claim(ringFrames: ring, rate: 48_000, devicePeriodFrames: 128, deviceBufferFrames: 512,
                                                  startThreshold: threshold, latencyFrames: threshold, initialState: initial)
                guard let memory = slot.attachedMemory else { fatalError("a claimed slot has no memory") }
                claimed.append(Claimed(slot: slot, memory: memory, device: device))
            } catch {
                fatalError("claiming a \(ring)-frame ring failed: \(error)")
            }
        }
    }
    // The playback rings hold a pattern that names each frame's ring index, so the output shows
    // which frames the daemon read.
    for entry in claimed where entry.device === world.playback {
        let ring = entry.memory.ring
        for frame in 0..<Int(entry.buffer) {
            let value = UInt16(truncatingIfNeeded: frame &+ 1)
            ring.storeBytes(of: value, toByteOffset: frame * 4, as: UInt16.self)
            ring.storeBytes(of: ~value, toByteOffset: frame * 4 + 2, as: UInt16.self)
        }
    }
    var operations = 0
    while !input.isAtEnd, operations < 64 {
        operations += 1
        let operation = input.byte()
        let index = Int(operation >> 3) % claimed.count
        switch operation & 7 {
        case 0, 1:
            // The client's three words, any values.
            let entry = claimed[index]
            let position = operation & 1 != 0
                ? input.integer(UInt64.self)
                : entry.slot.periodPosition &+ UInt64(bitPattern: Int64(Int32(bitPattern: input.integer(UInt32.self))))
            pcm_shm_store_client_position(entry.memory.control, position)
            pcm_shm_store_wake_threshold(entry.memory.control, input.integer(UInt32.self))
            pcm_shm_store_waiting(entry.memory.control, UInt32(input.byte() % 3))
        case 2:
            // The owner's requests (ServerStream drives these).
            let states: [SlotState] = [.prefilling, .active, .paused, .draining]
            claimed[index].slot.setState(states[Int(input.byte()) % states.count])
        case 3:
            let choice = input.byte()
            claimed[index].slot.volume = StreamVolume(gain: Float(choice % 5) / 2, muted: choice & 0x80 != 0)
        case 4, 5:
            runPlayback(&claimed, maxFrames: 1 + Int(input.byte()) * 2)
        default:
            runCapture(&claimed, maxFrames: 1 + Int(input.byte()) * 2)
        }
    }
    for entry in claimed { entry.device.slots.release(entry.slot) }
    invariant(world.playback.slots.activeCount == 0 && world.capture.slots.activeCount == 0, "slots still in use after release")
}

/// Whether the slot's eventfd was written since the last look (and resets it).
func takeWake(_ slot: StreamSlot) -> Bool {
    var value: UInt64 = 0
    return read(slot.wakeDescriptor, &value, 8) == 8
}

/// The wake threshold as the daemon applies it: clamped to `1...buffer`.
func clampedThreshold(_ memory: SharedStreamMemory, buffer: UInt64) -> UInt64 {
    min(max(UInt64(pcm_shm_load_wake_threshold(memory.control)), 1), buffer)
}

func runPlayback(_ claimed: inout [Claimed], maxFrames: Int) {
    let mine = claimed.indices.filter { claimed[$0].device === world.playback }
    let before = mine.map { (position: claimed[$0].slot.periodPosition, state: claimed[$0].slot.state,
                             client: pcm_shm_load_client_position(claimed[$0].memory.control)) }
    for index in mine { _ = takeWake(claimed[index].slot) }
    guard let output = world.playback.period(maxFrames: maxFrames) else { return }
    let frames = UInt64(output.count / 4)
    var contributors: [(index: Int, from: UInt64, taken: UInt64)] = []
    for (at, index) in mine.enumerated() {
        let entry = claimed[index]
        let (p0, state0, client) = before[at]
        let p1 = entry.slot.periodPosition
        let taken = p1 &- p0
        let woken = takeWake(entry.slot)
        invariant(entry.memory.daemonPosition() == p1, "the header's R is not the daemon's own")
        if entry.violated {
            invariant(taken == 0 && entry.slot.violated && !woken, "a violated playback slot moved or woke")
            continue
        }
        switch SharedRingValidation.readable(clientProduced: client, daemonConsumed: p0, bufferFrames: entry.buffer) {
        case .violation:
            invariant(entry.slot.violated && taken == 0 && !woken, "W \(client) with R \(p0) in a \(entry.buffer)-frame ring was not a violation")
            invariant(entry.memory.state() == .stopped, "a violated slot is not stopped in the header")
            claimed[index].violated = true
        case .frames(let filled):
            invariant(!entry.slot.violated, "a consistent W \(client) with R \(p0) was called a violation")
            invariant(taken <= filled && taken <= frames, "read \(taken) frames with \(filled) written and a \(frames)-frame period")
            if state0 == .paused || state0 == .drained { invariant(taken == 0, "a \(state0) slot was read") }
            let waiting = pcm_shm_load_waiting(entry.memory.control) != 0
            let free = entry.buffer - (filled - taken)
            let due = free >= clampedThreshold(entry.memory, buffer: entry.buffer) || state0 == .drained
            invariant(woken == (waiting && due), "woken \(woken), waiting \(waiting), \(free) free, state \(state0)")
            if taken > 0 { contributors.append((index, p0, taken)) }
        }
    }
    // The copy path: one stream at unity gain, nothing else playing.
    if contributors.isEmpty {
        invariant(output.allSatisfy { $0 == 0 }, "silence expected with no stream playing")
    } else if contributors.count == 1, let only = contributors.first, claimed[only.index].slot.volume == .unity,
              (world.playback.processor as? PlaybackProcessor)?.masterVolume == .unity {
        let entry = claimed[only.index]
        output.withUnsafeBytes { bytes in
            for frame in 0..<Int(frames) {
                let sample = bytes.loadUnaligned(fromByteOffset: frame * 4, as: UInt16.self)
                let expected = UInt64(frame) < only.taken ? UInt16(truncatingIfNeeded: (only.from &+ UInt64(frame)) % entry.buffer &+ 1) : 0
                invariant(sample == expected, "frame \(frame) of the period is \(sample), expected \(expected)")
            }
        }
    }
}

func runCapture(_ claimed: inout [Claimed], maxFrames: Int) {
    let mine = claimed.indices.filter { claimed[$0].device === world.capture }
    let before = mine.map { (position: claimed[$0].slot.periodPosition, state: claimed[$0].slot.state,
                             client: pcm_shm_load_client_position(claimed[$0].memory.control)) }
    for index in mine { _ = takeWake(claimed[index].slot) }
    guard let input = world.capture.period(maxFrames: maxFrames) else { return }
    let frames = UInt64(input.count / 4)
    for (at, index) in mine.enumerated() {
        let entry = claimed[index]
        let (p0, state0, client) = before[at]
        let p1 = entry.slot.periodPosition
        let written = p1 &- p0
        let woken = takeWake(entry.slot)
        invariant(entry.memory.daemonPosition() == p1, "the header's W is not the daemon's own")
        if entry.violated {
            invariant(written == 0 && entry.slot.violated && !woken, "a violated capture slot moved or woke")
            continue
        }
        switch SharedRingValidation.writable(clientConsumed: client, daemonProduced: p0, bufferFrames: entry.buffer) {
        case .violation:
            invariant(entry.slot.violated && written == 0 && !woken, "R \(client) with W \(p0) in a \(entry.buffer)-frame ring was not a violation")
            invariant(entry.memory.state() == .stopped, "a violated slot is not stopped in the header")
            claimed[index].violated = true
        case .frames(let free):
            invariant(!entry.slot.violated, "a consistent R \(client) with W \(p0) was called a violation")
            let expected: UInt64 = state0 == .active && free >= frames ? frames : 0
            invariant(written == expected, "wrote \(written) frames with \(free) free, a \(frames)-frame period, state \(state0)")
            let waiting = pcm_shm_load_waiting(entry.memory.control) != 0
            let filled = entry.buffer - free + written
            invariant(woken == (waiting && filled >= clampedThreshold(entry.memory, buffer: entry.buffer)),
                      "woken \(woken), waiting \(waiting), \(filled) filled")
            // What was written is what the device delivered, frame for frame.
            for frame in 0..<Int(written) {
                let ringByte = entry.memory.ringAddress(ofFrame: p0 &+ UInt64(frame))
                for byte in 0..<4 {
                    invariant(ringByte.load(fromByteOffset: byte, as: UInt8.self) == input[frame * 4 + byte], "captured frame \(frame) differs")
                }
            }
        }
    }
}

// MARK: - The client's half

func fuzzMapping(_ input: inout FuzzInput, flags: UInt8) {
    let size = Int(input.integer(UInt32.self) % (3 * UInt32(PageSize.bytes) + 1)) + (flags & 0x40 != 0 ? 64 * 1024 : 0)
    var header = world.headerTemplate
    // Fuzzed bytes over the real header: (offset in the page, value) pairs, 8-byte wide or single.
    for _ in 0..<Int(input.byte() % 16) {
        let offset = Int(input.integer(UInt16.self)) % header.count
        if input.byte() & 1 != 0, offset + 8 <= header.count {
            let value = input.integer(UInt64.self)
            for byte in 0..<8 { header[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte))) }
        } else {
            header[offset] = input.byte()
        }
    }
    let fd = clinux_memfd_create("fuzz-shm", 1)
    invariant(fd >= 0, "memfd_create failed")
    defer { close(fd) }
    invariant(ftruncate(fd, off_t(size)) == 0, "ftruncate failed")
    _ = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, min(size, $0.count), 0) }
    var seals: UInt32 = 0
    if flags & 1 != 0 { seals |= UInt32(CLINUX_SEAL_SHRINK) }
    if flags & 2 != 0 { seals |= UInt32(CLINUX_SEAL_GROW) }
    if flags & 4 != 0 { seals |= UInt32(CLINUX_SEAL_SEAL) }
    _ = clinux_add_seals(fd, seals)
    let memory: SharedStreamMemory
    do throws(SharedStreamError) {
        memory = try SharedStreamMemory(mapping: fd)
    } catch {
        _ = error.description
        return
    }
    let geometry = memory.geometry
    let regions = memory.regions
    invariant(flags & 1 != 0 && flags & 4 != 0, "memory that can still shrink was mapped")
    invariant(regions.totalBytes <= size, "regions of \(regions.totalBytes) bytes accepted in a \(size)-byte file")
    invariant(regions.ringOffset >= 0 && regions.ringOffset + regions.ringBytes <= regions.totalBytes, "the ring leaves the mapping")
    invariant(geometry.bufferFrames.value > 0, "a ring of no frames was accepted")
    invariant(regions.ringBytes >= geometry.bufferFrames.value * geometry.layout.bytesPerFrame, "the ring is smaller than its frames")
    let ring = memory.ring
    let ringStart = UnsafeRawPointer(ring.baseAddress!)
    let ringEnd = ringStart + geometry.bufferFrames.value * geometry.layout.bytesPerFrame
    for position in [0, 1, UInt64(geometry.bufferFrames.value) &- 1, .max, input.integer(UInt64.self)] {
        let address = UnsafeRawPointer(memory.ringAddress(ofFrame: position))
        invariant(address >= ringStart && address + geometry.layout.bytesPerFrame <= ringEnd, "frame \(position) lies outside the ring")
    }
    // A client cursor over it, with a daemon position scribbled into the header.
    var cursor = SharedRingCursor(memory: memory)
    for _ in 0..<3 {
        memory.publishDaemonPosition(input.integer(UInt64.self))
        invariant(cursor.filledFrames <= UInt64(geometry.bufferFrames.value), "the cursor sees more than the ring")
        let region = cursor.region(maxFrames: Int(input.integer(UInt16.self)))
        if region.frames.value > 0 {
            let start = UnsafeRawPointer(region.bytes.baseAddress!)
            invariant(start >= ringStart && start + region.bytes.count <= ringEnd, "a cursor region leaves the ring")
            invariant(region.bytes.count == region.frames.value * geometry.layout.bytesPerFrame, "a region's bytes and frames disagree")
            cursor.commit(region.frames)
        }
    }
}
