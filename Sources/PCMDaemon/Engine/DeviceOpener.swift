// Opening one stream of a device: open the PCM, size its hw_params from the substream's
// PCMBufferCore allocation, install sw_params, and allocate the substream's buffer to match what
// the device chose. Runs at startup and on every reopen, never inside the period loop.
#if canImport(Glibc)
import Glibc
#endif
import ALSA
import PCMBufferCore

/// An opened, configured device stream and the memory pcmd holds for it.
public struct OpenDevice: ~Copyable {
    /// The PCM, PREPARED and ready for prefill (playback) or start (capture).
    public var pcm: PCM
    /// What the device agreed to.
    public let hardware: HardwareConfiguration
    /// The sw_params in force.
    public let software: SoftwareConfiguration
    /// The substream's buffer in PCMBufferCore, sized to the negotiated device buffer: the
    /// audio thread's staging memory (mixing, non-interleaved conversion).
    public let staging: RuntimeBuffer
    /// Whether `allocate` replaced the previous buffer (the kernel's "changed").
    public let allocationChanged: Bool
    /// Whether the device paces itself (hw: devices do; alsa-lib's null and file do not).
    public let pacesItself: Bool
    /// The preallocated sw_params through which the audio thread moves avail_min as clients
    /// come and go; one period at open.
    public var wakeThreshold: WakeThreshold
}

/// How one device stream is opened; a value so the audio thread can reopen with it.
public struct DeviceOpener: Sendable {
    public let deviceName: String
    public let direction: PCM.Direction
    public let substream: SubstreamID
    public let allocator: SubstreamAllocator
    public let configuration: DaemonConfiguration

    public init(deviceName: String, direction: PCM.Direction, substream: SubstreamID,
                allocator: SubstreamAllocator, configuration: DaemonConfiguration) {
        self.deviceName = deviceName
        self.direction = direction
        self.substream = substream
        self.allocator = allocator
        self.configuration = configuration
    }

    /// Opens and configures the device. Errors say which step failed and name the device.
    public func open() throws(DeviceOpenError) -> OpenDevice {
        let layout = configuration.layout
        var pcm: PCM
        do {
            pcm = try PCM(device: deviceName, direction: direction, nonblocking: true)
        } catch {
            throw .open(error)
        }
        // Only alsa-lib's hw plugin (directly or under a config alias) is paced by a real clock.
        let pacesItself = !["NULL", "FILE"].contains(pcm.typeName)

        // The buffer is capped by what the substream's preallocation holds, and by the device.
        let sizing: HardwareSizing
        do {
            let limits = try pcm.hardwareLimits(format: layout.format, channels: layout.channels, rate: configuration.rate)
            let hardwareMax = layout.bytes(for: limits.bufferFrames.upperBound)
            let periods = configuration.bufferFrames.map { $0 / configuration.periodFrames } ?? configuration.periods
            sizing = try allocator.hardwareSizing(
                substream: substream, layout: layout, period: FrameCount(configuration.periodFrames),
                periods: periods, hardwareBufferBytesMax: hardwareMax)
        } catch let error as ALSAError {
            throw .negotiate(error)
        } catch let error as HardwareSizingLookupError {
            throw .sizing("\(error)")
        } catch {
            throw .sizing("\(error)")
        }
        let hardware: HardwareConfiguration
        let software: SoftwareConfiguration
        let wakeThreshold: WakeThreshold
        do {
            let request = HardwareRequest(
                format: layout.format, channels: layout.channels, rate: configuration.rate,
                maxBufferFrames: sizing.bufferSizeMax ?? sizing.bufferFrames,
                bufferFrames: sizing.bufferFrames, periodFrames: sizing.periodFrames,
                periods: sizing.periods, integerPeriods: true)
            hardware = try pcm.configureHardware(request)
        } catch {
            throw .negotiate(error)
        }
        // A device whose sizes were already fixed (the other end of snd-aloop, a dmix) can hand
        // back a single period: the mmap loop then has no slack at all and xruns every period.
        guard hardware.periods >= 2 else {
            throw .sizing("the device chose a \(hardware.bufferFrames.value)-frame buffer of "
                + "\(hardware.periods) period(s) of \(hardware.periodFrames.value) frames; pcmd needs at least two periods "
                + "(open this device with the same sizes as whatever holds it, or ask for a smaller --period)")
        }
        do {
            // Late playback plays silence, never a stale buffer again.
            software = try pcm.configureSoftware(SoftwareRequest(stopOnXrun: true, silenceAfterPlayed: direction == .playback))
            wakeThreshold = try WakeThreshold(pcm: pcm)
        } catch {
            throw .negotiate(error)
        }
        // The substream's buffer follows what the device chose, with allocate()'s semantics:
        // a large enough buffer is kept (unchanged), a smaller one is replaced (changed).
        let change: AllocationChange
        let staging: RuntimeBuffer
        do {
            change = try allocator.allocate(substream: substream, bytes: layout.bytes(for: hardware.bufferFrames))
            guard let buffer = try allocator.runtimeBuffer(substream: substream) else {
                throw DeviceOpenError.sizing("the allocator returned no runtime buffer after allocate")
            }
            staging = buffer
        } catch let error as PCMMemoryError {
            throw .memory(error)
        } catch {
            throw .sizing("\(error)")
        }
        return OpenDevice(pcm: pcm, hardware: hardware, software: software, staging: staging,
                          allocationChanged: change == .changed, pacesItself: pacesItself, wakeThreshold: wakeThreshold)
    }
}

/// Why a device stream could not be opened.
public enum DeviceOpenError: Error, CustomStringConvertible {
    /// snd_pcm_open failed.
    case open(ALSAError)
    /// The device refused the format, rate, channels or sizes.
    case negotiate(ALSAError)
    /// The substream's allocation could not cover the negotiated buffer.
    case memory(PCMMemoryError)
    /// Sizing from the allocation failed.
    case sizing(String)

    /// Whether waiting for `device` to appear makes sense: a card that is absent (-ENOENT for
    /// `hw:N` names, e.g. a USB interface not plugged in yet) or busy; never a name alsa-lib
    /// does not know at all.
    public func isTransient(device: String) -> Bool {
        if isTransient { return true }
        guard case .open(let error) = self, error.code == -ENOENT else { return false }
        return ["hw:", "plughw:", "sysdefault:", "dmix:", "dsnoop:", "front:"].contains { device.hasPrefix($0) }
    }

    /// Whether retrying later can help: the device is missing or busy, not misconfigured.
    public var isTransient: Bool {
        switch self {
        case .open(let error): [-ENODEV, -EBUSY, -EAGAIN, -ENXIO].contains(error.code)
        case .negotiate(let error): error.isDisconnected
        case .memory, .sizing: false
        }
    }

    /// The negative errno, for events.
    public var code: Int32 {
        switch self {
        case .open(let error), .negotiate(let error): error.code
        case .memory: -ENOMEM
        case .sizing: -EINVAL
        }
    }

    public var description: String {
        switch self {
        case .open(let error): "\(error)"
        case .negotiate(let error): "\(error)"
        case .memory(let error): "buffer allocation failed: \(error)"
        case .sizing(let text): "buffer sizing failed: \(text)"
        }
    }
}
