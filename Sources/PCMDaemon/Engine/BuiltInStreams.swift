// The daemon's own diagnostic streams, so that something flows without clients: a source that
// plays a sine or a file, and a sink that writes captured audio to a WAV file. Each is an
// ordinary slot, with shared memory like any client's, and an ordinary (non-real-time) thread
// on the other end of its ring that plays the client's part through a SharedRingCursor: the
// audio thread serves one kind of stream and never opens, reads or writes a file.
#if canImport(Glibc)
import Glibc
#endif
import AudioFile
import PCMBufferCore
import PCMDSP
import Synchronization

/// A thread that keeps one slot's ring topped up (source) or emptied (sink).
public final class BuiltInStream: Sendable {
    private let thread: RealtimeThread
    private let flags = OwnerFlags()
    /// The slot the stream occupies.
    public let slot: StreamSlot

    /// Starts the built-in source `source` into a slot of `table` (the playback slots).
    /// Files are opened here, so a missing or unsuitable file is reported at startup.
    public static func source(_ source: BuiltInSource, table: SlotTable, rate: Int, deviceBufferFrames: Int) throws(DaemonError) -> BuiltInStream? {
        let layout = table.layout
        let ringFrames = ringSize(table: table, rate: rate, deviceBufferFrames: deviceBufferFrames)
        let periodFrames = deviceBufferFrames
        switch source {
        case .silence:
            return nil
        case .sine(let frequency, let amplitude):
            let generator = SineGenerator(frequency: frequency, amplitude: amplitude, rate: rate, layout: layout, chunkFrames: ringFrames)
            return try BuiltInStream(table: table, ringFrames: ringFrames, periodFrames: periodFrames, rate: rate, name: "pcmd-sine") { ring in
                let region = ring.region()
                guard region.frames.value > 0 else { return 0 }
                generator.render(into: region.bytes, frames: region.frames.value)
                ring.commit(region.frames)
                return region.frames.value
            }
        case .file(let path, let loop):
            var reader: AudioFileReader
            do {
                reader = try AudioFileReader(path: path)
            } catch {
                throw .file(path: path, reason: error.description)
            }
            guard reader.info.rate == rate, reader.info.channels == layout.channels else {
                throw .file(path: path, reason: "is \(reader.info.rate) Hz × \(reader.info.channels) channels; the device runs "
                    + "\(rate) Hz × \(layout.channels): convert it (e.g. sox) or use pcmplay, which converts")
            }
            let box = ReaderBox(reader)
            return try BuiltInStream(table: table, ringFrames: ringFrames, periodFrames: periodFrames, rate: rate, name: "pcmd-file") { ring in
                let region = ring.region()
                guard region.frames.value > 0 else { return 0 }
                let got = box.read(into: region.bytes, format: layout.format, loop: loop)
                if got > 0 { ring.commit(FrameCount(got)) }  // got ≤ region.frames
                return got < 0 ? -1 : got
            }
        }
    }

    /// Starts the built-in sink `sink` on a slot of `table` (the capture slots).
    public static func sink(_ sink: BuiltInSink, table: SlotTable, rate: Int, deviceBufferFrames: Int) throws(DaemonError) -> BuiltInStream? {
        guard case .file(let path) = sink else { return nil }
        let layout = table.layout
        let writer: AudioFileWriter
        do {
            writer = try AudioFileWriter(path: path, encoding: layout.format, rate: rate, channels: layout.channels)
        } catch {
            throw .file(path: path, reason: error.description)
        }
        let box = WriterBox(writer)
        let ringFrames = ringSize(table: table, rate: rate, deviceBufferFrames: deviceBufferFrames)
        return try BuiltInStream(table: table, ringFrames: ringFrames, periodFrames: deviceBufferFrames, rate: rate, name: "pcmd-sink", finish: { box.close() }) { ring in
            let region = ring.region()
            guard region.frames.value > 0 else { return 0 }
            guard box.write(UnsafeRawBufferPointer(region.bytes), format: layout.format) else { return -1 }
            ring.commit(region.frames)
            return region.frames.value
        }
    }

    /// The helper thread is an ordinary thread that may be descheduled for a while: its ring
    /// holds half a second, and always several device buffers, so it never runs dry first.
    private static func ringSize(table: SlotTable, rate: Int, deviceBufferFrames: Int) -> Int {
        min(table.maximumFrames, max(rate / 2, 4 * deviceBufferFrames))
    }

