// One shared stream's memory as both processes see it: the daemon formats a fresh sealed buffer
// from the allocator, the client maps the descriptor it was sent, and each then reaches the
// header, the control block and the ring through this one type. The accessors for each region
// are in SharedStreamMemory+Header.swift and SharedStreamMemory+Control.swift.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CLinux
internal import CPCMShm

/// The memory of one shared stream, mapped in this process, with the layout of
/// ``SharedStreamLayout`` (version 1).
///
/// The daemon creates it with ``init(formatting:geometry:)`` over a runtime buffer of type
/// ``BufferType/sealedShared`` and sends ``fileDescriptor`` to the client; the client creates
/// it with ``init(mapping:)``. The mapping stays valid for as long as this object exists.
///
/// Which side may do what is the whole security story, so it is spelled out per method:
/// the daemon *publishes* header fields and *loads* control fields once per period; the client
/// does the opposite. The daemon never reads back a header field it published (it keeps its
/// own copies), so a client that scribbles on the header, or on a capture ring, corrupts only
/// its own view.
// Safety: every stored property is immutable. The shared bytes are touched only through
// CPCMShm's atomic accessors (fields that change while the stream runs) or before the memory
// is shared (fields written once); the ring's frames are handed between the processes by the
// release stores and acquire loads of the two positions.
public final class SharedStreamMemory: @unchecked Sendable {
    /// The stream's geometry, as the daemon published it.
    public let geometry: SharedStreamGeometry
    /// Where the regions start.
    public let regions: SharedStreamRegions
    /// Keeps the mapping alive: the allocator's buffer (daemon) or the client's own mapping.
    private let storage: DMABuffer
    let base: UnsafeMutableRawPointer

    /// Lays out a fresh shared stream in a runtime buffer the allocator just made: writes the
    /// header's identity, regions and geometry, with the stream in ``SharedStreamState/setup``
    /// and every counter at 0. Call it before the descriptor is sent; the client relies on
    /// these fields never changing afterwards.
    ///
    /// - Throws: ``SharedStreamError/notSealedSharedMemory(_:)`` unless the buffer is
    ///   ``BufferType/sealedShared`` (the only memory that is sealed, never reused and reclaimed
    ///   at release); the errors of ``SharedStreamLayout/regions(for:pageBytes:)``;
    ///   ``SharedStreamError/memoryTooSmall(needed:available:)``.
    public init(formatting buffer: RuntimeBuffer, geometry: SharedStreamGeometry) throws(SharedStreamError) {
        guard buffer.buffer.type == .sealedShared else { throw .notSealedSharedMemory(buffer.buffer.type) }
        let regions = try SharedStreamLayout.regions(for: geometry)
        guard buffer.bytes.value >= regions.totalBytes else {
            throw .memoryTooSmall(needed: ByteCount(regions.totalBytes), available: buffer.bytes)
        }
        self.geometry = geometry
        self.regions = regions
        self.storage = buffer.buffer
        self.base = buffer.baseAddress
        let header = base.assumingMemoryBound(to: pcm_shm_header.self)
        header.pointee.magic = SharedStreamLayout.magic
        header.pointee.layout_version = SharedStreamLayout.version
        header.pointee.header_bytes = UInt32(SharedStreamLayout.headerBytes)
        header.pointee.page_bytes = UInt32(regions.pageBytes)
        header.pointee.control_offset = UInt64(regions.controlOffset)
        header.pointee.ring_offset = UInt64(regions.ringOffset)
        header.pointee.ring_bytes = UInt64(regions.ringBytes)
        header.pointee.total_bytes = UInt64(regions.totalBytes)
        header.pointee.direction = UInt32(geometry.direction.rawValue)
        header.pointee.buffer_frames = UInt64(geometry.bufferFrames.value)
        header.pointee.bytes_per_frame = UInt32(geometry.layout.bytesPerFrame)
        header.pointee.sample_format = UInt32(geometry.layout.format.rawValue)
        header.pointee.channels = UInt32(geometry.layout.channels)
        header.pointee.rate = UInt32(geometry.rate)
        header.pointee.device_period_frames = UInt64(geometry.devicePeriodFrames.value)
        header.pointee.device_buffer_frames = UInt64(geometry.deviceBufferFrames.value)
        pcm_shm_store_state(header, SharedStreamState.setup.rawValue)
    }

