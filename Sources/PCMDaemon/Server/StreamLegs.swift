// The two halves a client stream can have on the socket side. A playback leg converts the
// client's frames (format, channels, rate) into the device's layout with PCMDSP's
// StreamConverter and writes them into its slot's ring; its credits guarantee the ring never
// overflows. A capture leg reads its slot's ring (the audio thread's copy of the device input),
// converts back to the client's format and hands the bytes out for sending. Both run on the
// server thread only; the audio thread sees nothing but the lock-free ring.

import PCMBufferCore
import PCMDSP
import PCMProtocol

/// Frames of one side expressed at the other side's rate.
struct RateRatio {
    /// Device frames per client frame.
    let deviceFramesPerClientFrame: Double

    init(clientRate: Int, deviceRate: Int) {
        deviceFramesPerClientFrame = Double(deviceRate) / Double(clientRate)
    }

    func clientFrames(fromDevice frames: Int) -> Int { Int((Double(frames) / deviceFramesPerClientFrame).rounded(.up)) }
    func deviceFrames(fromClient frames: Int) -> Int { Int((Double(frames) * deviceFramesPerClientFrame).rounded(.up)) }
}

/// The socket side of a playback stream.
final class PlaybackLeg {
    let slot: StreamSlot
    let table: SlotTable
    let ring: RingBuffer
    let converter: StreamConverter
    let ratio: RateRatio
    /// The client's buffer, in client frames: credits never let it hold more.
    let bufferFrames: Int
    /// The client period, in client frames: credits are granted in at least this size.
    let periodFrames: Int
    /// Converted frames that did not fit the ring yet (device layout); flushed first each tick.
    private let spill: UnsafeMutableRawBufferPointer
    private var spillFrames = 0
    /// The converter's output for one chunk.
    private let converted: UnsafeMutableRawBufferPointer
    private let clientFrameBytes: Int
    private let deviceFrameBytes: Int
    /// Credits granted and frames received since the stream opened (client frames).
    private(set) var granted = 0
    private(set) var received = 0
    /// Frames received since the stream last started prefilling.
    var receivedSincePrefill = 0
    /// Frames dropped because even the spill buffer was full (should stay 0; reported in logs).
    private(set) var dropped = 0

    /// Claims a slot and builds the conversion path.
    init(table: SlotTable, client: FrameLayout, clientRate: Int, deviceRate: Int, deviceFormat: FrameLayout,
         bufferFrames: Int, periodFrames: Int, devicePeriod: Int) throws(StreamOpenFailure) {
        ratio = RateRatio(clientRate: clientRate, deviceRate: deviceRate)
        let chunk = min(bufferFrames, 1024)
        do {
            converter = try StreamConverter(from: client, rate: clientRate, to: deviceFormat, rate: deviceRate,
                                            maxInputFrames: FrameCount(chunk))
        } catch {
            throw .unsupportedFormat("\(error)")
        }
        let ringFrames = min(ratio.deviceFrames(fromClient: bufferFrames) + converter.maxOutputFrames.value + devicePeriod,
                             table.maximumFrames)
        do {
            slot = try table.claim(bufferFrames: ringFrames, periodFrames: min(devicePeriod, ringFrames))
        } catch .noFreeSlot(let limit) {
            throw .tooManyStreams(limit: limit)
        } catch {
            throw .resources("\(error)")
        }
        slot.setState(.paused)  // prefilling: the mixer skips it until the buffer is full
        self.table = table
        ring = slot.attachedRing!
        self.bufferFrames = bufferFrames
        self.periodFrames = periodFrames
        clientFrameBytes = client.bytesPerFrame
        deviceFrameBytes = deviceFormat.bytesPerFrame
        spill = .allocate(byteCount: converter.maxOutputFrames.value * 4 * deviceFrameBytes, alignment: 16)
        converted = .allocate(byteCount: converter.maxOutputFrames.value * deviceFrameBytes, alignment: 16)
    }

    deinit {
        spill.deallocate()
        converted.deallocate()
    }

    /// Gives the slot back (waits at most about one period for the audio thread).
    func release() { table.release(slot) }

    /// Client frames the daemon holds for this stream: ring plus spill (plus the resampler's delay).
    var queuedClientFrames: Int {
        ratio.clientFrames(fromDevice: ring.readableFrames.value + spillFrames + Int(converter.delay.rounded(.up)))
    }

    /// Client frames converted and waiting in the ring or the spill: what the device will play
    /// before anything sent now. Credits keep this at the client's buffer; the resampler's delay
    /// is not part of it, or a resampled stream's ring would hold a buffer minus 12-18 ms (libsoxr
    /// releases output in blocks) and run dry at three periods.
    var convertedClientFrames: Int {
        ratio.clientFrames(fromDevice: ring.readableFrames.value + spillFrames)
    }

    /// Credits the client holds but has not used.
    var outstanding: Int { granted - received }

    /// The least free space worth a grant: half a client period, or, for a buffer of more than three
    /// periods, half the buffer but at most all but three periods of it. The client is woken when
    /// its queue is down to half its buffer (three periods at least), not every period: a 200 ms
    /// player wakes about ten times a second with 100 ms in hand. Never a whole period for small
    /// buffers: after a device period a resampled stream frees slightly less than a client period
    /// and would wait for a second one.
    var grantThreshold: Int { max((periodFrames + 1) / 2, min(bufferFrames / 2, bufferFrames - 3 * periodFrames)) }

    /// New credits to grant now (0 below ``grantThreshold``, except the first grant).
    func takeGrant() -> Int {
        let free = bufferFrames - outstanding - convertedClientFrames
        guard free > 0, free >= grantThreshold || granted == 0 else { return 0 }
        granted += free
        return free
    }