    /// `step` moves what it can through the ring and returns the frames moved, 0 when the ring
    /// has no room (or data), or -1 when the stream has ended.
    private init(table: SlotTable, ringFrames: Int, periodFrames: Int, rate: Int, name: String,
                 finish: @escaping @Sendable () -> Void = {}, step: @escaping @Sendable (inout SharedRingCursor) -> Int) throws(DaemonError) {
        let slot: StreamSlot
        do {
            // Sources start full (below), so they start running at once: no prefill, and the
            // first periods are not underruns.
            slot = try table.claim(ringFrames: ringFrames, rate: rate, devicePeriodFrames: min(periodFrames, ringFrames),
                                   deviceBufferFrames: periodFrames, startThreshold: 1, latencyFrames: ringFrames, initialState: .active)
        } catch {
            throw .device(name: name, reason: error.description)
        }
        self.slot = slot
        guard let memory = slot.attachedMemory else { preconditionFailure("a claimed slot has memory") }
        let context = StreamContext(step: step, finish: finish, cursor: SharedRingCursor(memory: memory), slot: slot, sleep: 0)
        context.fill()
        // Poll a few times per ring: often enough to stay ahead, rarely enough to cost nothing.
        context.sleep = UInt32(max(1000, min(20_000, ringFrames * 250_000 / rate)))
        let owner = flags
        thread = try RealtimeThread(name: name, realtimePriority: 0) {
            context.run(flags: owner)
        }
    }

    /// Stops the helper thread; a sink writes what is left and closes its file.
    public func stop() {
        flags.stop.store(true, ordering: .releasing)
        thread.join()
    }

    /// Whether a source has played its whole file (it then drains and goes quiet).
    public var hasEnded: Bool { flags.ended.load(ordering: .acquiring) }
}

/// Flags shared by the owner and the helper thread.
private final class OwnerFlags: Sendable {
    let stop = Atomic<Bool>(false)
    let ended = Atomic<Bool>(false)
}

/// What the helper thread runs.
private final class StreamContext: @unchecked Sendable {
    // Safety: used by the creating thread until the helper thread starts (pthread_create
    // orders the two), then only by the helper thread.
    let step: @Sendable (inout SharedRingCursor) -> Int
    let finish: @Sendable () -> Void
    var cursor: SharedRingCursor
    let slot: StreamSlot
    var sleep: UInt32

    init(step: @escaping @Sendable (inout SharedRingCursor) -> Int, finish: @escaping @Sendable () -> Void,
         cursor: consuming SharedRingCursor, slot: StreamSlot, sleep: UInt32) {
        self.step = step
        self.finish = finish
        self.cursor = cursor
        self.slot = slot
        self.sleep = sleep
    }

    /// Moves what can be moved now.
    func fill() {
        var moved = step(&cursor)
        while moved > 0 { moved = step(&cursor) }
    }

    func run(flags: OwnerFlags) {
        while !flags.stop.load(ordering: .acquiring) {
            var moved = step(&cursor)
            if moved < 0 {
                // The source ran out: let the mixer play what is queued, then fall silent.
                if slot.direction == .playback { slot.setState(.draining) }
                flags.ended.store(true, ordering: .releasing)
                break
            }
            while moved > 0 { moved = step(&cursor) }
            usleep(sleep)
        }
        // A sink keeps what the device already captured.
        if slot.direction == .capture { while step(&cursor) > 0 {} }
        finish()
    }
}

/// The file reader, used by one helper thread at a time.
private final class ReaderBox: @unchecked Sendable {
    // Safety: only the helper thread calls `read` (the prefill in init runs before it starts).
    private var reader: AudioFileReader
    init(_ reader: consuming AudioFileReader) { self.reader = reader }

    /// Reads up to the region's frames; rewinds at the end when looping; -1 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer, format: SampleFormat, loop: Bool) -> Int {
        do {
            var got = try reader.read(into: buffer, as: format).value
            if got == 0 && loop {
                try reader.seek(to: .zero)
                got = try reader.read(into: buffer, as: format).value
            }
            return got == 0 ? -1 : got
        } catch {
            return -1
        }
    }
}

/// The file writer, used by one helper thread at a time.
private final class WriterBox: @unchecked Sendable {
    // Safety: only the helper thread writes and closes.
    private var writer: AudioFileWriter?
    init(_ writer: consuming AudioFileWriter) { self.writer = Optional(writer) }

    func write(_ bytes: UnsafeRawBufferPointer, format: SampleFormat) -> Bool {
        (try? writer?.write(bytes, as: format)) != nil
    }

    func close() { try? writer.take()?.close() }
}
