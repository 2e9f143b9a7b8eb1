// One open stream as the client holds it: the shared memory the daemon sent (mapped after the
// header was checked against the reply and the file size), the client's end of the ring, the
// stream's eventfd, and the conversion between the client's format and the device's. Writes
// and reads happen in place in the ring, with no system call and no lock; the client sleeps only
// when the ring is full (playback) or empty (capture), on its eventfd, after telling the daemon
// it waits (pa_fdsem's rule: the daemon writes the eventfd only for a client that waits).
//
// The clock, the state and the xrun counts come from the header: reading them costs a few loads.

#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import PCMDSP
import PCMResample
import PCMProtocol
import Synchronization

/// An open playback or capture stream backed by shared memory.
///
/// One thread writes (playback) or reads (capture) at a time. ``hangUp(_:)`` and
/// ``wakeDescriptor`` may be used from any thread (the async client's I/O thread does).
// Safety: the ring, the cursor and the conversion are used by one thread at a time (the
// stream's single writer or reader, a documented rule every API here repeats); the only state
// other threads touch is the closing flag (an atomic) and the reason stored once before it
// with release ordering, and the eventfd (thread-safe system calls).
public final class ClientStream: @unchecked Sendable {
    /// The daemon's number for the stream.
    public let id: StreamID
    /// What the daemon granted: ring, start threshold and the device's sizes, in device frames.
    public let opened: StreamOpened
    /// The client's format: what ``write(_:)`` takes and ``read(into:)`` returns.
    public let format: StreamFormat
    /// The mapped memory (header, control block, ring).
    public let memory: SharedStreamMemory
    /// The stream's eventfd: readable when the daemon woke this client. The client owns it.
    public let wakeDescriptor: Int32
    private var cursor: SharedRingCursor
    private let conversion: StreamConversion?
    private let closing = Atomic<Bool>(false)
    nonisolated(unsafe) private var closeReason: ClientCoreError = .streamClosed(nil)

    /// Maps a stream from the descriptors that came with its `streamOpened`. Takes ownership of
    /// both: the memfd is closed once mapped (the mapping keeps the memory), the eventfd when
    /// the stream goes away; on error both are closed.
    ///
    /// - Throws: ``ClientCoreError/descriptors(_:)`` when the memfd's size is not the reply's;
    ///   ``ClientCoreError/sharedMemory(_:)`` when the header is not valid or not sealed;
    ///   ``ClientCoreError/protocolViolation(_:)``-free ``ClientCoreError/unexpectedReply(_:)``
    ///   when header and reply disagree; ``ClientCoreError/invalidArgument(_:)`` when no
    ///   conversion exists between the formats.
    public init(id: StreamID, opened: StreamOpened, format: StreamFormat, memoryDescriptor: Int32, wakeDescriptor: Int32,
                quality: Resampler.Quality = .high) throws(ClientCoreError) {
        defer { _ = close(memoryDescriptor) }  // mapped or refused: not needed after this
        var status = stat()
        guard fstat(memoryDescriptor, &status) == 0 else {
            _ = close(wakeDescriptor)
            throw .system(call: "fstat", errno: errno)
        }
        guard UInt64(status.st_size) == opened.memoryBytes else {
            _ = close(wakeDescriptor)
            throw .descriptors("the memfd holds \(status.st_size) bytes, the reply announced \(opened.memoryBytes)")
        }
        let memory: SharedStreamMemory
        do throws(SharedStreamError) {
            memory = try SharedStreamMemory(mapping: memoryDescriptor)
        } catch {
            _ = close(wakeDescriptor)
            throw .sharedMemory(error)
        }
        let geometry = memory.geometry
        let device = FrameLayout(format: opened.deviceFormat.sampleFormat, channels: opened.deviceFormat.channels)
        guard geometry.bufferFrames.value == opened.ring.bufferFrames, geometry.layout == device,
              geometry.rate == opened.deviceFormat.rate,
              geometry.direction == (opened.direction == .playback ? .playback : .capture)
        else {
            _ = close(wakeDescriptor)
            throw .sharedMemory(.invalidHeader(field: "geometry (differs from streamOpened)", value: UInt64(geometry.bufferFrames.value)))
        }
        do throws(ClientCoreError) {
            conversion = try StreamConversion.between(client: format, device: opened.deviceFormat, direction: geometry.direction,
                                                      quality: quality)
        } catch {
            _ = close(wakeDescriptor)
            throw error
        }
        self.id = id
        self.opened = opened
        self.format = format
        self.memory = memory
        self.wakeDescriptor = wakeDescriptor
        cursor = SharedRingCursor(memory: memory)
    }

