// A fixed-capacity, lock-free queue of small values from one producer thread to one
// consumer thread, e.g. events from the audio thread to a logging thread. All memory is
// allocated at init; push and pop never allocate, lock or block. Also the padded atomic
// position that this queue and RingBuffer keep each side's counter in.

import Synchronization

/// A bounded single-producer single-consumer queue of plain values.
///
/// `push` may be called by one thread at a time (the producer) and `pop` by one thread at a
/// time (the consumer); the two may run concurrently. Neither allocates, locks nor waits, so
/// both are safe on a real-time thread. When the queue is full, `push` drops the value,
/// returns `false` and counts it in ``droppedCount``: a real-time producer must never wait
/// for a slow consumer.
// Safety: `slots` is shared, but slot i is written only by the producer before it publishes
// `tail` past i (release) and read only by the consumer after it observes that (acquire), and
// the producer reuses a slot only after the consumer has published `head` past it.
public final class SPSCQueue<Element: BitwiseCopyable & Sendable>: @unchecked Sendable {
    /// How many values the queue holds at most (a power of two).
    public let capacity: Int
    private let mask: Int
    private let slots: UnsafeMutablePointer<Element>
    /// The count of values popped so far; written by the consumer only.
    private let head = PaddedAtomicInt(0)
    /// The count of values pushed so far; written by the producer only.
    private let tail = PaddedAtomicInt(0)
    private let dropped = PaddedAtomicInt(0)

    /// Creates an empty queue holding at least `minimumCapacity` values (rounded up to a
    /// power of two).
    ///
    /// - Precondition: `minimumCapacity >= 1` and not absurdly large (at most 2^40).
    public init(minimumCapacity: Int) {
        precondition(minimumCapacity >= 1 && minimumCapacity <= 1 << 40, "SPSCQueue capacity must be in 1...2^40")
        var capacity = 1
        while capacity < minimumCapacity { capacity <<= 1 }
        self.capacity = capacity
        self.mask = capacity - 1
        self.slots = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
    }

    deinit {
        // Elements are BitwiseCopyable: nothing to deinitialize.
        slots.deallocate()
    }

    /// Appends a value (producer side). Returns `false`, and counts a drop, when the queue is full.
    @discardableResult
    public func push(_ value: Element) -> Bool {
        let tail = self.tail.atomic.load(ordering: .relaxed)
        let head = self.head.atomic.load(ordering: .acquiring)
        guard tail &- head < capacity else {
            dropped.atomic.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        (slots + (tail & mask)).initialize(to: value)
        self.tail.atomic.store(tail &+ 1, ordering: .releasing)
        return true
    }

    /// Removes the oldest value (consumer side), or returns `nil` when the queue is empty.
    public func pop() -> Element? {
        let head = self.head.atomic.load(ordering: .relaxed)
        let tail = self.tail.atomic.load(ordering: .acquiring)
        guard head != tail else { return nil }
        let value = slots[head & mask]
        self.head.atomic.store(head &+ 1, ordering: .releasing)
        return value
    }

    /// The number of values waiting. Exact when called by the producer or the consumer while
    /// the other side is idle; otherwise a snapshot that may already be stale.
    public var count: Int {
        let head = self.head.atomic.load(ordering: .acquiring)
        let tail = self.tail.atomic.load(ordering: .acquiring)
        return max(0, min(capacity, tail &- head))
    }

    /// Whether no value is waiting (see ``count`` for how current this is).
    public var isEmpty: Bool { count == 0 }

    /// The number of values `push` dropped because the queue was full.
    public var droppedCount: Int { dropped.atomic.load(ordering: .relaxed) }
}

/// A position shared between two threads, alone on its cache lines, so that a producer's
/// and a consumer's positions do not share one (false sharing would make every commit a
/// cache miss on the other core).
/// Padded to 128 bytes: two 64-byte lines, covering adjacent-line prefetch.
struct PaddedAtomicInt: ~Copyable {
    private let before: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    let atomic: Atomic<Int>
    private let after: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)

    init(_ value: Int) { atomic = Atomic(value) }
}
