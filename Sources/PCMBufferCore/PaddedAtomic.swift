// An atomic integer alone on its cache line, so that a producer's and a consumer's
// positions do not share one (false sharing would make every commit a cache miss on the
// other core).

import Synchronization

/// An `Atomic<Int>` padded to 128 bytes (two 64-byte lines, covering adjacent-line prefetch).
struct PaddedAtomicInt: ~Copyable {
    private let before: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    let atomic: Atomic<Int>
    private let after: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)

    init(_ value: Int) { atomic = Atomic(value) }
}