    deinit { _ = close(wakeDescriptor) }

    /// Whether frames are converted between the client's format and the device's (false: a
    /// plain copy, bit-exact).
    public var converts: Bool { conversion != nil }

    /// The ring's size in device frames.
    public var ringFrames: Int { opened.ring.bufferFrames }

    /// Frames the client-side conversion holds back (0 without one): device frames for
    /// playback, client frames for capture. What a position computed from the ring alone does
    /// not see yet.
    public var conversionHeldFrames: Int { conversion?.heldFrames ?? 0 }

    // MARK: - In place (device layout)

    /// Lends the next contiguous region of the ring, in the *device's* layout: free space to
    /// fill (playback) or frames to take (capture), at most `maxFrames`. `body` returns how many
    /// frames it wrote or consumed, which are then committed (the daemon sees them at once).
    /// The region is empty when nothing is available.
    ///
    /// - Throws: what `body` throws; nothing is committed then.
    public func withRegion<E: Error>(maxFrames: Int = .max, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int) throws(E) -> Int {
        let region = cursor.region(maxFrames: maxFrames)
        let done = try body(region.bytes)
        let frames = min(max(done, 0), region.frames.value)
        if frames > 0 { cursor.commit(FrameCount(frames)) }
        return frames
    }

    /// Device frames that may be written (playback) or read (capture) now. Safe from any thread
    /// (as ``filledFrames``).
    ///
    /// None once the daemon reclaimed the memory (the stream closed, or the daemon stopped): the
    /// zeros it then reads are no room and no frames, so a waiter goes on to the socket, which
    /// says why, instead of finding "room" it can never write into.
    public var availableFrames: Int {
        if memory.isReclaimed { return 0 }
        return Int(memory.availableFrames(clientPosition: memory.loadClientPosition()))
    }

    /// Device frames in the ring: written and not yet played (playback), captured and not yet
    /// read (capture). Safe from any thread, while the stream's one writer or reader works: it
    /// reads the positions both sides published in the shared memory (this side's after its
    /// last commit), never the writer's cursor, which another thread must not touch.
    public var filledFrames: Int { Int(memory.filledFrames(clientPosition: memory.loadClientPosition())) }

    // MARK: - Copies (client format)

    /// Writes as many of `samples` (whole frames in ``format``) as fit now, converting when the
    /// formats differ; never blocks. Returns the client frames taken.
    ///
    /// - Throws: ``ClientCoreError/invalidArgument(_:)`` for a partial frame or a capture stream;
    ///   the stream's close reason once it is closed.
    public func write(_ samples: UnsafeRawBufferPointer) throws(ClientCoreError) -> Int {
        try checkOpen()
        guard memory.geometry.direction == .playback else { throw .invalidArgument("stream \(id) does not play") }
        guard samples.count % format.bytesPerFrame == 0 else {
            throw .invalidArgument("\(samples.count) bytes is not a whole number of \(format.bytesPerFrame)-byte frames")
        }
        guard let conversion else { return cursor.write(samples).value }
        return conversion.write(samples, into: &cursor)
    }

    /// Reads as many frames as are there and fit into `destination` (whole frames in
    /// ``format``), converting when the formats differ; never blocks. Returns the client frames
    /// read.
    public func read(into destination: UnsafeMutableRawBufferPointer) throws(ClientCoreError) -> Int {
        try checkOpen()
        guard memory.geometry.direction == .capture else { throw .invalidArgument("stream \(id) does not record") }
        guard let conversion else { return cursor.read(into: destination).value }
        return conversion.read(into: destination, from: &cursor)
    }

    /// Playback with a resampler: pushes what it still holds (the end of the signal) into the
    /// ring, as far as it fits now. Returns true once nothing is left. Call before a drain.
    public func flushConversion() -> Bool {
        conversion?.flush(into: &cursor) ?? true
    }

    // MARK: - Waiting

    /// What ``wait(forFrames:timeoutMilliseconds:alsoWatching:)`` saw.
    public enum WaitOutcome: Sendable, Equatable {
        /// The frames asked for are available.
        case ready
        /// The timeout passed first.
        case timedOut
        /// The other descriptor (the control socket) became readable first.
        case otherReadable
    }

