// The only state a device's audio thread shares with the rest of the daemon: requests going
// in (stop, drain, reopen), counters and events coming out. All of it is atomics and a
// lock-free queue, so neither side ever waits for the other.
#if canImport(Glibc)
import Glibc
#endif
import PCMBufferCore
import Synchronization

/// What the control side asks of an audio thread.
public enum DeviceRequest: UInt8, Sendable, AtomicRepresentable {
    /// Keep streaming.
    case run = 0
    /// Close the device and open it again (SIGHUP, a configuration reload).
    case reopen = 1
    /// Let queued playback play out, then stop.
    case drainAndStop = 2
    /// Stop at once, discarding queued playback.
    case stop = 3
}

/// Shared between one device stream's audio thread and the control side.
public final class DeviceControl: Sendable {
    /// Which stream of the device this is.
    public let stream: DeviceStreamKind
    /// The device name, for logs and status.
    public let deviceName: String
    /// Events from the audio thread, drained by `EventLogService`.
    public let events: SPSCQueue<AudioEvent>
    /// Wakes the audio thread out of poll() when a request is made.
    public let wakeup: Wakeup
    /// Rung when an event is queued, for the event log; nil where no log reads the queue
    /// (benchmarks, tests that pop the events themselves).
    private let bell: EventBell?

    private let request = Atomic<DeviceRequest>(.run)
    private let periodCounter = Atomic<UInt64>(0)
    private let frameCounter = Atomic<Int64>(0)
    private let xrunCounter = Atomic<Int>(0)
    private let runningFlag = Atomic<Bool>(false)
    private let finishedFlag = Atomic<Bool>(false)
    private let lostFlag = Atomic<Bool>(false)
    private let wakeCounter = Atomic<UInt64>(0)
    private let busyCounter = Atomic<UInt64>(0)
    private let peakBits = Atomic<UInt32>(0)
    /// When a kind of event that can repeat every period last rang the bell (audio thread only).
    private let lastFrequentRing = Atomic<UInt64>(0)

    public init(stream: DeviceStreamKind, deviceName: String, eventCapacity: Int = 256, bell: EventBell? = nil) throws(DaemonError) {
        self.stream = stream
        self.deviceName = deviceName
        self.events = SPSCQueue(minimumCapacity: eventCapacity)
        self.wakeup = try Wakeup()
        self.bell = bell
    }

    // MARK: control side

    /// Asks the audio thread for something and wakes it. A stop is never downgraded by a
    /// later reopen.
    public func send(_ newRequest: DeviceRequest) {
        var current = request.load(ordering: .acquiring)
        while current.rawValue < newRequest.rawValue || (current == .reopen && newRequest == .run) {
            let (exchanged, original) = request.compareExchange(
                expected: current, desired: newRequest, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
        wakeup.signal()
    }

    /// Periods the thread has moved since it started; a watchdog checks that it grows.
    public var periods: UInt64 { periodCounter.load(ordering: .relaxed) }
    /// Frames moved to or from the device.
    public var frames: Int64 { frameCounter.load(ordering: .relaxed) }
    /// Xruns detected and recovered.
    public var xruns: Int { xrunCounter.load(ordering: .relaxed) }
    /// Whether the device is open and streaming (false while it is gone and being retried).
    public var isRunning: Bool { runningFlag.load(ordering: .relaxed) }
    /// Whether the thread has left its loop.
    public var isFinished: Bool { finishedFlag.load(ordering: .acquiring) }
    /// Times the audio thread woke (from poll or its pacing wait) since it started.
    public var wakeups: UInt64 { wakeCounter.load(ordering: .relaxed) }
    /// Nanoseconds the audio thread spent awake (working between two sleeps) since it started.
    public var busyNanoseconds: UInt64 { busyCounter.load(ordering: .relaxed) }
    /// The peak level (0...1 of full scale) of what the device played or recorded at its last wake.
    public var peak: Float { Float(bitPattern: peakBits.load(ordering: .relaxed)) }

    /// Whether the device went away (unplugged, removed, or missing at start) and has not come
    /// back: its streams are moved elsewhere. A reopen on SIGHUP is not a loss.
    public var isLost: Bool { lostFlag.load(ordering: .acquiring) }

    // MARK: audio thread side (non-blocking, non-allocating)

    /// The pending request.
    @inline(__always) func pendingRequest() -> DeviceRequest { request.load(ordering: .acquiring) }

    /// Clears a handled reopen request, unless a stop arrived meanwhile.
    func acknowledgeReopen() {
        _ = request.compareExchange(expected: .reopen, desired: .run, ordering: .acquiringAndReleasing)
    }

    @inline(__always) func countPeriod(frames: Int) {
        periodCounter.add(1, ordering: .relaxed)
        frameCounter.add(Int64(frames), ordering: .relaxed)
    }

    @inline(__always) func countXrun() -> Int { xrunCounter.add(1, ordering: .relaxed).newValue }

    /// One wake of the audio thread, after `busy` nanoseconds of work since the previous sleep.
    @inline(__always) func countWake(afterBusy busy: UInt64) {
        wakeCounter.add(1, ordering: .relaxed)
        busyCounter.add(busy, ordering: .relaxed)
    }

    @inline(__always) func setPeak(_ peak: Float) { peakBits.store(peak.bitPattern, ordering: .relaxed) }

    @inline(__always) func setRunning(_ running: Bool) { runningFlag.store(running, ordering: .relaxed) }

    func markFinished() { finishedFlag.store(true, ordering: .releasing) }

    /// Records that the device went away or came back; returns whether that changed anything.
    @inline(__always) func setLost(_ lost: Bool) -> Bool { lostFlag.exchange(lost, ordering: .acquiringAndReleasing) != lost }

    /// Queues an event and rings the log's bell; when the queue is full the event is dropped
    /// and counted by the queue (the bell still rings: the log reports the loss).
    ///
    /// Kinds that can come every period (a client that stopped writing underruns at each one)
    /// ring at most once a second: the log drains everything queued when it wakes, and looks again
    /// a second after a drain that found something, so none is left behind.
    @inline(__always) func report(_ kind: AudioEvent.Kind, value: Int64 = 0, position: Int64 = 0) {
        let now = MonotonicClock.nanoseconds()
        _ = events.push(AudioEvent(kind, stream: stream, value: value, position: position, time: now))
        guard let bell else { return }
        if kind.canRepeatEveryPeriod {
            guard now &- lastFrequentRing.load(ordering: .relaxed) >= 1_000_000_000 else { return }
            lastFrequentRing.store(now, ordering: .relaxed)
        }
        bell.ring()
    }
}
