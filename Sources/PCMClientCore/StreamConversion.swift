// Conversion between a client's format and the device's, on the client's side of the ring
// (PipeWire's choice): the daemon's audio thread then only mixes and copies, and libsoxr never
// runs there. Playback converts into a small pending buffer and moves it into the ring as space
// allows; capture takes device frames from the ring, converts them into a pending buffer and
// hands them out. Equal formats never come here: they are a plain copy, bit-exact.
//
// Everything is allocated when the stream opens; a write or read allocates nothing.

import PCMBufferCore
import PCMDSP
import PCMResample
import PCMProtocol

/// One stream's converter and its pending output. Used by the stream's single writer or reader.
final class StreamConversion {
    private let converter: StreamConverter
    /// Converted frames not yet handed on: device layout (playback) or client layout (capture).
    private let pending: UnsafeMutableRawBufferPointer
    private let pendingFrameBytes: Int
    private var pendingStart = 0
    private var pendingFrames = 0
    private let inputFrameBytes: Int

    /// Frames per `process` call: small enough that pending output stays a few KiB.
    static let chunkFrames = 1024

    /// The conversion for a stream, or nil when client and device formats are equal.
    static func between(client: StreamFormat, device: StreamFormat, direction: StreamDirection,
                        quality: Resampler.Quality) throws(ClientCoreError) -> StreamConversion? {
        guard client != device else { return nil }
        let clientLayout = FrameLayout(format: client.sampleFormat, channels: client.channels)
        let deviceLayout = FrameLayout(format: device.sampleFormat, channels: device.channels)
        let converter: StreamConverter
        do throws(ResamplerError) {
            converter = direction == .playback
                ? try StreamConverter(from: clientLayout, rate: client.rate, to: deviceLayout, rate: device.rate,
                                      maxInputFrames: FrameCount(chunkFrames), quality: quality)
                : try StreamConverter(from: deviceLayout, rate: device.rate, to: clientLayout, rate: client.rate,
                                      maxInputFrames: FrameCount(chunkFrames), quality: quality)
        } catch {
            throw .invalidArgument("no conversion from \(client) to the device's \(device): \(error)")
        }
        return StreamConversion(converter)
    }

    private init(_ converter: consuming StreamConverter) {
        inputFrameBytes = converter.input.bytesPerFrame
        pendingFrameBytes = converter.output.bytesPerFrame
        pending = .allocate(byteCount: converter.maxOutputFrames.value * converter.output.bytesPerFrame, alignment: 16)
        self.converter = converter
    }

    deinit { pending.deallocate() }

    /// Frames the conversion holds back, in its output's frames (device frames for playback,
    /// client frames for capture): converted and not yet handed on, plus the resampler's delay.
    var heldFrames: Int { pendingFrames + Int(converter.delay.rounded(.up)) }

    /// Playback: moves pending device frames into the ring; true when none are left.
    private func flushPending(into cursor: inout SharedRingCursor) -> Bool {
        guard pendingFrames > 0 else { return true }
        let start = pendingStart * pendingFrameBytes
        let moved = cursor.write(UnsafeRawBufferPointer(rebasing: pending[start..<(start + pendingFrames * pendingFrameBytes)])).value
        pendingStart += moved
        pendingFrames -= moved
        if pendingFrames == 0 { pendingStart = 0 }
        return pendingFrames == 0
    }

    /// Playback: converts and writes client frames while the ring has room. Returns the client
    /// frames taken; the last chunk's output may wait in the pending buffer for the next call.
    func write(_ samples: UnsafeRawBufferPointer, into cursor: inout SharedRingCursor) -> Int {
        let total = samples.count / inputFrameBytes
        var taken = 0
        while flushPending(into: &cursor), taken < total {
            let count = min(Self.chunkFrames, total - taken)
            let source = UnsafeRawBufferPointer(rebasing: samples[(taken * inputFrameBytes)..<((taken + count) * inputFrameBytes)])
            pendingFrames = converter.process(source, frames: FrameCount(count), into: pending).value
            pendingStart = 0
            taken += count
        }
        return taken
    }

    /// Playback at the end of the signal: moves the resampler's tail into the ring. True once
    /// nothing is left anywhere.
    func flush(into cursor: inout SharedRingCursor) -> Bool {
        while flushPending(into: &cursor) {
            let drained = converter.drain(into: pending).value
            guard drained > 0 else { return true }
            pendingFrames = drained
            pendingStart = 0
        }
        return false
    }

    /// Capture: hands out converted frames, converting more from the ring as needed. Returns
    /// the client frames written into `destination`.
    func read(into destination: UnsafeMutableRawBufferPointer, from cursor: inout SharedRingCursor) -> Int {
        let wanted = destination.count / pendingFrameBytes
        var copied = 0
        while copied < wanted {
            if pendingFrames > 0 {
                let count = min(pendingFrames, wanted - copied)
                let start = pendingStart * pendingFrameBytes
                UnsafeMutableRawBufferPointer(rebasing: destination[(copied * pendingFrameBytes)...])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: pending[start..<(start + count * pendingFrameBytes)]))
                copied += count
                pendingStart += count
                pendingFrames -= count
                continue
            }
            let region = cursor.region(maxFrames: Self.chunkFrames)
            guard region.frames.value > 0 else { break }
            pendingFrames = converter.process(UnsafeRawBufferPointer(region.bytes), frames: region.frames, into: pending).value
            pendingStart = 0
            cursor.commit(region.frames)
        }
        return copied
    }
}
