// One open stream on a connection: writing playback audio into the stream's shared ring (in
// place, converted by PCMClientCore when the formats differ), waiting for space through the I/O
// thread, which watches the stream's eventfd; reading captured audio as an async sequence; the
// stream's controls; and its clock, read from the shared header with no system call.

import PCMBufferCore
import PCMClientCore
import PCMProtocol
import Synchronization

/// A playback, capture or duplex stream opened with ``PCMConnection``.
///
/// Audio is raw interleaved frames in the stream's ``format`` (little-endian). The stream closes
/// on ``close()`` or when the last reference to it goes away.
public final class PCMStream: Sendable {
    /// The connection the stream lives on (kept alive by the stream).
    public let connection: PCMConnection
    /// The daemon's number for the stream (as shown by `pcmctl`).
    public let id: StreamID
    /// The client's format: what ``write(_:)`` takes and ``captured`` yields.
    public let format: StreamFormat
    /// What the daemon granted: the ring and the device's sizes (device frames), and the
    /// device's format.
    public let granted: StreamOpened
    /// The shared ring, its eventfd and the conversion (PCMClientCore).
    public let shared: ClientStream

    init(connection: PCMConnection, id: StreamID, format: StreamFormat, opened: StreamOpened, shared: ClientStream) {
        self.connection = connection
        self.id = id
        self.format = format
        self.granted = opened
        self.shared = shared
    }

    deinit {
        // The record goes in every case (nothing of a dropped stream is kept); the daemon is
        // told only if the stream was still open there.
        let open = core.state.withLock { state in
            guard var record = state.streams.removeValue(forKey: id) else { return false }
            let wasOpen = record.closed == nil
            record.close(.streamClosed(nil))
            return wasOpen
        }
        if open { core.send(unawaited: .closeStream, stream: id) }
    }

    private var core: ConnectionCore { connection.core }

    /// The direction the stream was opened with.
    public var direction: StreamMode { granted.direction }

    // MARK: - Playback

    /// Writes playback audio into the stream's ring, waiting for space whenever it is full.
    /// Returns once every frame is in the ring (not played: see ``drain()``).
    ///
    /// - Parameter samples: Whole frames in ``format``.
    /// - Throws: ``PCMClientError/invalidArgument(_:)`` for a partial frame or a capture-only
    ///   stream; ``PCMClientError/cancelled`` if the task is cancelled while waiting (the frames
    ///   before that point were written); ``PCMClientError/streamClosed(_:)``.
    public func write(_ samples: [UInt8]) async throws(PCMClientError) {
        guard direction.plays else { throw .invalidArgument("stream \(id) does not play") }
        let bytesPerFrame = format.bytesPerFrame
        guard samples.count % bytesPerFrame == 0 else {
            throw .invalidArgument("\(samples.count) bytes is not a whole number of \(bytesPerFrame)-byte frames")
        }
        var offset = 0
        while offset < samples.count {
            let start = offset
            let written: Result<Int, ClientCoreError> = samples.withUnsafeBytes { raw in
                Result { () throws(ClientCoreError) in try shared.write(UnsafeRawBufferPointer(rebasing: raw[start...])) }
            }
            let frames: Int
            do throws(ClientCoreError) {
                frames = try written.get()
            } catch {
                throw closedReason ?? PCMClientError(error)
            }
            offset += frames * bytesPerFrame
            core.state.withLock { $0.streams[id]?.framesWritten += UInt64(frames) }
            if frames == 0 { try await waitForRing(frames: max(1, shared.ringFrames / 2)) }
        }
    }

