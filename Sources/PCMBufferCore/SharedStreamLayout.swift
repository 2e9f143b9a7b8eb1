// The shape of one shared stream's memory (layout version 1): the geometry the daemon decides,
// the three regions it implies (header page, control page, data ring), and the errors of laying
// out or mapping such memory. The byte layout itself is C (CPCMShm.h), so that its offsets are
// pinned by the C compiler for any client; docs/protocol.md §7 is the prose version.

internal import CPCMShm

/// What the daemon decides about a shared stream before any memory exists: the ring in device
/// frames, the device's negotiated sizes, and which side produces.
///
/// The daemon takes every number here from its own configuration and the device, never from
/// the client, and publishes them once in the header.
public struct SharedStreamGeometry: Hashable, Sendable {
    /// Playback: the client produces, the daemon consumes. Capture: the other way round.
    public var direction: StreamDirection
    /// The device's frame layout; the ring holds device-layout frames, so it can be mixed as is.
    public var layout: FrameLayout
    /// Frames per second.
    public var rate: Int
    /// Frames in the ring; a multiple of ``SharedStreamLayout/ringFrameQuantum(bytesPerFrame:pageBytes:)``.
    public var bufferFrames: FrameCount
    /// The period the device negotiated (what the client reports as its wake granularity).
    public var devicePeriodFrames: FrameCount
    /// The buffer the device negotiated (part of the latency the client reports).
    public var deviceBufferFrames: FrameCount

    /// Describes a shared stream.
    public init(
        direction: StreamDirection, layout: FrameLayout, rate: Int, bufferFrames: FrameCount,
        devicePeriodFrames: FrameCount, deviceBufferFrames: FrameCount
    ) {
        self.direction = direction
        self.layout = layout
        self.rate = rate
        self.bufferFrames = bufferFrames
        self.devicePeriodFrames = devicePeriodFrames
        self.deviceBufferFrames = deviceBufferFrames
    }
}

/// Where the three regions of a shared stream's memory start, in bytes from the start of the
/// memfd. Each region starts on a page boundary.
public struct SharedStreamRegions: Hashable, Sendable {
    /// The page size the layout was made with (the daemon's).
    public let pageBytes: Int
    /// The client's control block: the second page.
    public let controlOffset: Int
    /// The data ring: the third page.
    public let ringOffset: Int
    /// The ring's size: `bufferFrames × bytesPerFrame`, a whole number of pages.
    public let ringBytes: Int

    /// The whole memfd: header page, control page and ring.
    public var totalBytes: Int { ringOffset + ringBytes }
}

/// The constants of the shared stream layout and the arithmetic that sizes it.
public enum SharedStreamLayout {
    /// The header's first four bytes: `P`, `C`, `M`, `S` (`0x534D_4350` as a little-endian
    /// `UInt32`). The wire protocol's messages start with `PCMD`.
    public static let magic: UInt32 = PCM_SHM_MAGIC
    /// The layout version this build writes and maps. Protocol version 2 uses version 1.
    public static let version: UInt32 = PCM_SHM_LAYOUT_VERSION
    /// The size of the daemon's header structure; the header region is a whole page.
    public static let headerBytes = Int(PCM_SHM_HEADER_SIZE)
    /// The size of the client's control structure; the control region is a whole page.
    public static let controlBytes = Int(PCM_SHM_CONTROL_SIZE)
    /// The largest ring this build lays out (1 GiB): far beyond any latency the protocol
    /// allows, and small enough that no size computed from it overflows.
    public static let maxRingBytes = 1 << 30

    /// The ring's size must be a multiple of this many frames: the smallest number of frames
    /// that fills whole pages, `lcm(pageBytes, bytesPerFrame) / bytesPerFrame`. Whole pages let
    /// the ring be mapped twice back to back later; whole frames mean no frame straddles the
    /// wrap.
    public static func ringFrameQuantum(bytesPerFrame: Int, pageBytes: Int = PageSize.bytes) -> Int {
        precondition(bytesPerFrame > 0 && pageBytes > 0, "sizes must be positive")
        return pageBytes / greatestCommonDivisor(pageBytes, bytesPerFrame)
    }

    /// The smallest valid ring of at least `frames` frames (at least one quantum).
    public static func ringFrames(atLeast frames: FrameCount, layout: FrameLayout, pageBytes: Int = PageSize.bytes) -> FrameCount {
        let quantum = ringFrameQuantum(bytesPerFrame: layout.bytesPerFrame, pageBytes: pageBytes)
        let wanted = max(frames.value, 1)
        return FrameCount((wanted + quantum - 1) / quantum * quantum)
    }

