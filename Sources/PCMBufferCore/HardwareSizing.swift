// Which buffer and period sizes to ask hw_params for, given how much memory a substream may
// use. The kernel caps BUFFER_BYTES at substream->buffer_bytes_max (the preallocated size,
// or unlimited without one); this turns that cap into frames and picks the request.

/// Why no sizing could be derived.
public enum SizingError: Error, Hashable, Sendable {
    /// The period count must be at least 1.
    case invalidPeriodCount(Int)
    /// A requested period must be at least one frame.
    case invalidPeriod(FrameCount)
    /// The allowed buffer cannot hold one frame per period.
    case bufferTooSmall(bufferSizeMax: FrameCount, periods: Int)
}

/// The buffer and period sizes a substream will request from hw_params, and the largest
/// buffer the kernel will allow it.
///
/// The policy:
/// 1. **Limit.** The buffer may hold at most `min(bufferBytesMax, hardwareBufferBytesMax)`
///    bytes, i.e. ``bufferSizeMax`` = that ÷ bytes per frame, rounded down (the kernel's
///    `snd_pcm_hw_rule_buffer_bytes_max` seen through the BYTES/SIZE rule). `nil` limits
///    mean unlimited, as `UINT_MAX` does in the kernel.
/// 2. **Requested period.** With a period, the request is `period × periods` frames if that
///    fits; otherwise the period count is kept and the period shrinks to
///    `bufferSizeMax ÷ periods` (rounded down), so latency only ever goes down.
/// 3. **No period.** The buffer is the whole limit (what the kernel's `choose` step would
///    pick: the largest buffer), rounded down to whole periods, with `periods` periods. When
///    nothing limits the buffer, the period is `unboundedPeriod` (1024 frames by default).
///
/// The application then asks hw_params for ``bufferFrames`` first and ``periodFrames``
/// second (alsa-lib's own order) and must read back what it got: drivers round.
public struct HardwareSizing: Hashable, Sendable {
    /// The largest buffer hw_params will accept, in frames; `nil` when nothing here limits it.
    public let bufferSizeMax: FrameCount?
    /// The buffer size to request.
    public let bufferFrames: FrameCount
    /// The period size to request.
    public let periodFrames: FrameCount
    /// The number of periods in the buffer.
    public let periods: Int

    /// The period used when neither a period nor a limit is given.
    public static let defaultUnboundedPeriod = FrameCount(1024)

    /// Derives the request (see the type's documentation for the policy).
    ///
    /// - Parameters:
    ///   - bufferBytesMax: the substream's limit, from ``SubstreamAllocator/bufferBytesMax(substream:)``.
    ///   - layout: the frame layout hw_params will use.
    ///   - period: the wanted period, or `nil` to derive it from the limit.
    ///   - periods: the wanted number of periods (at least 1; 2 or more for double buffering).
    ///   - hardwareBufferBytesMax: the driver's own limit (`snd_pcm_hardware.buffer_bytes_max`), if known.
    ///   - unboundedPeriod: the period when nothing else decides it.
    public init(
        bufferBytesMax: ByteCount?, layout: FrameLayout, period: FrameCount?, periods: Int,
        hardwareBufferBytesMax: ByteCount? = nil, unboundedPeriod: FrameCount = HardwareSizing.defaultUnboundedPeriod
    ) throws(SizingError) {
        guard periods >= 1 else { throw .invalidPeriodCount(periods) }
        if let period, period.value < 1 { throw .invalidPeriod(period) }
        guard unboundedPeriod.value >= 1 else { throw .invalidPeriod(unboundedPeriod) }
        let maximum = Self.bufferSizeMax(bufferBytesMax: bufferBytesMax, hardwareBufferBytesMax: hardwareBufferBytesMax, layout: layout)
        if let maximum, maximum.value < periods { throw .bufferTooSmall(bufferSizeMax: maximum, periods: periods) }

        var chosenPeriod: Int
        switch (period, maximum) {
        case (let period?, let maximum?):
            let (total, overflow) = period.value.multipliedReportingOverflow(by: periods)
            chosenPeriod = !overflow && total <= maximum.value ? period.value : maximum.value / periods
        case (let period?, nil):
            chosenPeriod = period.value
        case (nil, let maximum?):
            chosenPeriod = maximum.value / periods
        case (nil, nil):
            chosenPeriod = unboundedPeriod.value
        }
        chosenPeriod = max(1, chosenPeriod)
        self.bufferSizeMax = maximum
        self.periodFrames = FrameCount(chosenPeriod)
        self.periods = periods
        self.bufferFrames = FrameCount(chosenPeriod * periods)
    }

    /// The largest buffer in frames for these limits: the smaller byte limit ÷ bytes per
    /// frame, rounded down; `nil` when neither limit is given.
    public static func bufferSizeMax(bufferBytesMax: ByteCount?, hardwareBufferBytesMax: ByteCount? = nil, layout: FrameLayout) -> FrameCount? {
        let limits = [bufferBytesMax, hardwareBufferBytesMax].compactMap { $0 }
        guard let bytes = limits.min() else { return nil }
        return layout.frames(in: bytes)
    }

    /// The bytes the requested buffer occupies in `layout`, what hw_params passes to
    /// ``SubstreamAllocator/allocate(substream:bytes:)``.
    public func bufferBytes(in layout: FrameLayout) -> ByteCount { layout.bytes(for: bufferFrames) }
}

extension SubstreamAllocator {
    /// The sizing for a substream's current limit (see ``HardwareSizing``).
    public func hardwareSizing(
        substream: SubstreamID, layout: FrameLayout, period: FrameCount?, periods: Int,
        hardwareBufferBytesMax: ByteCount? = nil
    ) throws(HardwareSizingLookupError) -> HardwareSizing {
        let limit: ByteCount?
        do {
            limit = try bufferBytesMax(substream: substream)
        } catch {
            throw .substream(error)
        }
        do {
            return try HardwareSizing(
                bufferBytesMax: limit, layout: layout, period: period, periods: periods,
                hardwareBufferBytesMax: hardwareBufferBytesMax)
        } catch {
            throw .sizing(error)
        }
    }
}

/// Why ``SubstreamAllocator/hardwareSizing(substream:layout:period:periods:hardwareBufferBytesMax:)`` failed.
public enum HardwareSizingLookupError: Error, Hashable, Sendable {
    /// The substream lookup failed.
    case substream(PCMMemoryError)
    /// No sizing fits the limit.
    case sizing(SizingError)
}
