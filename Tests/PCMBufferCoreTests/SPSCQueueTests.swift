// Tests of SPSCQueue: capacity rounding, FIFO order, full/empty behaviour and drop counting,
// and a two-thread run that checks every value arrives once and in order.

import Foundation
import PCMBufferCore
import Synchronization
import Testing

@Suite("SPSC queue")
struct SPSCQueueTests {
    struct Event: BitwiseCopyable, Sendable, Equatable {
        var sequence: Int
        var kind: UInt8
    }

    @Test("capacity rounds up to a power of two")
    func capacity() {
        #expect(SPSCQueue<Int>(minimumCapacity: 1).capacity == 1)
        #expect(SPSCQueue<Int>(minimumCapacity: 5).capacity == 8)
        #expect(SPSCQueue<Int>(minimumCapacity: 64).capacity == 64)
    }

    @Test("values come out in order; a full queue drops and counts; an empty one returns nil")
    func fifo() {
        let queue = SPSCQueue<Event>(minimumCapacity: 4)
        #expect(queue.pop() == nil)
        #expect(queue.isEmpty)
        for i in 0..<4 { #expect(queue.push(Event(sequence: i, kind: 1))) }
        #expect(!queue.push(Event(sequence: 99, kind: 1)))
        #expect(queue.droppedCount == 1)
        #expect(queue.count == 4)
        for i in 0..<4 { #expect(queue.pop() == Event(sequence: i, kind: 1)) }
        #expect(queue.pop() == nil)
        // Wraps around the slots.
        for round in 0..<10 {
            #expect(queue.push(Event(sequence: round, kind: 2)))
            #expect(queue.pop()?.sequence == round)
        }
        #expect(queue.droppedCount == 1)
    }

    @Test("two threads: 2 million values arrive once each, in order")
    func concurrent() {
        let queue = SPSCQueue<Event>(minimumCapacity: 64)
        let total = 2_000_000
        let producer = Thread {
            var next = 0
            while next < total {
                if queue.push(Event(sequence: next, kind: UInt8(truncatingIfNeeded: next))) { next += 1 } else { sched_yield() }
            }
        }
        producer.start()
        var expected = 0
        var outOfOrder = 0
        while expected < total {
            guard let event = queue.pop() else {
                sched_yield()
                continue
            }
            if event.sequence != expected || event.kind != UInt8(truncatingIfNeeded: expected) { outOfOrder += 1 }
            expected += 1
        }
        #expect(outOfOrder == 0)
        #expect(queue.pop() == nil)
    }
}
