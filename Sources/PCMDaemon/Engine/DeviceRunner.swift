// One device stream's audio thread: the mmap period loop of pcm-memory.md §3 and everything
// that keeps it alive. Xruns are recovered (prepare, prefill, start) and counted; a suspend is
// resumed or re-prepared; a device that goes away is closed and reopened when ALSA's device
// nodes change (with a backoff timer where they cannot be watched) while the rest of the daemon
// carries on. Inside the loop nothing allocates, locks, logs or awaits:
// what happened leaves through `DeviceControl`'s counters and event queue.
#if canImport(Glibc)
import Glibc
#endif
import ALSA
import PCMBufferCore

/// Why the period loop returned.
enum StreamEnd {
    /// A stop request; `drain` lets queued playback play out first.
    case stop(drain: Bool)
    /// A reopen request (SIGHUP).
    case reopen
    /// The device went away or could not be recovered; the negative errno says why.
    case lost(code: Int32)
}

/// Runs one device stream on its own thread until asked to stop.
public final class DeviceRunner<Processor: PeriodProcessor>: Sendable {
    public let opener: DeviceOpener
    public let control: DeviceControl
    public let processor: Processor

    /// Reopen attempts wait this long at first, doubling up to `maximumBackoffMilliseconds`.
    static var initialBackoffMilliseconds: Int32 { 100 }
    static var maximumBackoffMilliseconds: Int32 { 2000 }
    /// While /dev/snd is watched, a missing device is also retried this often, in case a change
    /// was missed (an overflowed inotify queue); the changes themselves trigger the retries.
    static var watchedRetryMilliseconds: Int32 { 60_000 }
    /// How long to let udev finish with a new node (its group and mode) before opening it.
    static var nodeSettleMilliseconds: Int32 { 100 }

    public init(opener: DeviceOpener, control: DeviceControl, processor: Processor) {
        self.opener = opener
        self.control = control
        self.processor = processor
    }

    private var isPlayback: Bool { opener.direction == .playback }

    /// The thread body. `first` is the device opened at startup, or nil when it was missing
    /// then (the loop keeps trying to open it).
    public func run(first: consuming OpenDevice?) {
        var current = first
        var backoff = Self.initialBackoffMilliseconds
        var attempts = 0
        // Made when the device is first found missing: its nodes' changes trigger the retries,
        // unless it was busy (held by another program), which no node change announces.
        var nodeWatch: DeviceNodeWatch?
        var busy = false
        defer {
            control.setRunning(false)
            control.report(.stopped)
            control.markFinished()
        }
        while true {
            guard var device = current.take() else {
                // The device is gone (or was missing at start): say so once, wait (wakeable,
                // so stop stays prompt), then try again.
                noteAvailability(lost: true)
                let watch = nodeWatch ?? DeviceNodeWatch()
                nodeWatch = watch
                // With /dev/snd watched, a retry follows a change of its nodes (the timer is a
                // safety net); without, the backoff timer alone decides.
                let timeout = watch.isWatching && !busy ? Self.watchedRetryMilliseconds : backoff
                switch waitForRequest(milliseconds: timeout, orNodeChange: watch) {
                case .stop, .drainAndStop: return
                case .reopen: control.acknowledgeReopen()  // already reopening
                case .run: break
                }
                attempts += 1
                do {
                    current = try opener.open()
                    control.report(.deviceReturned, value: Int64(attempts))
                    noteAvailability(lost: false)
                    backoff = Self.initialBackoffMilliseconds
                    attempts = 0
                } catch {
                    control.report(.reopenFailed, value: Int64(error.code), position: Int64(attempts))
                    backoff = min(backoff * 2, Self.maximumBackoffMilliseconds)
                    busy = error.code == -EBUSY || error.code == -EAGAIN
                }
                continue
            }
            control.report(.opened, value: Int64(device.hardware.periodFrames.value))
            control.setRunning(true)
            processor.deviceOpened(device.hardware, staging: device.staging)
            let end = stream(&device)
            processor.deviceClosed()
            control.setRunning(false)
            switch end {
            case .stop(let drain):
                if drain, isPlayback, device.pcm.state == .running {
                    // Blocking drain: the buffer holds at most a few periods, so this is short.
                    // If blocking mode cannot be set, drain returns -EAGAIN and the buffer is dropped instead.
                    _ = try? device.pcm.setNonblocking(false)
                    if (try? device.pcm.drain()) != nil { control.report(.drained) }
                }
                _ = try? device.pcm.drop()  // the PCM is closed right after; a failed drop loses nothing
                return
            case .reopen:
                control.acknowledgeReopen()
                _ = consume device  // closes the PCM before it is opened again
                do {
                    current = try opener.open()
                } catch {
                    control.report(.deviceLost, value: Int64(error.code))
                    noteAvailability(lost: true)
                }
            case .lost(let code):
                control.report(.deviceLost, value: Int64(code))
                noteAvailability(lost: true)
                _ = consume device
                attempts = 0
                backoff = Self.initialBackoffMilliseconds
            }
        }
    }