    /// Checks a geometry and works out its regions.
    ///
    /// - Throws: ``SharedStreamError/invalidGeometry(field:value:)`` for a size, rate or count
    ///   out of range; ``SharedStreamError/ringNotAligned(bufferFrames:quantum:)`` when the ring
    ///   is not a multiple of the quantum.
    public static func regions(for geometry: SharedStreamGeometry, pageBytes: Int = PageSize.bytes) throws(SharedStreamError) -> SharedStreamRegions {
        let bytesPerFrame = geometry.layout.bytesPerFrame
        let buffer = geometry.bufferFrames.value
        guard buffer > 0, buffer <= maxRingBytes / bytesPerFrame else {
            throw .invalidGeometry(field: "bufferFrames", value: buffer)
        }
        guard geometry.layout.channels <= Int(UInt32.max) else {
            throw .invalidGeometry(field: "channels", value: geometry.layout.channels)
        }
        guard geometry.rate > 0, geometry.rate <= Int(UInt32.max) else { throw .invalidGeometry(field: "rate", value: geometry.rate) }
        let period = geometry.devicePeriodFrames.value
        guard period > 0 else { throw .invalidGeometry(field: "devicePeriodFrames", value: period) }
        let deviceBuffer = geometry.deviceBufferFrames.value
        guard deviceBuffer >= period else { throw .invalidGeometry(field: "deviceBufferFrames", value: deviceBuffer) }
        let quantum = ringFrameQuantum(bytesPerFrame: bytesPerFrame, pageBytes: pageBytes)
        guard buffer % quantum == 0 else { throw .ringNotAligned(bufferFrames: geometry.bufferFrames, quantum: quantum) }
        // A page must hold each structure; true for every page size Linux has (4 KiB and up).
        let region = max(pageBytes, headerBytes, controlBytes)
        return SharedStreamRegions(
            pageBytes: pageBytes, controlOffset: region, ringOffset: 2 * region, ringBytes: buffer * bytesPerFrame)
    }

    private static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}

/// Why shared stream memory could not be laid out or mapped.
public enum SharedStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A geometry field is out of range (zero or negative sizes, a device buffer smaller than
    /// its period, a ring beyond ``SharedStreamLayout/maxRingBytes``).
    case invalidGeometry(field: String, value: Int)
    /// The ring is not a whole number of ``SharedStreamLayout/ringFrameQuantum(bytesPerFrame:pageBytes:)``s.
    case ringNotAligned(bufferFrames: FrameCount, quantum: Int)
    /// The daemon tried to lay out a stream in memory that is not ``BufferType/sealedShared``:
    /// only that memory is sealed, fresh and reclaimed at release.
    case notSealedSharedMemory(BufferType)
    /// The memory is smaller than the layout needs.
    case memoryTooSmall(needed: ByteCount, available: ByteCount)
    /// A system call failed while mapping a received descriptor.
    case systemCall(name: String, errno: Int32)
    /// A received descriptor's file could still shrink (it lacks `F_SEAL_SHRINK` or
    /// `F_SEAL_SEAL`), so accessing a mapping of it could fault.
    case notSealed(MemorySeals)
    /// The mapped memory does not start with ``SharedStreamLayout/magic``.
    case badMagic(UInt32)
    /// The mapped memory has a layout version this build does not know.
    case unsupportedVersion(UInt32)
    /// A header field contradicts the others or the size of the memory.
    case invalidHeader(field: String, value: UInt64)

    public var description: String {
        switch self {
        case .invalidGeometry(let field, let value): "shared stream geometry: \(field) \(value) is out of range"
        case .ringNotAligned(let frames, let quantum):
            "shared stream ring of \(frames.value) frames is not a multiple of \(quantum) frames (whole pages)"
        case .notSealedSharedMemory(let type): "shared stream memory must be sealed shared memory, not \(type)"
        case .memoryTooSmall(let needed, let available):
            "shared stream needs \(needed.value) bytes, the memory has \(available.value)"
        case .systemCall(let name, let errno): "\(name) failed: errno \(errno)"
        case .notSealed(let seals): "shared stream memory is not sealed against shrinking (seals \(seals))"
        case .badMagic(let magic): "shared stream memory has magic 0x\(String(magic, radix: 16)), not PCMS"
        case .unsupportedVersion(let version): "shared stream layout version \(version) is not supported"
        case .invalidHeader(let field, let value): "shared stream header: \(field) \(value) is inconsistent"
        }
    }
}
