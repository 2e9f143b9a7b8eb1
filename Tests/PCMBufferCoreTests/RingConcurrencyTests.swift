// A producer thread and a consumer thread move millions of frames through small
// rings, with uneven chunk sizes and a small boundary so the pointers wrap constantly; the
// consumer checks every frame bit-exactly.

import Foundation
import PCMBufferCore
import Synchronization
import Testing

@Suite("Ring buffer, two threads")
struct RingConcurrencyTests {
    /// Runs one producer thread against the calling thread as consumer and returns the number
    /// of frames whose content was wrong.
    func transfer(layout: FrameLayout, bufferFrames: Int, total: Int, zeroCopy: Bool) throws -> Int {
        let ring = try RingBuffer(
            layout: layout, bufferFrames: FrameCount(bufferFrames), periodFrames: FrameCount(bufferFrames / 4),
            direction: .playback, boundary: bufferFrames * 8)
        let wordsPerFrame = layout.bytesPerFrame / 4
        let producerErrors = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        // Every frame holds its own sequence number in each 32-bit word, mixed with the word index.
        let producer = Thread {
            var sent = 0
            var chunk = 1
            let scratch = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: 97 * wordsPerFrame)
            defer { scratch.deallocate() }
            while sent < total {
                chunk = chunk % 97 + 1  // 1...97 frames, never aligned with the ring
                let wanted = min(chunk, total - sent)
                if zeroCopy {
                    let region = ring.writableRegion(maxFrames: FrameCount(wanted))
                    if region.frames.value == 0 { sched_yield() }
                    let words = region.bytes.bindMemory(to: UInt32.self)
                    for frame in 0..<region.frames.value {
                        for word in 0..<wordsPerFrame { words[frame * wordsPerFrame + word] = UInt32(truncatingIfNeeded: (sent + frame) &* 31 &+ word) }
                    }
                    do { try ring.commitWrite(region.frames) } catch { producerErrors.add(1, ordering: .relaxed) }
                    sent += region.frames.value
                } else {
                    for frame in 0..<wanted {
                        for word in 0..<wordsPerFrame { scratch[frame * wordsPerFrame + word] = UInt32(truncatingIfNeeded: (sent + frame) &* 31 &+ word) }
                    }
                    let bytes = UnsafeRawBufferPointer(start: scratch.baseAddress, count: wanted * wordsPerFrame * 4)
                    let written = ring.write(bytes)
                    if written.value == 0 { sched_yield() }
                    // A short write leaves the rest to be regenerated next time round.
                    sent += written.value
                }
            }
            done.store(true, ordering: .releasing)
        }
        producer.start()
        var received = 0
        var wrong = 0
        var chunk = 50
        let scratch = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: 131 * wordsPerFrame)
        defer { scratch.deallocate() }
        while received < total {
            chunk = chunk % 131 + 1
            if zeroCopy {
                let region = ring.readableRegion(maxFrames: FrameCount(chunk))
                if region.frames.value == 0 { sched_yield() }
                let words = region.bytes.bindMemory(to: UInt32.self)
                for frame in 0..<region.frames.value {
                    for word in 0..<wordsPerFrame where words[frame * wordsPerFrame + word] != UInt32(truncatingIfNeeded: (received + frame) &* 31 &+ word) {
                        wrong += 1
                    }
                }
                try ring.commitRead(region.frames)
                received += region.frames.value
            } else {
                let count = ring.read(into: UnsafeMutableRawBufferPointer(start: scratch.baseAddress, count: chunk * wordsPerFrame * 4)).value
                if count == 0 { sched_yield() }
                for frame in 0..<count {
                    for word in 0..<wordsPerFrame where scratch[frame * wordsPerFrame + word] != UInt32(truncatingIfNeeded: (received + frame) &* 31 &+ word) {
                        wrong += 1
                    }
                }
                received += count
            }
        }
        while !done.load(ordering: .acquiring) { sched_yield() }
        #expect(ring.readableFrames == 0)
        #expect(received == total)
        return wrong + producerErrors.load(ordering: .relaxed)
    }

    @Test("20 million stereo s16 frames, zero-copy regions, every frame checked")
    func zeroCopyStereo() throws {
        #expect(try transfer(layout: FrameLayout(format: .s16, channels: 2), bufferFrames: 256, total: 20_000_000, zeroCopy: true) == 0)
    }

    @Test("5 million 6-channel float frames through copying write/read, every word checked")
    func copyingSurround() throws {
        #expect(try transfer(layout: FrameLayout(format: .float32, channels: 6), bufferFrames: 100, total: 5_000_000, zeroCopy: false) == 0)
    }
}
