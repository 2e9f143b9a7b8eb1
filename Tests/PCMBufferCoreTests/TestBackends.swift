// Memory backends for tests: one that refuses requests above a size (to simulate running out
// of memory) and records every request, so tests can check the kernel's halving sequence.

import PCMBufferCore
import Synchronization

/// Maps real memory, but fails with `outOfMemory` for any request larger than
/// `largestAllocation`, or when the bytes it has handed out in total would pass `totalLimit`.
final class LimitedMemoryBackend: MemoryBackend {
    private let largestAllocation: Int
    private let requestLog = Locked<[Int]>([])
    private let system = SystemMemoryBackend()

    init(largestAllocation: ByteCount) {
        self.largestAllocation = largestAllocation.value
    }

    /// Every size asked for, in order, including refused ones.
    var requests: [Int] { requestLog.withLock { $0 } }

    func map(_ type: BufferType, bytes: Int) throws(MemoryBackendError) -> MappedPages {
        requestLog.withLock { $0.append(bytes) }
        guard bytes <= largestAllocation else { throw .outOfMemory(bytes: bytes) }
        return try system.map(type, bytes: bytes)
    }
}

/// Fails every request with a system-call error that is not out-of-memory.
struct BrokenMemoryBackend: MemoryBackend {
    func map(_ type: BufferType, bytes: Int) throws(MemoryBackendError) -> MappedPages {
        throw .systemCall(name: "mmap", errno: 5)
    }
}

extension SubstreamID {
    /// Playback subdevice `sub` of card 0 device 0.
    static func playback(_ sub: Int = 0, card: Int = 0, device: Int = 0) -> SubstreamID {
        SubstreamID(card: card, device: device, direction: .playback, subdevice: sub)
    }
    /// Capture subdevice `sub` of card 0 device 0.
    static func capture(_ sub: Int = 0, card: Int = 0, device: Int = 0) -> SubstreamID {
        SubstreamID(card: card, device: device, direction: .capture, subdevice: sub)
    }
}

let kib = 1024
let mib = 1024 * 1024
