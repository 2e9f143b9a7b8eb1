// The daemon's period as its audio thread runs it, on the null PCM: avail_update, mmap_begin,
// mix every playback slot's shared ring into the device buffer (or copy capture into every
// capture slot's shared ring), publish positions and clocks, mmap_commit. The clients' part
// (a SharedRingCursor per slot, as PCMClientCore runs it) is in the cycle too. Reports the time
// per 128-frame period, what that costs per second of 48 kHz audio, and heap allocations per
// period, which must be 0.

import ALSA
import PCMBufferCore
import PCMDaemon

extension BenchmarkRegistry {
    static let daemon: [Benchmark] = [
        Benchmark(name: "daemon/playback-period-1-client") { try daemonPlayback($0, clients: 1) },
        Benchmark(name: "daemon/playback-period-8-clients") { try daemonPlayback($0, clients: 8) },
        Benchmark(name: "daemon/capture-period-8-clients") { try daemonCapture($0, clients: 8) },
    ]

    private static let daemonPeriod = 128

    /// A client's end of one slot's ring, boxed so that several fit in an array.
    private final class ClientEnd {
        var cursor: SharedRingCursor
        init(_ slot: StreamSlot) throws {
            guard let memory = slot.attachedMemory else { throw BenchmarkFailure("a claimed slot has no memory") }
            cursor = SharedRingCursor(memory: memory)
        }
    }

    private static func claim(_ slots: SlotTable, count: Int, initialState: SlotState) throws -> [StreamSlot] {
        try (0..<count).map { _ in
            try slots.claim(ringFrames: 1024, rate: 48_000, devicePeriodFrames: daemonPeriod, deviceBufferFrames: 512,
                            startThreshold: 1, latencyFrames: 1024, initialState: initialState)
        }
    }
    private static let daemonLayout = FrameLayout(format: .s16, channels: 2)

    /// A null PCM set up like a daemon device, with its substream's staging buffer.
    private struct BenchDevice: ~Copyable {
        var pcm: PCM
        let hardware: HardwareConfiguration
        let staging: RuntimeBuffer
        let allocator: SubstreamAllocator
    }

    private static func device(_ direction: PCM.Direction) throws -> BenchDevice {
        var pcm = try PCM(device: "null", direction: direction)
        let hardware = try pcm.configureHardware(HardwareRequest(
            format: .s16, channels: 2, rate: 48_000, maxBufferFrames: 512, bufferFrames: 512, periodFrames: FrameCount(daemonPeriod)))
        try pcm.configureSoftware()
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 1)
        let substream = SubstreamID(card: 0, device: 0, direction: direction == .playback ? .playback : .capture, subdevice: 0)
        _ = try allocator.preallocate(substream: substream, type: .continuous, size: 65536, max: 65536)
        try allocator.open(substream: substream)
        _ = try allocator.allocate(substream: substream, bytes: daemonLayout.bytes(for: hardware.bufferFrames))
        guard let staging = try allocator.runtimeBuffer(substream: substream) else { throw BenchmarkFailure("no staging buffer") }
        try pcm.start()
        return BenchDevice(pcm: pcm, hardware: hardware, staging: staging, allocator: allocator)
    }

    static func daemonPlayback(_ context: BenchmarkContext, clients: Int) throws -> [Measurement] {
        let bench = try device(.playback)
        let (hardware, staging, allocator) = (bench.hardware, bench.staging, bench.allocator)
        let control = try DeviceControl(stream: .playback, deviceName: "null")
        let slots = try SlotTable(allocator: allocator, card: 100, direction: .playback, count: clients, layout: daemonLayout, maximumFrames: 4096)
        let processor = PlaybackProcessor(slots: slots, control: control)
        processor.deviceOpened(hardware, staging: staging)
        let claimed = try claim(slots, count: clients, initialState: .active)
        let ends = try claimed.map(ClientEnd.init)
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: daemonPeriod * daemonLayout.bytesPerFrame, alignment: 16)
        defer { source.deallocate() }
        for (index, byte) in source.enumerated() { _ = byte; source[index] = UInt8(truncatingIfNeeded: index &* 31) }
        var failed = false
        return try report(context, label: "\(clients) client\(clients == 1 ? "" : "s") mixed", cycle: {
            // The clients' part: each writes a period into its shared ring.
            for end in ends { _ = end.cursor.write(UnsafeRawBufferPointer(source)) }
            guard case .ok = bench.pcm.availUpdate() else { failed = true; return }
            let result = bench.pcm.mmapTransfer(maxFrames: FrameCount(daemonPeriod)) { region in
                processor.process(region, deviceQueued: 0)
                return region.frames
            }
            if case .interrupted = result { failed = true }
        }) {
            if failed { throw BenchmarkFailure("the null device interrupted the period") }
            if claimed.contains(where: { $0.underruns > 0 }) { throw BenchmarkFailure("a client underran") }
        }
    }

    static func daemonCapture(_ context: BenchmarkContext, clients: Int) throws -> [Measurement] {
        let bench = try device(.capture)
        let (hardware, staging, allocator) = (bench.hardware, bench.staging, bench.allocator)
        let control = try DeviceControl(stream: .capture, deviceName: "null")
        let slots = try SlotTable(allocator: allocator, card: 101, direction: .capture, count: clients, layout: daemonLayout, maximumFrames: 4096)
        let processor = CaptureProcessor(slots: slots, control: control)
        processor.deviceOpened(hardware, staging: staging)
        let claimed = try claim(slots, count: clients, initialState: .active)
        let ends = try claimed.map(ClientEnd.init)
        let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: daemonPeriod * daemonLayout.bytesPerFrame, alignment: 16)
        defer { sink.deallocate() }
        var failed = false
        return try report(context, label: "\(clients) clients fanned out", cycle: {
            guard case .ok = bench.pcm.availUpdate() else { failed = true; return }
            let result = bench.pcm.mmapTransfer(maxFrames: FrameCount(daemonPeriod)) { region in
                processor.process(region, deviceQueued: 0)
                return region.frames
            }
            if case .interrupted = result { failed = true }
            // The clients' part: each reads its copy from its shared ring.
            for end in ends { _ = end.cursor.read(into: sink) }
        }) {
            if failed { throw BenchmarkFailure("the null device interrupted the period") }
            if claimed.contains(where: { $0.overruns > 0 }) { throw BenchmarkFailure("a client overran") }
        }
    }

    private static func report(_ context: BenchmarkContext, label: String, cycle: () -> Void, verify: () throws -> Void) throws -> [Measurement] {
        let iterations = context.iterations(200_000)
        let time = context.nanosecondsPerIteration(iterations, cycle)
        let mallocs = context.mallocsPerIteration(iterations, cycle)
        try verify()
        let periodsPerSecond = 48_000.0 / Double(daemonPeriod)
        return [
            Measurement(metric: "\(label), 128-frame period", value: time, unit: "ns/period"),
            Measurement(metric: "\(label), per second of 48 kHz audio", value: time * periodsPerSecond / 1_000_000, unit: "ms CPU/s"),
            Measurement(metric: "\(label), 128-frame period", value: mallocs ?? .nan, unit: "mallocs/period"),
        ]
    }
}
