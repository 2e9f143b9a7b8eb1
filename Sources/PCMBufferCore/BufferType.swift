// The kinds of buffer memory a substream can be given, after the kernel's SNDRV_DMA_TYPE_*
// values, and the page size every allocation is rounded to.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The kind of memory behind a buffer, modelled on the kernel's DMA buffer types.
///
/// Every type gives one virtually contiguous area (the kernel's `dmab->area`); they differ in
/// how the pages behind it are obtained and whether the memory can be shared with another
/// process through a file descriptor.
public enum BufferType: Int, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// One page-aligned region (`SNDRV_DMA_TYPE_CONTINUOUS`, `alloc_pages_exact`): private
    /// anonymous memory, not shareable.
    case continuous = 1
    /// Separately allocated chunks of pages mapped into one virtual range
    /// (`SNDRV_DMA_TYPE_DEV_SG`). The chunks (at most 32 pages each, like the kernel's
    /// `MAX_ALLOC_PAGES`) come from a memfd in scattered order, so page addresses are
    /// contiguous while their backing offsets are not. Shareable through its file descriptor.
    case scatterGather = 3
    /// Virtually contiguous memory (`SNDRV_DMA_TYPE_VMALLOC`), backed by one memfd mapped
    /// shared, so the same region can later be mapped by another process.
    case virtuallyContiguous = 7

    public var description: String {
        switch self {
        case .continuous: "continuous"
        case .scatterGather: "scatter-gather"
        case .virtuallyContiguous: "virtually contiguous"
        }
    }
}

/// The system's memory page size, the unit every buffer is rounded up to (`PAGE_SIZE`).
public enum PageSize {
    /// Bytes per page (4096 on x86-64 Linux).
    public static let bytes: Int = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? size : 4096
    }()

    /// Rounds `bytes` up to a whole number of pages (`PAGE_ALIGN`).
    @inlinable public static func align(_ bytes: Int) -> Int {
        let page = PageSize.bytes
        return (bytes + page - 1) / page * page
    }
}
