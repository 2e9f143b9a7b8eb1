// What the client library keeps per open stream, shared between the I/O thread (which applies
// the daemon's events) and the tasks calling the stream's methods. Lives inside the connection's
// Mutex; never touched without it.

import PCMProtocol

/// One stream's client-side state.
struct StreamRecord {
    /// The client's format (what `write` takes and capture delivers).
    let format: StreamFormat
    /// What the daemon granted.
    let opened: StreamOpened
    /// Playback frames the client may still send.
    var credits = 0
    /// A `write` waiting for credits (one writer at a time).
    var creditWaiter: CheckedContinuation<Result<Void, PCMClientError>, Never>?
    /// Playback frames sent since the stream opened.
    var framesWritten: UInt64 = 0
    /// The daemon's latest clock report.
    var position: Position?
    /// The daemon's latest xrun report.
    var lastXrun: Xrun?
    /// The stream's volume as the daemon last confirmed or announced it.
    var volume = Volume.unity
    /// Captured audio not yet taken by the reader.
    var capture = CaptureQueue()
    /// Set once the stream is gone: every waiter and every later call fails with this.
    var closed: PCMClientError?

    init(format: StreamFormat, opened: StreamOpened) {
        self.format = format
        self.opened = opened
    }

    /// Closes the record, failing whoever waits on it.
    mutating func close(_ reason: PCMClientError) {
        guard closed == nil else { return }
        closed = reason
        creditWaiter?.resume(returning: .failure(reason))
        creditWaiter = nil
        capture.finish(reason)
    }
}

/// Captured chunks waiting for the stream's reader, bounded so a reader that stops cannot make
/// the client grow without limit (the oldest audio is dropped and counted instead).
struct CaptureQueue {
    /// Chunks in arrival order; `head` is the next to hand out (avoids O(n) removal at the front).
    private var chunks: [[UInt8]] = []
    private var head = 0
    /// Bytes held in `chunks[head...]`.
    private(set) var bufferedBytes = 0
    /// The most bytes held before the oldest chunk is dropped.
    var limitBytes = 4 * WireLimits.maxPayloadBytes
    /// Bytes dropped because the reader fell behind.
    private(set) var droppedBytes = 0
    /// The reader waiting for the next chunk.
    private var waiter: CheckedContinuation<Result<[UInt8]?, PCMClientError>, Never>?
    /// How the stream ended: `nil` while open, `.streamClosed(nil)` for a normal close.
    private var ending: PCMClientError?

    /// Adds a chunk from the daemon, handing it straight to a waiting reader if there is one.
    mutating func append(_ chunk: [UInt8]) {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: .success(chunk))
            return
        }
        chunks.append(chunk)
        bufferedBytes += chunk.count
        while bufferedBytes > limitBytes, head < chunks.count {
            bufferedBytes -= chunks[head].count
            droppedBytes += chunks[head].count
            chunks[head] = []
            head += 1
        }
        if head > 64, head * 2 > chunks.count {
            chunks.removeFirst(head)
            head = 0
        }
    }

    /// Takes the next chunk now, or registers `continuation` to get it later.
    mutating func take(_ continuation: CheckedContinuation<Result<[UInt8]?, PCMClientError>, Never>) {
        if head < chunks.count {
            let chunk = chunks[head]
            chunks[head] = []
            head += 1
            bufferedBytes -= chunk.count
            continuation.resume(returning: .success(chunk))
        } else if let ending {
            // A normal close ends the sequence; anything else is an error for the reader.
            if case .streamClosed(nil) = ending {
                continuation.resume(returning: .success(nil))
            } else {
                continuation.resume(returning: .failure(ending))
            }
        } else if waiter != nil {
            continuation.resume(returning: .failure(.invalidArgument("a capture stream has one reader at a time")))
        } else {
            waiter = continuation
        }
    }

    /// Cancels a waiting reader.
    mutating func cancelWaiter() {
        waiter?.resume(returning: .failure(.cancelled))
        waiter = nil
    }

    /// Ends the queue: buffered chunks can still be taken, then the reader sees the end.
    mutating func finish(_ reason: PCMClientError) {
        ending = reason
        if let waiter {
            self.waiter = nil
            if case .streamClosed(nil) = reason {
                waiter.resume(returning: .success(nil))
            } else {
                waiter.resume(returning: .failure(reason))
            }
        }
    }
}
