// One open stream on a connection: writing playback audio paced by the daemon's credits,
// reading captured audio as an async sequence, and the stream's controls and clock.

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
    /// What the daemon granted: buffer and period in client frames, and the device's format.
    public let granted: StreamOpened

    init(connection: PCMConnection, id: StreamID, format: StreamFormat, opened: StreamOpened) {
        self.connection = connection
        self.id = id
        self.format = format
        self.granted = opened
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

    /// Sends playback audio, waiting for credits whenever the daemon's buffer for this stream is
    /// full. Returns once every frame has been queued for sending (not played: see ``drain()``).
    ///
    /// - Parameter samples: Whole frames in ``format``.
    /// - Throws: ``PCMClientError/invalidArgument(_:)`` for a partial frame or a capture-only
    ///   stream; ``PCMClientError/cancelled`` if the task is cancelled while waiting (the frames
    ///   before that point were sent); ``PCMClientError/streamClosed(_:)``.
    public func write(_ samples: [UInt8]) async throws(PCMClientError) {
        guard direction.plays else { throw .invalidArgument("stream \(id) does not play") }
        let bytesPerFrame = format.bytesPerFrame
        guard samples.count % bytesPerFrame == 0 else {
            throw .invalidArgument("\(samples.count) bytes is not a whole number of \(bytesPerFrame)-byte frames")
        }
        let maxFramesPerMessage = WireLimits.maxPayloadBytes / bytesPerFrame
        var offset = 0
        while offset < samples.count {
            let wanted = min((samples.count - offset) / bytesPerFrame, maxFramesPerMessage)
            let frames = try await takeCredits(upTo: wanted)
            let end = offset + frames * bytesPerFrame
            let start = offset
            let queued: PCMClientError? = core.state.withLock { state in
                if let closed = state.streams[id]?.closed ?? state.closed { return closed }
                guard state.streams[id] != nil else { return .streamClosed(nil) }
                let result: Result<Void, ProtocolError> = samples.withUnsafeBytes { raw in
                    Result { () throws(ProtocolError) in
                        try Envelope.appendAudioData(
                            stream: id, samples: UnsafeRawBufferPointer(rebasing: raw[start..<end]), to: &state.outgoing
                        )
                    }
                }
                if case .failure(let error) = result { return .invalidArgument(error.description) }
                state.streams[id]!.framesWritten += UInt64(frames)
                return nil
            }
            if let queued { throw queued }
            core.wake()
            offset = end
        }
    }

    /// Waits until at least one credit is available, then takes up to `wanted` frames' worth.
    private func takeCredits(upTo wanted: Int) async throws(PCMClientError) -> Int {
        while true {
            let taken: Result<Int, PCMClientError>? = core.state.withLock { state in
                if let closed = state.streams[id]?.closed ?? state.closed { return .failure(closed) }
                guard let credits = state.streams[id]?.credits else { return .failure(.streamClosed(nil)) }
                guard credits > 0 else { return nil }
                let frames = min(credits, wanted)
                state.streams[id]!.credits -= frames
                return .success(frames)
            }
            if let taken { return try taken.get() }
            let woken: Result<Void, PCMClientError> = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    core.state.withLock { state in
                        if let closed = state.streams[id]?.closed ?? state.closed {
                            continuation.resume(returning: .failure(closed))
                        } else if state.streams[id] == nil {
                            continuation.resume(returning: .failure(.streamClosed(nil)))
                        } else if Task.isCancelled {
                            continuation.resume(returning: .failure(.cancelled))
                        } else if state.streams[id]!.credits > 0 {
                            continuation.resume(returning: .success(()))
                        } else if state.streams[id]!.creditWaiter != nil {
                            continuation.resume(returning: .failure(.invalidArgument("a stream has one writer at a time")))
                        } else {
                            state.streams[id]!.creditWaiter = continuation
                        }
                    }
                }
            } onCancel: {
                core.state.withLock { state in
                    if let waiter = state.streams[id]?.creditWaiter {
                        state.streams[id]!.creditWaiter = nil
                        waiter.resume(returning: .failure(.cancelled))
                    }
                }
            }
            try woken.get()
        }
    }

    /// Waits until every frame written so far has been played. The stream then starts afresh
    /// (prefilling) and can be written to again.
    public func drain() async throws(PCMClientError) {
        let reply = try await core.request(.drain, stream: id)
        guard case .drained = reply.message else { throw .unexpectedReply(reply.message.type) }
    }

    // MARK: - Capture

    /// The captured audio, chunk by chunk (whole frames in ``format``), until the stream closes.
    ///
    /// If the program reads more slowly than the device records, the client keeps at most
    /// 256 KiB and drops the oldest audio (see ``Status/droppedCaptureBytes``); the daemon
    /// reports its own overruns as xruns.
    public var captured: CapturedAudio { CapturedAudio(stream: self) }

    func nextCapturedChunk() async throws(PCMClientError) -> [UInt8]? {
        let result: Result<[UInt8]?, PCMClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                core.state.withLock { state in
                    guard state.streams[id] != nil else {
                        continuation.resume(returning: .success(nil))
                        return
                    }
                    if Task.isCancelled {
                        continuation.resume(returning: .failure(.cancelled))
                    } else {
                        state.streams[id]!.capture.take(continuation)
                    }
                }
            }
        } onCancel: {
            core.state.withLock { $0.streams[id]?.capture.cancelWaiter() }
        }
        return try result.get()
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

    /// Closes the stream at once, dropping audio not yet played (call ``drain()`` first to hear it).
    public func close() async throws(PCMClientError) {
        let alreadyClosed = core.state.withLock { state in state.streams[id]?.closed != nil || state.streams[id] == nil }
        if alreadyClosed { return }
        let reply = try await core.request(.closeStream, stream: id)
        try connection.expectOK(reply)
        core.state.withLock { state in state.streams[id]?.close(.streamClosed(nil)) }
    }

    // MARK: - Clock and status

    /// A snapshot of what the client knows about the stream.
    public struct Status: Sendable, Hashable {
        /// The daemon's latest clock report, if one has arrived.
        public var position: Position?
        /// Playback frames written since the stream opened.
        public var framesWritten: UInt64
        /// Playback credits not yet used.
        public var credits: Int
        /// The latest xrun report, if any.
        public var lastXrun: Xrun?
        /// The volume as last confirmed or announced.
        public var volume: Volume
        /// Captured bytes this client dropped because the program read too slowly.
        public var droppedCaptureBytes: Int
        /// Why the stream is closed, or `nil` while it is open.
        public var closed: PCMClientError?

        /// Playback: frames written but not yet played, as of the last clock report.
        public var queuedFrames: UInt64 {
            guard let position else { return framesWritten }
            return framesWritten > position.frames ? framesWritten - position.frames : 0
        }
    }

    /// The stream's present status.
    public var status: Status {
        core.state.withLock { state in
            guard let record = state.streams[id] else {
                return Status(framesWritten: 0, credits: 0, volume: .unity, droppedCaptureBytes: 0,
                              closed: state.closed ?? .streamClosed(nil))
            }
            return Status(
                position: record.position, framesWritten: record.framesWritten, credits: record.credits,
                lastXrun: record.lastXrun, volume: record.volume, droppedCaptureBytes: record.capture.droppedBytes,
                closed: record.closed
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
