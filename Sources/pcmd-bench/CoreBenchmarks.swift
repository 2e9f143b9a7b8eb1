// Benchmarks of PCMBufferCore: allocate/release on a preallocated substream, ring buffer
// throughput (one thread, and producer/consumer on two threads), the event queue, and heap
// allocations per operation in the steady state (which must be 0).

import Foundation
import PCMBufferCore
import Synchronization

extension BenchmarkRegistry {
    static let core: [Benchmark] = [
        Benchmark(name: "core/allocate-release", run: allocateRelease),
        Benchmark(name: "core/ring-single-thread", run: ringSingleThread),
        Benchmark(name: "core/ring-two-threads", run: ringTwoThreads),
        Benchmark(name: "core/spsc-queue", run: queue),
    ]

    static let layout = FrameLayout(format: .s16, channels: 2)
    static let period = FrameCount(128)

    /// allocate + release of a runtime buffer that reuses the preallocation (hw_params +
    /// hw_free with a managed buffer), and an `.unchanged` allocate.
    static func allocateRelease(_ context: BenchmarkContext) throws -> [Measurement] {
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        let id = SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0)
        try allocator.preallocate(substream: id, type: .scatterGather, size: .kibibytes(64), max: .mebibytes(32))
        try allocator.open(substream: id)
        let bytes = ByteCount.kibibytes(48)
        let cycle = {
            guard try allocator.allocate(substream: id, bytes: bytes) == .changed else { throw BenchmarkFailure("expected .changed") }
            try allocator.release(substream: id)
        }
        let iterations = context.iterations(2_000_000)
        let cycleTime = try context.nanosecondsPerIteration(iterations, cycle)
        let cycleMallocs = try context.mallocsPerIteration(iterations, cycle)
        try allocator.allocate(substream: id, bytes: bytes)
        let unchanged = { _ = try allocator.allocate(substream: id, bytes: .kibibytes(32)) }
        let unchangedTime = try context.nanosecondsPerIteration(iterations, unchanged)
        let unchangedMallocs = try context.mallocsPerIteration(iterations, unchanged)
        return [
            Measurement(metric: "allocate(changed)+release", value: cycleTime, unit: "ns/op"),
            Measurement(metric: "allocate(changed)+release", value: cycleMallocs ?? .nan, unit: "mallocs/op"),
            Measurement(metric: "allocate(unchanged)", value: unchangedTime, unit: "ns/op"),
            Measurement(metric: "allocate(unchanged)", value: unchangedMallocs ?? .nan, unit: "mallocs/op"),
        ]
    }

    /// One thread writes a 128-frame period and reads it back, zero-copy (the producer
    /// stores one word per frame, the consumer sums them) and with copying write/read.
    static func ringSingleThread(_ context: BenchmarkContext) throws -> [Measurement] {
        let ring = try RingBuffer(layout: layout, bufferFrames: FrameCount(1024), periodFrames: period, direction: .playback)
        var sink: UInt32 = 0
        var next: UInt32 = 0
        let zeroCopy = {
            let region = ring.writableRegion(maxFrames: period)
            let words = region.bytes.bindMemory(to: UInt32.self)
            for i in words.indices { words[i] = next &+ UInt32(i) }
            next &+= UInt32(words.count)
            try ring.commitWrite(region.frames)
            let readable = ring.readableRegion(maxFrames: period)
            for word in readable.bytes.bindMemory(to: UInt32.self) { sink &+= word }
            try ring.commitRead(readable.frames)
        }
        let iterations = context.iterations(5_000_000)
        let zeroCopyTime = try context.nanosecondsPerIteration(iterations, zeroCopy)
        let zeroCopyMallocs = try context.mallocsPerIteration(iterations, zeroCopy)

        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.bytes(for: period).value, alignment: 16)
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.bytes(for: period).value, alignment: 16)
        defer {
            source.deallocate()
            destination.deallocate()
        }
        source.initializeMemory(as: UInt8.self, repeating: 7)
        let copying = {
            guard ring.write(UnsafeRawBufferPointer(source)) == period, ring.read(into: destination) == period else {
                throw BenchmarkFailure("short copy")
            }
        }
        let copyTime = try context.nanosecondsPerIteration(iterations, copying)
        let copyMallocs = try context.mallocsPerIteration(iterations, copying)
        if sink == 1 { print("") }  // keeps the summing loop from being optimized away
        return [
            Measurement(metric: "zero-copy write+read 128 frames", value: zeroCopyTime, unit: "ns/period"),
            Measurement(metric: "zero-copy write+read", value: 1e9 * Double(period.value) / zeroCopyTime, unit: "frames/s"),
            Measurement(metric: "zero-copy write+read", value: zeroCopyMallocs ?? .nan, unit: "mallocs/period"),
            Measurement(metric: "copying write+read 128 frames", value: copyTime, unit: "ns/period"),
            Measurement(metric: "copying write+read", value: copyMallocs ?? .nan, unit: "mallocs/period"),
        ]
    }

    /// A producer thread and a consumer thread move frames through a 1024-frame ring in
    /// 128-frame periods, spinning when full/empty; the consumer checks every frame.
    static func ringTwoThreads(_ context: BenchmarkContext) throws -> [Measurement] {
        let ring = try RingBuffer(layout: layout, bufferFrames: FrameCount(1024), periodFrames: period, direction: .playback)
        let total = context.iterations(100_000_000)
        let errors = Atomic<Int>(0)
        let start = BenchmarkContext.now()
        let producer = Thread {
            var sent = 0
            while sent < total {
                let region = ring.writableRegion(maxFrames: FrameCount(min(period.value, total - sent)))
                guard region.frames.value > 0 else {
                    sched_yield()  // the machine may have fewer free cores than threads here
                    continue
                }
                let words = region.bytes.bindMemory(to: UInt32.self)
                for i in words.indices { words[i] = UInt32(truncatingIfNeeded: sent + i) }
                do { try ring.commitWrite(region.frames) } catch { errors.add(1, ordering: .relaxed) }
                sent += region.frames.value
            }
        }
        producer.start()
        var received = 0
        while received < total {
            let region = ring.readableRegion(maxFrames: period)
            guard region.frames.value > 0 else {
                sched_yield()
                continue
            }
            var wrong = 0
            let words = region.bytes.bindMemory(to: UInt32.self)
            for i in words.indices where words[i] != UInt32(truncatingIfNeeded: received + i) { wrong += 1 }
            if wrong > 0 { errors.add(wrong, ordering: .relaxed) }
            try ring.commitRead(region.frames)
            received += region.frames.value
        }
        let elapsed = Double(BenchmarkContext.now() - start)
        guard errors.load(ordering: .relaxed) == 0 else { throw BenchmarkFailure("\(errors.load(ordering: .relaxed)) frames were wrong") }
        return [
            Measurement(metric: "producer/consumer throughput", value: 1e9 * Double(total) / elapsed, unit: "frames/s"),
            Measurement(metric: "per 128-frame period", value: elapsed / Double(total) * Double(period.value), unit: "ns/period"),
        ]
    }

    /// push + pop of a 16-byte event.
    static func queue(_ context: BenchmarkContext) throws -> [Measurement] {
        struct Event: BitwiseCopyable, Sendable {
            var kind: Int
            var frames: Int
        }
        let queue = SPSCQueue<Event>(minimumCapacity: 256)
        var sum = 0
        let cycle = {
            queue.push(Event(kind: 1, frames: 128))
            sum &+= queue.pop()?.frames ?? 0
        }
        let iterations = context.iterations(10_000_000)
        let time = context.nanosecondsPerIteration(iterations, cycle)
        let mallocs = context.mallocsPerIteration(iterations, cycle)
        if sum == 1 { print("") }
        return [
            Measurement(metric: "push+pop", value: time, unit: "ns/op"),
            Measurement(metric: "push+pop", value: mallocs ?? .nan, unit: "mallocs/op"),
        ]
    }
}
