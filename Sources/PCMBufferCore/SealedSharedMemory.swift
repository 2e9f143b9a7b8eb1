// What makes a BufferType.sealedShared buffer safe to hand to an untrusted client: the seals on
// its memfd, and the punch that reclaims its pages when the daemon releases it.
//
// The threat is the other process. A client that could shrink the memfd would make the daemon's
// real-time thread fault with SIGBUS on its next access; a client that kept its mapping after its
// stream closed would keep reading (and writing) whatever the daemon put there next. The first is
// stopped by F_SEAL_SHRINK (and F_SEAL_GROW, F_SEAL_SEAL so the set is final); the second by
// never reusing the memory (the allocator's rule) and by punching it out at release, which frees
// the pages even while the client still maps them: its mapping then reads zeros.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CLinux

/// The seals on a memfd (`fcntl(F_GET_SEALS)`), as an option set.
public struct MemorySeals: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// No further seals can be added (`F_SEAL_SEAL`).
    public static let seal = MemorySeals(rawValue: UInt32(CLINUX_SEAL_SEAL))
    /// The file cannot shrink (`F_SEAL_SHRINK`): no `ftruncate` to a smaller size.
    public static let shrink = MemorySeals(rawValue: UInt32(CLINUX_SEAL_SHRINK))
    /// The file cannot grow (`F_SEAL_GROW`): no `ftruncate`, `fallocate` or write past its end.
    public static let grow = MemorySeals(rawValue: UInt32(CLINUX_SEAL_GROW))
    /// The contents cannot change (`F_SEAL_WRITE`); never set on stream memory.
    public static let write = MemorySeals(rawValue: UInt32(CLINUX_SEAL_WRITE))
    /// No new writable mapping (`F_SEAL_FUTURE_WRITE`); never set on stream memory, because
    /// it also makes the kernel refuse the punch that reclaims it.
    public static let futureWrite = MemorySeals(rawValue: UInt32(CLINUX_SEAL_FUTURE_WRITE))

    /// The seals a ``BufferType/sealedShared`` memfd carries from the moment it is mapped.
    public static let sharedStream: MemorySeals = [.shrink, .grow, .seal]

    /// The seals on the file behind `fileDescriptor`. A client can use this to check that
    /// memory it was given cannot be truncated under it.
    public static func of(fileDescriptor: Int32) throws(MemoryBackendError) -> MemorySeals {
        let seals = clinux_get_seals(fileDescriptor)
        guard seals >= 0 else { throw .systemCall(name: "fcntl(F_GET_SEALS)", errno: errno) }
        return MemorySeals(rawValue: UInt32(seals))
    }

    public var description: String {
        let names: [(MemorySeals, String)] = [
            (.seal, "seal"), (.shrink, "shrink"), (.grow, "grow"), (.write, "write"), (.futureWrite, "future-write"),
        ]
        let present = names.filter { contains($0.0) }.map(\.1)
        return present.isEmpty ? "[]" : "[" + present.joined(separator: ", ") + "]"
    }
}

extension DMABuffer {
    /// The seals on the buffer's memfd; empty for memory that has no descriptor.
    public func seals() throws(MemoryBackendError) -> MemorySeals {
        guard let fileDescriptor else { return [] }
        return try MemorySeals.of(fileDescriptor: fileDescriptor)
    }

    /// Frees the pages behind the whole area now, in every process that maps them
    /// (`madvise(MADV_REMOVE)` over this mapping, which punches a hole through the memfd).
    ///
    /// Every mapping of the memfd, this one and any a client still holds, reads zeros
    /// afterwards; a write through one of them allocates a fresh zero page again. The
    /// allocator calls this when it releases a ``BufferType/sealedShared`` buffer, after which
    /// the daemon must not touch the area: the audio thread has to be detached from the stream
    /// first, or its next period would silently repopulate pages the card is no longer charged
    /// for. The seals allow the punch (only `F_SEAL_WRITE` and `F_SEAL_FUTURE_WRITE` forbid it,
    /// and the set is closed by `F_SEAL_SEAL`), so a failure means the memory is not what the
    /// allocator made.
    func reclaim() throws(MemoryBackendError) {
        guard madvise(baseAddress, bytes.value, MADV_REMOVE) == 0 else {
            throw .systemCall(name: "madvise(MADV_REMOVE)", errno: errno)
        }
    }
}
