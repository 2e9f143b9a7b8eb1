// The project's lock (`Locked`): exclusive access under contention, typed errors carried out of
// the critical section with the lock released, and non-copyable values. Under
// `scripts/sanitize thread` these are also the smallest case of the annotation that lets
// ThreadSanitizer see the lock: without it, the counter test is reported as a race.

import Foundation
import PCMBufferCore
import Testing

/// State with a mutating method, as the allocator's is: the shape TSan misread under a bare Mutex.
private struct Tally {
    var counts: [Int: Int] = [:]
    var total = 0
    mutating func add(_ key: Int) {
        counts[key, default: 0] += 1
        total += 1
    }
}

private enum Refusal: Error, Equatable { case odd(Int) }

/// A value that cannot be copied, like the C resources the daemon keeps behind locks.
private struct Token: ~Copyable {
    var uses = 0
}

@Suite("Locked")
struct LockedTests {
    @Test("four threads adding 5000 times each lose no update")
    func contention() {
        let tally = Locked(Tally())
        let threads = (0..<4).map { index in
            Thread {
                for round in 0..<5000 { tally.withLock { $0.add((index * 31 + round) % 13) } }
            }
        }
        for thread in threads { thread.start() }
        while !threads.allSatisfy(\.isFinished) { sched_yield() }
        let (total, sum) = tally.withLock { ($0.total, $0.counts.values.reduce(0, +)) }
        #expect(total == 20_000)
        #expect(sum == 20_000)
    }

    @Test("a typed error leaves the critical section, the change before it kept, and the lock free again")
    func typedError() {
        let value = Locked(0)
        #expect(throws: Refusal.odd(1)) {
            try value.withLock { (number) throws(Refusal) in
                number += 1
                if number % 2 == 1 { throw .odd(number) }
            }
        }
        // Taken again at once: a lock left held would hang here.
        let now = value.withLock { number -> Int in
            number += 1
            return number
        }
        #expect(now == 2)
    }

    @Test("a non-copyable value is changed in place")
    func noncopyable() {
        let token = Locked(Token())
        for _ in 0..<3 { token.withLock { $0.uses += 1 } }
        #expect(token.withLock { $0.uses } == 3)
    }
}
