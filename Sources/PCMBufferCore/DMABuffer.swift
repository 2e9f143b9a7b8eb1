// One buffer's memory, the userspace counterpart of the kernel's struct snd_dma_buffer:
// a page-aligned area of some BufferType, its page table, and the memfd behind it if any.

/// A page of a buffer, as returned by ``DMABuffer/page(at:)``.
public struct BufferPage: Hashable, Sendable {
    /// The page's index in the buffer (`offset >> PAGE_SHIFT`).
    public var index: Int
    /// The address of the page's first byte, as an integer (pointers are not `Sendable`).
    public var address: UInt
    /// Where the page lives in the backing store (memfd offset); the kernel's DMA address.
    public var backingOffset: Int
}

/// The memory of one buffer: a page-aligned, virtually contiguous area.
///
/// The area stays mapped for as long as any reference to the buffer exists, even after the
/// allocator has released it and returned its bytes to the card's accounting; that is what
/// makes a ``RuntimeBuffer`` safe to keep using until its user lets go of it.
// Safety: every stored property is immutable after init. The bytes of the area are shared
// memory; who may touch them when is coordinated by the owner (the allocator's state
// machine and the acquire/release atomics of RingBuffer), not by this class.
public final class DMABuffer: @unchecked Sendable {
    /// The kind of memory behind the area.
    public let type: BufferType
    /// The area's size, rounded up to whole pages (`dmab->bytes`).
    public let bytes: ByteCount
    private let pages: MappedPages

    /// Wraps a mapping made by a ``MemoryBackend``.
    init(type: BufferType, pages: consuming MappedPages) {
        self.type = type
        self.bytes = ByteCount(pages.length)
        self.pages = pages
    }

    /// The first byte of the area (`dmab->area`).
    public var baseAddress: UnsafeMutableRawPointer { pages.base }

    /// The whole area as a raw buffer.
    public var area: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pages.base, count: pages.length)
    }

    /// The memfd behind the area, for sharing it with another process (for example over a
    /// Unix socket with `SCM_RIGHTS`); `nil` for ``BufferType/continuous`` memory. The
    /// descriptor belongs to the buffer: duplicate it before handing it on.
    public var fileDescriptor: Int32? { pages.fileDescriptor }

    /// The number of pages in the area.
    public var pageCount: Int { pages.length / PageSize.bytes }

    /// The physically contiguous runs of pages that make up the area, in virtual order.
    public var chunks: [PageChunk] { pages.chunks }

    /// The page that holds byte `offset`, or `nil` when `offset` is negative or past the
    /// last page (the kernel's `snd_pcm_sgbuf_ops_page`, which returns NULL for
    /// `offset >> PAGE_SHIFT >= pages`).
    public func page(at offset: ByteCount) -> BufferPage? {
        guard offset.value >= 0, offset.value < pages.length else { return nil }
        let index = offset.value / PageSize.bytes
        let pageStart = index * PageSize.bytes
        // Chunks are few (one for contiguous types, bytes/128 KiB for scatter-gather).
        for chunk in pages.chunks where pageStart >= chunk.virtualOffset && pageStart < chunk.virtualOffset + chunk.length {
            return BufferPage(
                index: index,
                address: UInt(bitPattern: pages.base + pageStart),
                backingOffset: chunk.backingOffset + (pageStart - chunk.virtualOffset))
        }
        return nil
    }

    /// The length of the physically contiguous run that starts at `offset`, capped at
    /// `limit` (the kernel's `snd_sgbuf_get_chunk_size`); zero past the end.
    public func contiguousBytes(at offset: ByteCount, limit: ByteCount) -> ByteCount {
        guard offset.value >= 0, offset.value < pages.length, limit.value > 0 else { return .zero }
        for chunk in pages.chunks where offset.value >= chunk.virtualOffset && offset.value < chunk.virtualOffset + chunk.length {
            return ByteCount(min(limit.value, chunk.virtualOffset + chunk.length - offset.value))
        }
        return .zero
    }

    /// Fills the first `count` bytes (the whole area by default) with zeros, as the kernel
    /// does after hw_params so that no stale data leaks to the device or to the application.
    public func zero(_ count: ByteCount? = nil) {
        let length = min(count?.value ?? pages.length, pages.length)
        guard length > 0 else { return }
        pages.base.initializeMemory(as: UInt8.self, repeating: 0, count: length)
    }
}

/// The buffer a substream's runtime is using, and how many of its bytes are in use.
///
/// `bytes` is the size that was requested from ``SubstreamAllocator/allocate(substream:bytes:)``
/// (`runtime->dma_bytes`); it can be smaller than `buffer.bytes`, which is page-aligned and may
/// belong to a larger preallocation.
public struct RuntimeBuffer: Sendable {
    /// The memory; holding this keeps it mapped.
    public let buffer: DMABuffer
    /// The bytes in use (`runtime->dma_bytes`).
    public let bytes: ByteCount
    /// Whether the memory is the substream's preallocated buffer (otherwise it was allocated
    /// dynamically for this runtime).
    public let isPreallocated: Bool

    /// The first byte in use.
    public var baseAddress: UnsafeMutableRawPointer { buffer.baseAddress }

    /// The bytes in use, as a raw buffer.
    public var area: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: bytes.value)
    }
}