    /// Records that the device went away or came back and, when that is news, has the socket
    /// server look (it moves a lost device's streams). Outside the period loop.
    private func noteAvailability(lost: Bool) {
        if control.setLost(lost) { processor.deviceAvailabilityChanged() }
    }

    /// Sleeps up to `milliseconds` on the wakeup fd, or less when a request arrives; returns
    /// the pending request.
    private func waitForRequest(milliseconds: Int32) -> DeviceRequest {
        var wake = pollfd(fd: control.wakeup.fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&wake, 1, milliseconds)  // EINTR just shortens the wait
        control.wakeup.drain()
        return control.pendingRequest()
    }

    /// As `waitForRequest`, and also wakes when ALSA's device nodes change; then it waits a
    /// moment more, for udev to give a new node its group before the open is tried.
    private func waitForRequest(milliseconds: Int32, orNodeChange watch: DeviceNodeWatch) -> DeviceRequest {
        guard watch.isWatching else { return waitForRequest(milliseconds: milliseconds) }
        var descriptors = [pollfd(fd: control.wakeup.fd, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: watch.descriptor, events: Int16(POLLIN), revents: 0)]
        _ = poll(&descriptors, 2, milliseconds)  // EINTR just shortens the wait
        if descriptors[1].revents != 0 {
            watch.drain()
            return waitForRequest(milliseconds: Self.nodeSettleMilliseconds)
        }
        control.wakeup.drain()
        return control.pendingRequest()
    }

    /// The period loop for one opened device, until a request or a loss ends it.
    private func stream(_ device: inout OpenDevice) -> StreamEnd {
        let period = device.hardware.periodFrames
        let bufferFrames = device.hardware.bufferFrames.value
        let playback = isPlayback
        // A wake interval the device refused is not asked for again until the clients change.
        var refusedWakeInterval: FrameCount?
        // Frames moved through the mmap area since the open: with avail, the device's position.
        var transferred = 0
        var watch = PositionWatch(rate: device.hardware.rate, bufferFrames: bufferFrames)
        let descriptorCount = (try? device.pcm.pollDescriptorCount()) ?? 0
        // Allocated once per open, outside the loop: the device's descriptors plus the wakeup fd.
        let descriptors = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: descriptorCount + 1)
        defer { descriptors.deallocate() }
        let filled = (try? device.pcm.fillPollDescriptors(into: UnsafeMutableBufferPointer(rebasing: descriptors[..<descriptorCount]))) ?? 0
        descriptors[filled] = pollfd(fd: control.wakeup.fd, events: Int16(POLLIN), revents: 0)
        var pacing = device.pacesItself ? nil : Optional(PacingClock(rate: device.hardware.rate, lead: device.hardware.bufferFrames))
        // A poll that outlasts two buffers means the device stopped interrupting.
        let bufferMilliseconds = bufferFrames * 1000 / device.hardware.rate
        let pollTimeout = Int32(max(20, min(2 * bufferMilliseconds, 2000)))

