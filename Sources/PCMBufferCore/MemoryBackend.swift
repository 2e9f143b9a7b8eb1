// Buffer memory: its kinds (after the kernel's SNDRV_DMA_TYPE_*, plus the sealed memfd of a
// shared stream), the page size everything is rounded to, and where pages come from. The
// allocator asks a MemoryBackend for page-aligned mappings; the system backend maps real memory
// (anonymous or memfd), and tests substitute a backend that fails, to exercise the kernel's
// out-of-memory paths without exhausting the machine.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CLinux

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
    /// Memory for one shared stream, handed to an untrusted client (no kernel counterpart, so
    /// its number is outside the kernel's range). Like ``virtuallyContiguous`` it is one memfd
    /// mapped shared and populated, but the memfd is sealed against shrinking and growing
    /// (`F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`), so no client can truncate it and make the
    /// daemon fault with SIGBUS. Writes stay allowed: the client must write its ring, and
    /// `F_SEAL_FUTURE_WRITE` would also forbid the punch that reclaims the pages at release.
    ///
    /// The allocator never preallocates this type and never reuses such a buffer: every
    /// ``SubstreamAllocator/allocate(substream:bytes:)`` maps a new memfd, and releasing it
    /// punches its pages out (see ``SubstreamAllocator/release(substream:)``), because a client
    /// that mapped the memory keeps its mapping after its stream is gone.
    case sealedShared = 100

    public var description: String {
        switch self {
        case .continuous: "continuous"
        case .scatterGather: "scatter-gather"
        case .virtuallyContiguous: "virtually contiguous"
        case .sealedShared: "sealed shared"
        }
    }

    /// Whether buffers of this type are always fresh dynamic allocations, punched out when
    /// released (see ``sealedShared``).
    public var isExportedToClients: Bool { self == .sealedShared }
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

/// Why a ``MemoryBackend`` could not provide memory.
public enum MemoryBackendError: Error, Hashable, Sendable {
    /// The memory is not available (the kernel's `-ENOMEM`). The preallocation fallback
    /// halves and retries on this error only.
    case outOfMemory(bytes: Int)
    /// The size was not a positive multiple of the page size.
    case invalidSize(bytes: Int)
    /// A system call failed for another reason; `errno` is its error number.
    case systemCall(name: String, errno: Int32)
}

/// One physically contiguous run of pages inside a mapping.
public struct PageChunk: Hashable, Sendable {
    /// Where the run starts in the mapping's virtual range, in bytes.
    public var virtualOffset: Int
    /// Its length in bytes (a multiple of the page size).
    public var length: Int
    /// Where the run lives in the backing store (the memfd offset; equal to `virtualOffset`
    /// for contiguous memory). This plays the role of the kernel's DMA address.
    public var backingOffset: Int

    /// Describes a run of pages.
    public init(virtualOffset: Int, length: Int, backingOffset: Int) {
        self.virtualOffset = virtualOffset
        self.length = length
        self.backingOffset = backingOffset
    }
}

/// A mapped, page-aligned range of memory and the file descriptor behind it, if any.
///
/// The value owns the mapping and the descriptor: its `deinit` unmaps the range and closes
/// the descriptor, so exactly one owner exists at a time.
public struct MappedPages: ~Copyable {
    /// The first byte of the range.
    public let base: UnsafeMutableRawPointer
    /// The length of the range in bytes (a multiple of the page size).
    public let length: Int
    /// The memfd behind the range, for memory that can be shared with another process.
    public let fileDescriptor: Int32?
    /// The physically contiguous runs that make up the range, in virtual order.
    public let chunks: [PageChunk]

    /// Takes ownership of a mapping made with `mmap` (and of `fileDescriptor`, if given).
    public init(takingOwnershipOf base: UnsafeMutableRawPointer, length: Int, fileDescriptor: Int32?, chunks: [PageChunk]) {
        self.base = base
        self.length = length
        self.fileDescriptor = fileDescriptor
        self.chunks = chunks
    }

    deinit {
        munmap(base, length)
        if let fileDescriptor { close(fileDescriptor) }
    }
}

/// A source of page-aligned buffer memory.
///
/// The allocator calls ``map(_:bytes:)`` for every buffer it creates (preallocations, proc
/// writes and dynamic allocations), always with a positive multiple of ``PageSize/bytes``.
/// Conformers must be thread-safe.
public protocol MemoryBackend: Sendable {
    /// Maps `bytes` bytes of memory of the given type.
    func map(_ type: BufferType, bytes: Int) throws(MemoryBackendError) -> MappedPages
}

/// The backend that maps real memory: anonymous private memory for ``BufferType/continuous``
/// and a memfd for the shareable types. Pages are populated at map time so the real-time
/// thread never takes a first-touch page fault.
public struct SystemMemoryBackend: MemoryBackend {
    /// Pages per chunk of a scatter-gather buffer (the kernel's `MAX_ALLOC_PAGES`).
    public static let pagesPerChunk = 32

