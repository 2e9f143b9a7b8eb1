// One device stream as a service: opens the device at startup (so a misconfiguration fails the
// start with a clear message), logs what the device chose, runs the audio thread, and on
// shutdown asks it to drain and waits for it. SIGHUP reaches it as `reopen()`.
import ALSA
import Logging
import PCMBufferCore
import ServiceLifecycle

/// A device stream (playback or capture) and its audio thread.
public final class DeviceService<Processor: PeriodProcessor>: Service, Sendable {
    public let control: DeviceControl
    public let runner: DeviceRunner<Processor>
    private let first: Handoff<OpenDevice>?
    private let logger: Logger
    private let realtimePriority: Int32

    /// Opens the device now. A missing device is not fatal (the audio thread keeps trying);
    /// one that refuses the configuration is.
    public init(opener: DeviceOpener, control: DeviceControl, processor: Processor, realtimePriority: Int, logger: Logger) throws(DeviceOpenError) {
        self.control = control
        self.runner = DeviceRunner(opener: opener, control: control, processor: processor)
        self.logger = logger
        self.realtimePriority = Int32(realtimePriority)
        do {
            let device = try opener.open()
            Self.logConfiguration(device, opener: opener, logger: logger)
            first = Handoff(device)
        } catch where error.isTransient(device: opener.deviceName) {
            logger.warning("device not available; retrying in the background", metadata: [
                "pcm.device": "\(opener.deviceName)", "pcm.stream": "\(control.stream)", "error": "\(error)",
            ])
            first = nil
        }
    }

    private static func logConfiguration(_ device: borrowing OpenDevice, opener: DeviceOpener, logger: Logger) {
        let hw = device.hardware
        logger.notice("device opened", metadata: [
            "pcm.device": "\(opener.deviceName)",
            "pcm.type": "\(device.pcm.typeName)",
            "pcm.stream": "\(opener.direction)",
            "pcm.access": "\(hw.access)",
            "pcm.format": "\(hw.format.name)",
            "pcm.channels": "\(hw.channels)",
            "pcm.rate": "\(hw.rate)",
            "pcm.period": "\(hw.periodFrames.value)",
            "pcm.buffer": "\(hw.bufferFrames.value)",
            "pcm.periods": "\(hw.periods)",
            "pcm.device-buffer-max": "\(hw.deviceBufferFrames.upperBound.value)",
            "pcm.substream": "\(opener.substream)",
            "pcm.allocation": device.allocationChanged ? "changed" : "unchanged",
            "pcm.paced": device.pacesItself ? "by the device" : "by pcmd's clock (device does not pace itself)",
        ])
    }

    public func run() async throws {
        let runner = self.runner
        let first = self.first
        let thread = try RealtimeThread(name: "pcmd-\(control.stream)", realtimePriority: realtimePriority) {
            runner.run(first: first?.take())
        }
        // The thread records its scheduling as it starts; report it once.
        while thread.scheduling == nil { try? await Task.sleep(for: .milliseconds(1)) }
        if let scheduling = thread.scheduling {
            let metadata: Logger.Metadata = ["pcm.stream": "\(control.stream)", "thread.scheduling": "\(scheduling)"]
            if case .refused = scheduling { logger.warning("audio thread without real-time priority", metadata: metadata) }
            else { logger.info("audio thread started", metadata: metadata) }
        }
        // Nothing to do until the daemon stops: no polling while the device streams.
        do {
            try await gracefulShutdown()
            control.send(.drainAndStop)
        } catch {
            control.send(.stop)  // cancelled: stop at once
        }
        while !control.isFinished { try? await Task.sleep(for: .milliseconds(10)) }
        thread.join()
    }

    /// Closes and reopens the device (SIGHUP).
    public func reopen() { control.send(.reopen) }

    /// Stops the audio thread without draining (tests, fatal errors).
    public func stop() { control.send(.stop) }
}
