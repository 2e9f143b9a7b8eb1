// What the async client library keeps per open stream, shared between the I/O thread (which
// watches the stream's eventfd and the daemon's events) and the tasks calling the stream's
// methods. Lives inside the connection's lock; never touched without it. The audio itself is
// not here: it moves through the stream's shared ring (PCMClientCore's ClientStream), which the
// stream's one writer or reader uses without any lock.

import PCMClientCore
import PCMProtocol

/// One stream's client-side state.
struct StreamRecord {
    /// The client's format (what `write` takes and capture delivers).
    let format: StreamFormat
    /// What the daemon granted.
    let opened: StreamOpened
    /// The mapped ring, its eventfd and the conversion.
    let shared: ClientStream
    /// A `write` waiting for space, or a reader waiting for frames (one at a time).
    var waiter: CheckedContinuation<Result<Void, PCMClientError>, Never>?
    /// Playback frames written since the stream opened (client frames).
    var framesWritten: UInt64 = 0
    /// The stream's volume as the daemon last confirmed or announced it.
    var volume = Volume.unity
    /// Set once the stream is gone: every waiter and every later call fails with this.
    var closed: PCMClientError?

    init(format: StreamFormat, opened: StreamOpened, shared: ClientStream) {
        self.format = format
        self.opened = opened
        self.shared = shared
    }

    /// Closes the record, failing whoever waits on it and waking anyone sleeping on the ring.
    mutating func close(_ reason: PCMClientError) {
        guard closed == nil else { return }
        closed = reason
        shared.hangUp(reason.core)
        waiter?.resume(returning: .failure(reason))
        waiter = nil
    }

    /// The I/O thread saw the eventfd: wakes the waiter, if any, to look at the ring again.
    mutating func wakeWaiter() {
        shared.disarmWake()
        waiter?.resume(returning: .success(()))
        waiter = nil
    }
}