        var started = false
        // When the thread last woke: what it spends awake until its next sleep is its busy time.
        var awakeSince = MonotonicClock.nanoseconds()
        if !isPlayback {
            if let end = start(&device, started: &started) { return end }
            pacing?.restart()
        }
        while true {
            switch control.pendingRequest() {
            case .run: break
            case .reopen: return .reopen
            case .stop: return .stop(drain: false)
            case .drainAndStop: return .stop(drain: true)
            }
            followWakeInterval(&device, refused: &refusedWakeInterval)
            let wake = device.wakeThreshold.frames
            let avail: FrameCount
            switch device.pcm.availUpdate() {
            case .ok(let frames): avail = frames
            case .interrupted(let interruption):
                if let end = recover(interruption, &device, started: &started) { return end }
                continue
            }
            if started, device.pacesItself {
                let position = playback ? transferred - (bufferFrames - avail.value) : transferred + avail.value
                if let jump = watch.observe(position: position, at: MonotonicClock.nanoseconds()) {
                    control.report(.positionJump, value: Int64(jump), position: control.frames)
                }
            } else {
                watch.reset()
            }
            // Prefill fills whole periods until the buffer is full; a running stream sleeps until
            // avail_min (the wake interval) is reached, then moves every whole period available.
            if avail < period || (started && avail < wake) {
                if isPlayback && !started {
                    // The buffer is prefilled: start it explicitly (mmap commits never do).
                    if let end = start(&device, started: &started) { return end }
                    pacing?.restart(queued: FrameCount(device.hardware.bufferFrames.value - avail.value))
                    continue
                }
                let ready = sleeping(since: &awakeSince) { poll(descriptors.baseAddress, nfds_t(filled + 1), pollTimeout) }
                // An error or hang-up on the device's descriptors, or a poll that outlasted two
                // buffers, may mean the stream stopped where nothing else says so (a removed
                // card): its state tells.
                var askState = ready == 0
                if ready > 0 {
                    // The revents call is mandatory: it turns raw events into PCM readiness.
                    let events = (try? device.pcm.pollEvents(UnsafeMutableBufferPointer(rebasing: descriptors[..<filled]),
                                                             count: filled)) ?? .error
                    askState = !events.isDisjoint(with: [.error, .hangup])
                    if descriptors[filled].revents != 0 { control.wakeup.drain() }
                }
                if askState, let interruption = device.pcm.stoppedBecause {
                    if let end = recover(interruption, &device, started: &started) { return end }
                }
                continue
            }
            // Whole periods only; a region may end early at the ring's wrap, so loop on it.
            var todo = FrameCount(avail.value - avail.value % period.value)
            // A device that does not pace itself (the null PCM) always reports its whole buffer
            // free: move one wake interval per due time, as a card would, not the whole buffer at once
            // (which made every client need a whole device buffer queued at each wakeup).
            if let pacing, started {
                todo = min(todo, wake)
                // Not due yet: sleep (wakeable by requests, which the loop's top handles).
                let wait = pacing.millisecondsUntilDue(next: todo)
                if wait > 0 {
                    _ = sleeping(since: &awakeSince) { waitForRequest(milliseconds: wait) }
                    continue
                }
            }
            // What the device holds beyond each region, for the streams' clocks: measured from
            // avail. A device that does not pace itself holds, for playback, what it was fed ahead
            // of real time, and for capture nothing beyond what is taken now.
            var deviceAvail = avail.value
            if let pacing, started {
                deviceAvail = playback ? bufferFrames - min(bufferFrames, pacing.framesAhead()) : todo.value
            }
            while todo.value > 0 {
                let result = device.pcm.mmapTransfer(maxFrames: todo) { region in
                    let beyond = playback ? bufferFrames - deviceAvail : deviceAvail - region.frames.value
                    processor.process(region, deviceQueued: FrameCount(max(0, beyond)))
                    return region.frames
                }
                switch result {
                case .ok(let moved):
                    deviceAvail -= moved.value
                    transferred += moved.value
                    todo -= moved
                    control.countPeriod(frames: moved.value)
                    pacing?.advance(by: moved)
                case .interrupted(let interruption):
                    if let end = recover(interruption, &device, started: &started) { return end }
                    todo = .zero
                }
            }
        }
    }

    /// Runs one sleep of the period loop, counting the wake after it and the time awake before it
    /// (for `pcmctl top`): two clock reads, no system call.
    @inline(__always)
    private func sleeping<Result>(since awake: inout UInt64, _ sleep: () -> Result) -> Result {
        let asleep = MonotonicClock.nanoseconds()
        let result = sleep()
        control.countWake(afterBusy: asleep &- awake)
        awake = MonotonicClock.nanoseconds()
        return result
    }

    /// Moves avail_min to the interval the clients allow now (`WakeInterval`): one ioctl when
    /// a client came or went, nothing otherwise. A refusal is reported once and the threshold
    /// in force is kept, which is always safe (it was the one period at open, or a value the
    /// device accepted).
    private func followWakeInterval(_ device: inout OpenDevice, refused: inout FrameCount?) {
        let wanted = processor.wakeInterval(period: device.hardware.periodFrames, buffer: device.hardware.bufferFrames,
                                            rate: device.hardware.rate)
        guard wanted != device.wakeThreshold.frames, wanted != refused else { return }
        do {
            try device.wakeThreshold.set(wanted, on: device.pcm)
            refused = nil
            control.report(.wakeIntervalChanged, value: Int64(wanted.value))
        } catch {
            refused = wanted
            control.report(.wakeIntervalChanged, value: Int64(wanted.value), position: Int64(error.code))
        }
    }

    /// Starts the stream; on failure, recovers like any interruption.
    private func start(_ device: inout OpenDevice, started: inout Bool) -> StreamEnd? {
        do {
            try device.pcm.start()
            started = true
            control.report(.started, position: control.frames)
            return nil
        } catch {
            return recover(StreamInterruption(code: error.code, function: "snd_pcm_start"), &device, started: &started)
        }
    }

    /// Handles an interruption of the loop; returns how the loop ends, or nil to carry on.
    private func recover(_ interruption: StreamInterruption, _ device: inout OpenDevice, started: inout Bool) -> StreamEnd? {
        if case .wouldBlock = interruption { return nil }
        if case .xrun = interruption {
            let count = control.countXrun()
            control.report(.xrun, value: Int64(count), position: control.frames)
        }
        switch device.pcm.recover(from: interruption) {
        case .nothingToRecover:
            return nil
        case .prepared:
            // The buffer is empty again: playback prefills then starts, capture starts now.
            started = false
            if case .suspended = interruption { control.report(.suspendRecovered) }
            if !isPlayback { return start(&device, started: &started) }
            return nil
        case .resumed:
            control.report(.suspendRecovered)
            return nil
        case .resumePending:
            // The hardware is still waking up: give it a moment without blocking stop.
            switch waitForRequest(milliseconds: 10) {
            case .stop, .drainAndStop: return .stop(drain: false)
            case .reopen: return .reopen
            case .run: return nil
            }
        case .deviceGone(let error):
            return .lost(code: error.code)
        case .failed(let error):
            control.report(.recoveryFailed, value: Int64(error.code))
            return .lost(code: error.code)
        }
    }
}