    /// Creates the backend; it has no state.
    public init() {}

    public func map(_ type: BufferType, bytes: Int) throws(MemoryBackendError) -> MappedPages {
        guard bytes > 0, bytes % PageSize.bytes == 0 else { throw .invalidSize(bytes: bytes) }
        switch type {
        case .continuous:
            let base = try Self.mmapChecked(nil, bytes, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, name: "mmap")
            return MappedPages(
                takingOwnershipOf: base, length: bytes, fileDescriptor: nil,
                chunks: [PageChunk(virtualOffset: 0, length: bytes, backingOffset: 0)])
        case .virtuallyContiguous, .sealedShared:
            let sealed = type == .sealedShared
            let fd = try Self.makeMemfd(bytes: bytes, sealable: sealed)
            let base: UnsafeMutableRawPointer
            do {
                base = try Self.mmapChecked(nil, bytes, MAP_SHARED | MAP_POPULATE, fd, 0, name: "mmap")
            } catch {
                close(fd)
                throw error
            }
            let pages = MappedPages(
                takingOwnershipOf: base, length: bytes, fileDescriptor: fd,
                chunks: [PageChunk(virtualOffset: 0, length: bytes, backingOffset: 0)])
            // Sealed last, once the size is final; from then on no holder of the descriptor can
            // change it. If sealing fails, `pages` unmaps and closes on the way out.
            if sealed, clinux_add_seals(fd, UInt32(CLINUX_SEAL_SHRINK | CLINUX_SEAL_GROW | CLINUX_SEAL_SEAL)) != 0 {
                throw .systemCall(name: "fcntl(F_ADD_SEALS)", errno: errno)
            }
            return pages
        case .scatterGather:
            return try Self.mapScattered(bytes: bytes)
        }
    }

    /// Maps a memfd chunk by chunk into one reserved virtual range, placing the chunks in
    /// the file in reverse order so that, as with real scatter-gather pages, contiguous
    /// virtual addresses are not backed by contiguous storage.
    private static func mapScattered(bytes: Int) throws(MemoryBackendError) -> MappedPages {
        let chunkBytes = pagesPerChunk * PageSize.bytes
        var lengths: [Int] = []
        var remaining = bytes
        while remaining > 0 {
            let length = min(chunkBytes, remaining)
            lengths.append(length)
            remaining -= length
        }
        var chunks: [PageChunk] = []
        chunks.reserveCapacity(lengths.count)
        var virtualOffset = 0
        var backingEnd = bytes
        for length in lengths {
            backingEnd -= length
            chunks.append(PageChunk(virtualOffset: virtualOffset, length: length, backingOffset: backingEnd))
            virtualOffset += length
        }
        let fd = try makeMemfd(bytes: bytes, sealable: false)
        let reserved: UnsafeMutableRawPointer
        do {
            reserved = try mmapChecked(nil, bytes, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, name: "mmap", protection: PROT_NONE)
        } catch {
            close(fd)
            throw error
        }
        for chunk in chunks {
            do {
                _ = try mmapChecked(
                    reserved + chunk.virtualOffset, chunk.length, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
                    chunk.backingOffset, name: "mmap")
            } catch {
                munmap(reserved, bytes)
                close(fd)
                throw error
            }
        }
        return MappedPages(takingOwnershipOf: reserved, length: bytes, fileDescriptor: fd, chunks: chunks)
    }

    private static func mmapChecked(
        _ address: UnsafeMutableRawPointer?, _ length: Int, _ flags: Int32, _ fd: Int32, _ offset: Int, name: String,
        protection: Int32 = PROT_READ | PROT_WRITE
    ) throws(MemoryBackendError) -> UnsafeMutableRawPointer {
        let result = mmap(address, length, protection, flags, fd, off_t(offset))
        guard let result, result != UnsafeMutableRawPointer(bitPattern: -1) else {
            let error = errno
            if error == ENOMEM { throw .outOfMemory(bytes: length) }
            throw .systemCall(name: name, errno: error)
        }
        return result
    }

    /// Creates a memfd of `bytes` bytes whose space is reserved up front (so running out of
    /// memory shows up here as `outOfMemory`, not later as SIGBUS in the audio thread).
    /// `sealable` adds `MFD_ALLOW_SEALING`; without it the kernel seals the file with
    /// `F_SEAL_SEAL` at birth.
    private static func makeMemfd(bytes: Int, sealable: Bool) throws(MemoryBackendError) -> Int32 {
        let fd = clinux_memfd_create(sealable ? "pcmd-shared-stream" : "pcmd-buffer", sealable ? 1 : 0)
        guard fd >= 0 else { throw .systemCall(name: "memfd_create", errno: errno) }
        let result = posix_fallocate(fd, 0, off_t(bytes))
        guard result == 0 else {
            close(fd)
            if result == ENOSPC || result == ENOMEM { throw .outOfMemory(bytes: bytes) }
            throw .systemCall(name: "posix_fallocate", errno: result)
        }
        return fd
    }
}