    /// Accepts `frames` client frames; returns false if they exceed the client's credits.
    func accept(_ samples: UnsafeRawBufferPointer) -> Bool {
        let frames = samples.count / clientFrameBytes
        guard frames <= outstanding else { return false }
        received += frames
        receivedSincePrefill += frames
        flushSpill()
        var offset = 0
        let chunk = converter.maxInputFrames.value
        while offset < frames {
            let count = min(chunk, frames - offset)
            let source = UnsafeRawBufferPointer(rebasing: samples[(offset * clientFrameBytes)..<((offset + count) * clientFrameBytes)])
            let produced = converter.process(source, frames: FrameCount(count), into: converted).value
            store(produced)
            offset += count
        }
        return true
    }

    /// Pushes what the resampler still holds into the ring (before a drain).
    func flushConverter() {
        while true {
            let produced = converter.drain(into: converted).value
            if produced == 0 { break }
            store(produced)
        }
    }

    /// Moves spilled frames into the ring as room appears (each tick).
    func flushSpill() {
        guard spillFrames > 0 else { return }
        let written = ring.write(UnsafeRawBufferPointer(rebasing: spill[..<(spillFrames * deviceFrameBytes)])).value
        if written > 0 {
            let left = spillFrames - written
            if left > 0 {
                spill.baseAddress!.copyMemory(from: spill.baseAddress! + written * deviceFrameBytes, byteCount: left * deviceFrameBytes)
            }
            spillFrames = left
        }
    }

    /// Resets the converter for a fresh start (after a drain), keeping the slot.
    func restart() {
        converter.reset()
        receivedSincePrefill = 0
    }

    private func store(_ frames: Int) {
        guard frames > 0 else { return }
        var written = 0
        if spillFrames == 0 {
            written = ring.write(UnsafeRawBufferPointer(rebasing: converted[..<(frames * deviceFrameBytes)])).value
        }
        let rest = frames - written
        guard rest > 0 else { return }
        let room = spill.count / deviceFrameBytes - spillFrames
        let kept = min(rest, room)
        (spill.baseAddress! + spillFrames * deviceFrameBytes)
            .copyMemory(from: converted.baseAddress! + written * deviceFrameBytes, byteCount: kept * deviceFrameBytes)
        spillFrames += kept
        dropped += rest - kept
    }
}

/// The socket side of a capture stream.
final class CaptureLeg {
    let slot: StreamSlot
    let table: SlotTable
    let ring: RingBuffer
    let converter: StreamConverter
    let ratio: RateRatio
    let bufferFrames: Int
    private let deviceFrameBytes: Int
    private let clientFrameBytes: Int
    /// One chunk of device frames read from the ring (contiguous even across the ring's wrap).
    private let input: UnsafeMutableRawBufferPointer
    /// The converter's output for one chunk.
    private let output: UnsafeMutableRawBufferPointer

    init(table: SlotTable, client: FrameLayout, clientRate: Int, deviceRate: Int, deviceFormat: FrameLayout,
         bufferFrames: Int, devicePeriod: Int) throws(StreamOpenFailure) {
        ratio = RateRatio(clientRate: clientRate, deviceRate: deviceRate)
        let chunk = max(devicePeriod, 256)
        do {
            converter = try StreamConverter(from: deviceFormat, rate: deviceRate, to: client, rate: clientRate,
                                            maxInputFrames: FrameCount(chunk))
        } catch {
            throw .unsupportedFormat("\(error)")
        }
        let ringFrames = min(max(ratio.deviceFrames(fromClient: bufferFrames), 2 * devicePeriod) + devicePeriod, table.maximumFrames)
        do {
            slot = try table.claim(bufferFrames: ringFrames, periodFrames: min(devicePeriod, ringFrames))
        } catch .noFreeSlot(let limit) {
            throw .tooManyStreams(limit: limit)
        } catch {
            throw .resources("\(error)")
        }
        self.table = table
        ring = slot.attachedRing!
        self.bufferFrames = bufferFrames
        deviceFrameBytes = deviceFormat.bytesPerFrame
        clientFrameBytes = client.bytesPerFrame
        input = .allocate(byteCount: chunk * deviceFrameBytes, alignment: 16)
        output = .allocate(byteCount: converter.maxOutputFrames.value * clientFrameBytes, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    func release() { table.release(slot) }

    /// Reads up to one chunk from the ring, converts it, and gives the client-format bytes to
    /// `deliver`. Returns false when the ring had nothing to read.
    func pump(_ deliver: (UnsafeRawBufferPointer) -> Void) -> Bool {
        let chunk = converter.maxInputFrames.value
        let frames = min(ring.readableFrames.value, chunk)
        guard frames > 0 else { return false }
        let got = ring.read(into: UnsafeMutableRawBufferPointer(rebasing: input[..<(frames * deviceFrameBytes)])).value
        let produced = converter.process(UnsafeRawBufferPointer(rebasing: input[..<(got * deviceFrameBytes)]),
                                         frames: FrameCount(got), into: output).value
        if produced > 0 { deliver(UnsafeRawBufferPointer(rebasing: output[..<(produced * clientFrameBytes)])) }
        return true
    }

    /// Client frames recorded but not yet sent.
    var queuedClientFrames: Int { ratio.clientFrames(fromDevice: ring.readableFrames.value) }
}

/// Why a stream could not be opened, mapped to the protocol's error codes by the session.
enum StreamOpenFailure: Error {
    /// The request named a device other than the default (0) or the one this daemon drives.
    case noSuchDevice(AudioDeviceID)
    case tooManyStreams(limit: Int)
    case unsupportedFormat(String)
    case resources(String)
}