    /// Sleeps until `frames` device frames are available (free for playback, filled for
    /// capture), the timeout passes, or `other` becomes readable. Tells the daemon it waits and
    /// at what threshold (clamped to the ring), and checks again after saying so, so a wake can
    /// never be missed for good: at worst it comes a period late, when the daemon next looks.
    ///
    /// - Throws: the stream's close reason once it was closed (``hangUp(_:)``).
    public func wait(forFrames frames: Int, timeoutMilliseconds: Int32, alsoWatching other: Int32? = nil) throws(ClientCoreError) -> WaitOutcome {
        let threshold = min(max(frames, 1), ringFrames)
        memory.publishWakeThreshold(UInt32(threshold))
        memory.publishWaiting(true)
        defer { memory.publishWaiting(false) }
        // The daemon stores its position, then loads `waiting`; this stores `waiting`, then
        // loads the position: without a full fence each could miss the other's store.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        while true {
            try checkOpen()
            if availableFrames >= threshold { return .ready }
            var entries = (pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: other ?? -1, events: Int16(POLLIN), revents: 0))
            let ready = withUnsafeMutableBytes(of: &entries) { raw in
                retryingInterrupts { poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), other == nil ? 1 : 2, timeoutMilliseconds) }
            }
            guard ready >= 0 else { throw .system(call: "poll", errno: errno) }
            if entries.0.revents != 0 {
                var value: UInt64 = 0
                _ = Glibc.read(wakeDescriptor, &value, 8)  // resets the eventfd; EAGAIN: already reset
            }
            try checkOpen()
            if availableFrames >= threshold { return .ready }
            if entries.1.revents != 0 { return .otherReadable }
            if ready == 0 { return .timedOut }
        }
    }

    /// For a client whose own poll loop watches ``wakeDescriptor`` (the async client's I/O
    /// thread): says the client waits for `frames` device frames. Returns true when they are
    /// already there, in which case nothing stays armed.
    public func armWake(forFrames frames: Int) -> Bool {
        memory.publishWakeThreshold(UInt32(min(max(frames, 1), ringFrames)))
        memory.publishWaiting(true)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // see wait(forFrames:…)
        if availableFrames >= min(max(frames, 1), ringFrames) || closedReason != nil {
            memory.publishWaiting(false)
            return true
        }
        return false
    }

    /// Undoes ``armWake(forFrames:)`` and resets the eventfd after it was readable.
    public func disarmWake() {
        memory.publishWaiting(false)
        var value: UInt64 = 0
        _ = Glibc.read(wakeDescriptor, &value, 8)  // EAGAIN: nothing pending
    }

    // MARK: - Closing

    /// Marks the stream closed with `reason` and wakes anyone waiting on it. Any thread; the
    /// first reason stays.
    public func hangUp(_ reason: ClientCoreError) {
        if !closing.load(ordering: .acquiring) {
            closeReason = reason
            closing.store(true, ordering: .releasing)
        }
        var one: UInt64 = 1
        _ = Glibc.write(wakeDescriptor, &one, 8)  // wakes a waiter; EAGAIN: already signalled
    }

    /// Why the stream is closed, or nil while it is open.
    public var closedReason: ClientCoreError? { closing.load(ordering: .acquiring) ? closeReason : nil }

    private func checkOpen() throws(ClientCoreError) {
        if closing.load(ordering: .acquiring) { throw closeReason }
    }

    // MARK: - Clock and status (no system call)

    /// What the header says now.
    public var status: ClientStreamStatus {
        let clock = memory.readClock()
        return ClientStreamStatus(
            state: memory.state(), clock: clock, underruns: memory.underruns(), overruns: memory.overruns(),
            filledFrames: filledFrames, deviceDelayFrames: Int(clamping: clock?.deviceDelay ?? 0))
    }
}

/// A stream's state, clock and counters, as read from its header.
public struct ClientStreamStatus: Hashable, Sendable {
    /// The daemon's state for the stream (nil for a value this build does not know).
    public var state: SharedStreamState?
    /// The latest clock: device frames moved since open, when, and the device's delay.
    public var clock: SharedStreamClock?
    /// Periods the daemon found the playback ring short.
    public var underruns: UInt64
    /// Periods the daemon found the capture ring full.
    public var overruns: UInt64
    /// Device frames in the ring.
    public var filledFrames: Int
    /// Device frames between the ring and the speaker (the device buffer).
    public var deviceDelayFrames: Int

    /// Playback: device frames between the next frame written and the speaker.
    public var delayFrames: Int { filledFrames + deviceDelayFrames }
}
