// Turns the audio threads' event records into log lines, on a thread of its own that sleeps until
// an audio thread rings the EventBell: the real-time threads only ever push into their lock-free
// queues and ring, never log.
import Logging
import PCMBufferCore
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Drains every device's event queue into the log when an audio thread rings the bell: at once,
/// and not at all while nothing happens.
public struct EventLogService: Service {
    /// The audio threads' controls now: devices added while running (hotplug) are included.
    private let controls: @Sendable () -> [DeviceControl]
    private let logger: Logger
    private let bell: EventBell

    public init(controls: @escaping @Sendable () -> [DeviceControl], logger: Logger, bell: EventBell) {
        self.controls = controls
        self.logger = logger
        self.bell = bell
    }

    public func run() async throws {
        let stopping = Atomic<Bool>(false)
        let thread = try RealtimeThread(name: "pcmd-events", realtimePriority: 0) { [self] in
            // Events lost per device, as last reported.
            var dropped: [ObjectIdentifier: Int] = [:]
            // Asleep until rung, except for a second after a drain that found something: events
            // that repeat every period ring at most once a second (DeviceControl.report).
            var timeout: Int32 = -1
            while !stopping.load(ordering: .acquiring) {
                // A failing poll (it cannot, short of a bad descriptor) must not spin: look every second.
                if !bell.wait(milliseconds: timeout) { usleep(1_000_000) }
                timeout = drainOnce(dropped: &dropped) > 0 ? 1000 : -1
            }
            // What the audio threads queued before the stop was asked (drained, stopped).
            drainOnce(dropped: &dropped)
        }
        try? await gracefulShutdown()
        // Let the audio threads report their last events (drained, stopped) before exit.
        for _ in 0..<40 where !controls().allSatisfy(\.isFinished) { try? await Task.sleep(for: .milliseconds(50)) }
        stopping.store(true, ordering: .releasing)
        bell.ring()
        thread.join()
    }

    /// Logs every queued event; says when the queue overflowed and events were lost. Returns
    /// how many events it logged.
    @discardableResult
    func drainOnce(dropped: inout [ObjectIdentifier: Int]) -> Int {
        var count = 0
        for control in controls() {
            while let event = control.events.pop() {
                log(event, control: control)
                count += 1
            }
            let lost = control.events.droppedCount
            let reported = dropped[ObjectIdentifier(control), default: 0]
            if lost > reported {
                logger.warning("audio events lost: the queue was full", metadata: [
                    "pcm.device": "\(control.deviceName)", "pcm.stream": "\(control.stream)", "events.lost": "\(lost - reported)",
                ])
                dropped[ObjectIdentifier(control)] = lost
            }
        }
        return count
    }

    private func log(_ event: AudioEvent, control: DeviceControl) {
        // The line is written up to a second after the event (the queue is drained once a second):
        // how long ago it happened places it among the lines logged directly, such as a client's
        // connection, which is what tells an xrun's cause.
        let age = MonotonicClock.nanoseconds() &- event.time
        var metadata: Logger.Metadata = [
            "pcm.device": "\(control.deviceName)", "pcm.stream": "\(event.stream)", "pcm.position": "\(event.position)",
            "event.ago": "\(age / 1_000_000) ms",
        ]
        switch event.kind {
        case .opened:
            metadata["pcm.period"] = "\(event.value)"
            logger.info("device streaming", metadata: metadata)
        case .started:
            logger.debug("device started", metadata: metadata)
        case .xrun:
            metadata["pcm.xruns"] = "\(event.value)"
            logger.warning("xrun recovered", metadata: metadata)
        case .suspendRecovered:
            logger.notice("device resumed after suspend", metadata: metadata)
        case .deviceLost:
            metadata["error"] = "\(errnoName(event.value))"
            logger.error("device lost; reopening in the background", metadata: metadata)
        case .reopenFailed:
            metadata["error"] = "\(errnoName(event.value))"
            metadata["attempt"] = "\(event.position)"
            logger.debug("device still unavailable", metadata: metadata)
        case .deviceReturned:
            metadata["attempts"] = "\(event.value)"
            logger.notice("device back", metadata: metadata)
        case .recoveryFailed:
            metadata["error"] = "\(errnoName(event.value))"
            logger.error("recovery failed; reopening the device", metadata: metadata)
        case .clientUnderrun:
            metadata["stream.slot"] = "\(event.value)"
            metadata["stream.underruns"] = "\(event.position)"
            logger.debug("client stream underrun", metadata: metadata)
        case .clientOverrun:
            metadata["stream.slot"] = "\(event.value)"
            metadata["stream.overruns"] = "\(event.position)"
            logger.debug("client stream overrun", metadata: metadata)
        case .wakeIntervalChanged:
            metadata["pcm.wake_frames"] = "\(event.value)"
            if event.position < 0 {
                metadata["error"] = "\(errnoName(event.position))"
                logger.warning("the device refused a new wake interval; keeping the old one", metadata: metadata)
            } else {
                logger.debug("wake interval changed", metadata: metadata)
            }
        case .positionJump:
            metadata["pcm.jump_frames"] = "\(event.value)"
            logger.warning("device position jumped: a buffer skipped or repeated without an xrun", metadata: metadata)
        case .drained:
            logger.info("playback drained", metadata: metadata)
        case .stopped:
            metadata["pcm.xruns"] = "\(control.xruns)"
            metadata["pcm.frames"] = "\(control.frames)"
            logger.info("audio thread stopped", metadata: metadata)
        }
    }

    private func errnoName(_ value: Int64) -> String {
        let code = Int32(truncatingIfNeeded: -value)
        return "\(String(cString: strerror(code))) (\(value))"
    }
}