    /// Waits until the ring has `frames` device frames free (playback) or filled (capture),
    /// the I/O thread resuming this task when the daemon rings the stream's eventfd.
    private func waitForRing(frames: Int) async throws(PCMClientError) {
        let woken: Result<Void, PCMClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let armed: Bool = core.state.withLock { state in
                    if let closed = state.streams[id]?.closed ?? state.closed {
                        continuation.resume(returning: .failure(closed))
                        return false
                    }
                    guard state.streams[id] != nil else {
                        continuation.resume(returning: .failure(.streamClosed(nil)))
                        return false
                    }
                    if Task.isCancelled {
                        continuation.resume(returning: .failure(.cancelled))
                        return false
                    }
                    if state.streams[id]!.waiter != nil {
                        continuation.resume(returning: .failure(.invalidArgument("a stream has one writer (or reader) at a time")))
                        return false
                    }
                    if shared.armWake(forFrames: frames) {
                        continuation.resume(returning: .success(()))
                        return false
                    }
                    state.streams[id]!.waiter = continuation
                    return true
                }
                // The I/O thread must add the eventfd to its poll set.
                if armed { core.wake() }
            }
        } onCancel: {
            core.state.withLock { state in
                if let waiter = state.streams[id]?.waiter {
                    state.streams[id]!.waiter = nil
                    state.streams[id]!.shared.disarmWake()
                    waiter.resume(returning: .failure(.cancelled))
                }
            }
        }
        try woken.get()
    }

    /// Why the stream (or its connection) is closed, if it is.
    private var closedReason: PCMClientError? {
        core.state.withLock { state in state.streams[id]?.closed ?? state.closed ?? (state.streams[id] == nil ? .streamClosed(nil) : nil) }
    }

    /// Waits until every frame written so far has been played. The stream then starts afresh
    /// (prefilling) and can be written to again.
    public func drain() async throws(PCMClientError) {
        while !shared.flushConversion() { try await waitForRing(frames: max(1, shared.ringFrames / 4)) }
        let reply = try await core.request(.drain, stream: id)
        guard case .drained = reply.message else { throw .unexpectedReply(reply.message.type) }
    }

    // MARK: - Capture

    /// The captured audio, chunk by chunk (whole frames in ``format``), until the stream closes.
    /// The ring holds what the program has not read yet; if it falls behind for longer than
    /// the ring lasts, the daemon drops periods and counts them (``Status/overruns``).
    public var captured: CapturedAudio { CapturedAudio(stream: self) }

    func nextCapturedChunk() async throws(PCMClientError) -> [UInt8]? {
        let chunkFrames = max(256, shared.ringFrames * format.rate / max(granted.deviceFormat.rate, 1) + 64)
        var chunk = [UInt8](repeating: 0, count: chunkFrames * format.bytesPerFrame)
        while true {
            if let closed = closedReason {
                if case .streamClosed(nil) = closed { return nil }
                throw closed
            }
            let read: Result<Int, ClientCoreError> = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(ClientCoreError) in try shared.read(into: raw) }
            }
            let frames: Int
            do throws(ClientCoreError) {
                frames = try read.get()
            } catch {
                throw closedReason ?? PCMClientError(error)
            }
            if frames > 0 {
                chunk.removeSubrange((frames * format.bytesPerFrame)...)
                return chunk
            }
            // Any frame will do: the daemon writes whole periods, so this wakes once a period
            // at most, and a chunk never waits for a threshold it might not reach.
            try await waitForRing(frames: 1)
        }
    }

    // MARK: - Control

    /// Holds the stream's clock, keeping its buffer.
    public func pause() async throws(PCMClientError) {
        try connection.expectOK(await core.request(.pause, stream: id))
    }

    /// Continues after ``pause()``, or starts playback before the buffer is full.
    public func resume() async throws(PCMClientError) {
        try connection.expectOK(await core.request(.resume, stream: id))
    }

    /// Sets this stream's volume and mute.
    public func setVolume(_ volume: Volume) async throws(PCMClientError) {
        try await connection.setVolume(volume, stream: id)
    }

    /// Closes the stream at once, dropping audio not yet played (call ``drain()`` first to hear
    /// it). The daemon punches the shared memory out: this process's mapping reads zeros.
    public func close() async throws(PCMClientError) {
        let alreadyClosed = core.state.withLock { state in state.streams[id]?.closed != nil || state.streams[id] == nil }
        if alreadyClosed { return }
        let reply = try await core.request(.closeStream, stream: id)
        try connection.expectOK(reply)
        core.state.withLock { state in state.streams[id]?.close(.streamClosed(nil)) }
    }

    // MARK: - Clock and status

    /// A snapshot of what the client knows about the stream: its own counts, and what the
    /// daemon publishes in the shared header (clock, state, xruns), read with no system call.
    public struct Status: Sendable, Hashable {
        /// The header's clock: device frames handed to the device, when, and the device delay.
        public var clock: SharedStreamClock?
        /// The daemon's state for the stream.
        public var state: SharedStreamState?
        /// Playback frames written since the stream opened (client frames).
        public var framesWritten: UInt64
        /// Periods the daemon found the playback ring short (silence played for this stream).
        public var underruns: UInt64
        /// Periods the daemon found the capture ring full (audio dropped for this stream).
        public var overruns: UInt64
        /// Device frames in the ring now.
        public var ringFilledFrames: Int
        /// The volume as last confirmed or announced.
        public var volume: Volume
        /// Why the stream is closed, or `nil` while it is open.
        public var closed: PCMClientError?
    }

    /// The stream's present status.
    public var status: Status {
        let header = shared.status
        return core.state.withLock { state in
            let record = state.streams[id]
            return Status(
                clock: header.clock, state: header.state, framesWritten: record?.framesWritten ?? 0,
                underruns: header.underruns, overruns: header.overruns, ringFilledFrames: header.filledFrames,
                volume: record?.volume ?? .unity, closed: record?.closed ?? state.closed ?? (record == nil ? .streamClosed(nil) : nil)
            )
        }
    }
}

/// The captured audio of a stream, as an async sequence of chunks of whole frames.
public struct CapturedAudio: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = PCMClientError

    let stream: PCMStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: PCMStream

        /// The next chunk, or `nil` once the stream was closed normally.
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async throws(PCMClientError) -> [UInt8]? {
            try await stream.nextCapturedChunk()
        }

        public mutating func next() async throws(PCMClientError) -> [UInt8]? {
            try await stream.nextCapturedChunk()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }
}