    /// Maps the memory of a shared stream from a descriptor the daemon sent, after checking
    /// that the file is sealed against shrinking (so this process cannot fault on it either),
    /// and that its header describes a layout this build knows and that fits the file.
    ///
    /// The descriptor stays the caller's: it can be closed as soon as this returns, and the
    /// mapping outlives it.
    ///
    /// - Throws: ``SharedStreamError/systemCall(name:errno:)`` when `fstat`, `fcntl` or `mmap`
    ///   fails; ``SharedStreamError/notSealed(_:)`` when the file could still shrink;
    ///   ``SharedStreamError/badMagic(_:)``, ``SharedStreamError/unsupportedVersion(_:)`` or
    ///   ``SharedStreamError/invalidHeader(field:value:)`` when the header is not a valid
    ///   version-1 header for a file of this size.
    public init(mapping fileDescriptor: Int32) throws(SharedStreamError) {
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { throw .systemCall(name: "fstat", errno: errno) }
        let rawSeals = clinux_get_seals(fileDescriptor)
        guard rawSeals >= 0 else { throw .systemCall(name: "fcntl(F_GET_SEALS)", errno: errno) }
        let seals = MemorySeals(rawValue: UInt32(rawSeals))
        guard seals.isSuperset(of: [.shrink, .seal]) else { throw .notSealed(seals) }
        let size = Int(status.st_size)
        let minimum = 2 * max(PageSize.bytes, SharedStreamLayout.headerBytes)
        guard size >= minimum, size % PageSize.bytes == 0 else {
            throw .invalidHeader(field: "file size", value: UInt64(truncatingIfNeeded: size))
        }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fileDescriptor, 0),
            mapped != MAP_FAILED
        else { throw .systemCall(name: "mmap", errno: errno) }
        // Owned from here, so every throw below unmaps it.
        let storage = DMABuffer(
            type: .sealedShared,
            pages: MappedPages(
                takingOwnershipOf: mapped, length: size, fileDescriptor: nil,
                chunks: [PageChunk(virtualOffset: 0, length: size, backingOffset: 0)]))
        let header = UnsafePointer(mapped.assumingMemoryBound(to: pcm_shm_header.self))
        let (geometry, regions) = try Self.decode(header, fileBytes: size)
        self.geometry = geometry
        self.regions = regions
        self.storage = storage
        self.base = mapped
    }

    /// Reads the geometry and regions out of a header, checking every field against the others
    /// and against the file, so that no later access computed from them leaves the mapping.
    /// Reads only the fields written once (never the atomics, which the daemon may be storing).
    private static func decode(_ pointer: UnsafePointer<pcm_shm_header>, fileBytes: Int) throws(SharedStreamError) -> (SharedStreamGeometry, SharedStreamRegions) {
        let header = HeaderIdentity(pointer)
        guard header.magic == SharedStreamLayout.magic else { throw .badMagic(header.magic) }
        guard header.layout_version == SharedStreamLayout.version else { throw .unsupportedVersion(header.layout_version) }
        guard Int(header.header_bytes) == SharedStreamLayout.headerBytes else {
            throw .invalidHeader(field: "header_bytes", value: UInt64(header.header_bytes))
        }
        guard let direction = StreamDirection(rawValue: Int(header.direction)) else {
            throw .invalidHeader(field: "direction", value: UInt64(header.direction))
        }
        guard header.sample_format <= UInt32(UInt8.max), let format = SampleFormat(rawValue: UInt8(header.sample_format)) else {
            throw .invalidHeader(field: "sample_format", value: UInt64(header.sample_format))
        }
        guard header.channels >= 1, header.channels <= 1024 else {
            throw .invalidHeader(field: "channels", value: UInt64(header.channels))
        }
        let layout = FrameLayout(format: format, channels: Int(header.channels))
        guard Int(header.bytes_per_frame) == layout.bytesPerFrame else {
            throw .invalidHeader(field: "bytes_per_frame", value: UInt64(header.bytes_per_frame))
        }
        let limit = UInt64(SharedStreamLayout.maxRingBytes)
        guard header.buffer_frames <= limit else { throw .invalidHeader(field: "buffer_frames", value: header.buffer_frames) }
        guard header.device_period_frames <= limit else {
            throw .invalidHeader(field: "device_period_frames", value: header.device_period_frames)
        }
        guard header.device_buffer_frames <= limit else {
            throw .invalidHeader(field: "device_buffer_frames", value: header.device_buffer_frames)
        }
        let geometry = SharedStreamGeometry(
            direction: direction, layout: layout, rate: Int(header.rate), bufferFrames: FrameCount(Int(header.buffer_frames)),
            devicePeriodFrames: FrameCount(Int(header.device_period_frames)),
            deviceBufferFrames: FrameCount(Int(header.device_buffer_frames)))
        // The client lays the geometry out again with its own arithmetic and page size; every
        // region field the daemon wrote must agree with that.
        let regions: SharedStreamRegions
        do {
            regions = try SharedStreamLayout.regions(for: geometry, pageBytes: PageSize.bytes)
        } catch {
            throw .invalidHeader(field: "geometry", value: header.buffer_frames)
        }
        let expected: [(String, UInt64, Int)] = [
            ("page_bytes", UInt64(header.page_bytes), regions.pageBytes),
            ("control_offset", header.control_offset, regions.controlOffset),
            ("ring_offset", header.ring_offset, regions.ringOffset),
            ("ring_bytes", header.ring_bytes, regions.ringBytes),
            ("total_bytes", header.total_bytes, regions.totalBytes),
        ]
        for (field, value, wanted) in expected where value != UInt64(wanted) {
            throw .invalidHeader(field: field, value: value)
        }
        guard regions.totalBytes <= fileBytes else {
            throw .memoryTooSmall(needed: ByteCount(regions.totalBytes), available: ByteCount(fileBytes))
        }
        return (geometry, regions)
    }

    /// Locks the whole mapping into RAM (`mlock`), so the audio thread that reads and writes
    /// it never takes a page fault that waits for the disk or for reclaim. Returns `nil` on
    /// success, or the `errno` of a refusal (`EPERM`, or `ENOMEM` over `RLIMIT_MEMLOCK`): the
    /// stream still works then, only without that guarantee, and the caller says so once.
    ///
    /// Call ``unlockResident()`` before the memory is released: the kernel refuses the
    /// reclaiming punch (`MADV_REMOVE`) on locked pages.
    public func lockResident() -> Int32? {
        mlock(base, regions.totalBytes) == 0 ? nil : errno
    }

    /// Undoes ``lockResident()``; harmless when the lock was refused or never taken.
    public func unlockResident() {
        _ = munlock(base, regions.totalBytes)  // fails only for a range that was never locked
    }

    /// The memfd behind the memory, to send to the client with `SCM_RIGHTS`; `nil` in the
    /// client, which needs no descriptor once it has mapped the memory. The descriptor belongs
    /// to the allocator's buffer: sending it duplicates it into the client, and this one stays
    /// open until the buffer goes away.
    public var fileDescriptor: Int32? { storage.fileDescriptor }

    /// The ring's bytes: ``SharedStreamGeometry/bufferFrames`` frames of device layout.
    public var ring: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + regions.ringOffset, count: regions.ringBytes)
    }

    /// The address of the frame a free-running position refers to (`position % bufferFrames`).
    /// Always inside the ring, whatever the position: the audio thread computes addresses only
    /// from its own position and never from a value the client wrote.
    @inline(__always)
    public func ringAddress(ofFrame position: UInt64) -> UnsafeMutableRawPointer {
        let frame = Int(position % UInt64(geometry.bufferFrames.value))
        return base + regions.ringOffset + frame * geometry.layout.bytesPerFrame
    }

    /// The fields of a header that are written once, read one by one.
    private struct HeaderIdentity {
        let magic, layout_version, header_bytes, page_bytes, direction, bytes_per_frame, sample_format, channels, rate: UInt32
        let control_offset, ring_offset, ring_bytes, total_bytes: UInt64
        let buffer_frames, device_period_frames, device_buffer_frames: UInt64

        init(_ header: UnsafePointer<pcm_shm_header>) {
            magic = header.pointee.magic
            layout_version = header.pointee.layout_version
            header_bytes = header.pointee.header_bytes
            page_bytes = header.pointee.page_bytes
            direction = header.pointee.direction
            bytes_per_frame = header.pointee.bytes_per_frame
            sample_format = header.pointee.sample_format
            channels = header.pointee.channels
            rate = header.pointee.rate
            control_offset = header.pointee.control_offset
            ring_offset = header.pointee.ring_offset
            ring_bytes = header.pointee.ring_bytes
            total_bytes = header.pointee.total_bytes
            buffer_frames = header.pointee.buffer_frames
            device_period_frames = header.pointee.device_period_frames
            device_buffer_frames = header.pointee.device_buffer_frames
        }
    }

    var header: UnsafeMutablePointer<pcm_shm_header> { base.assumingMemoryBound(to: pcm_shm_header.self) }

    var control: UnsafeMutablePointer<pcm_shm_control> {
        (base + regions.controlOffset).assumingMemoryBound(to: pcm_shm_control.self)
    }
}
