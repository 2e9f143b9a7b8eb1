// The /proc/asound/cardN/pcmDx/subS view of a substream's preallocation: `prealloc` and
// `prealloc_max` in KiB, and the writable `prealloc` with the kernel's rules
// (snd_pcm_lib_preallocate_proc_write).

/// What a substream's proc files show.
public struct PreallocProcEntry: Hashable, Sendable {
    /// `prealloc`: the preallocated size in KiB, rounded down.
    public var preallocKibibytes: Int
    /// `prealloc_max`: the largest size `prealloc` accepts, in KiB, rounded down.
    public var preallocMaxKibibytes: Int
    /// The runtime buffer's size in use in bytes, `nil` when the substream has no runtime
    /// buffer (the kernel shows it in `hw_params` as the buffer size).
    public var runtimeBytes: ByteCount?

    /// Describes what proc files show (for comparisons in tests and tools).
    public init(preallocKibibytes: Int, preallocMaxKibibytes: Int, runtimeBytes: ByteCount?) {
        self.preallocKibibytes = preallocKibibytes
        self.preallocMaxKibibytes = preallocMaxKibibytes
        self.runtimeBytes = runtimeBytes
    }
}

extension AllocatorState {
    /// The smallest non-zero size a `prealloc` write accepts.
    static let minimumProcWrite = 8192

    func procEntry(_ id: SubstreamID) throws(PCMMemoryError) -> PreallocProcEntry {
        let record = try record(id)
        guard let preallocation = record.preallocation, preallocation.hasProcEntry else { throw .noProcEntry(id) }
        return PreallocProcEntry(
            preallocKibibytes: preallocation.bytes / 1024,
            preallocMaxKibibytes: preallocation.max / 1024,
            runtimeBytes: record.runtime?.buffer == nil ? nil : ByteCount(record.runtime?.bytes ?? 0))
    }

    /// A write of `kibibytes` to `prealloc`.
    mutating func writeProcPrealloc(_ id: SubstreamID, kibibytes: Int) throws(PCMMemoryError) {
        let record = try record(id)
        guard var preallocation = record.preallocation, preallocation.hasProcEntry else { throw .noProcEntry(id) }
        guard record.runtime == nil else { throw .busy(id) }
        guard kibibytes >= 0 else { throw .procValueNotANumber(String(kibibytes)) }
        let (size, overflow) = kibibytes.multipliedReportingOverflow(by: 1024)
        if overflow || size > preallocation.max {
            throw .procValueAboveMax(kibibytes: kibibytes, maxKibibytes: preallocation.max / 1024)
        }
        if size != 0, size < Self.minimumProcWrite { throw .procValueTooSmall(kibibytes: kibibytes) }
        if size == preallocation.bytes { return }
        // The new buffer comes first: the card limit must have room for old and new at once,
        // and a failure leaves the old buffer in place.
        var bufferBytesMax: Int? = nil
        var newBuffer: DMABuffer? = nil
        if size > 0 {
            newBuffer = try allocatePages(card: id.card, type: preallocation.type, size: size)
            bufferBytesMax = size
        }
        if let old = preallocation.buffer { freePages(card: id.card, buffer: old) }
        preallocation.buffer = newBuffer
        preallocation.bytes = newBuffer?.bytes.value ?? 0
        record.preallocation = preallocation
        record.bufferBytesMax = bufferBytesMax
    }
}

extension SubstreamAllocator {
    /// What the substream's `prealloc` and `prealloc_max` files show.
    ///
    /// - Throws: `unknownSubstream`; `noProcEntry` when the substream has no proc files
    ///   (never preallocated, or preallocated with `max == 0`).
    public func procEntry(substream: SubstreamID) throws(PCMMemoryError) -> PreallocProcEntry {
        try withState { (state) throws(PCMMemoryError) in try state.procEntry(substream) }
    }

    /// Writes a size in KiB to the substream's `prealloc` file, with the kernel's rules:
    ///
    /// 1. refused with `busy` while the substream is open;
    /// 2. `size = kibibytes × 1024`; refused when it is above `prealloc_max`
    ///    (`procValueAboveMax`) or non-zero and below 8 KiB (`procValueTooSmall`);
    /// 3. nothing happens when it equals the current preallocation;
    /// 4. a non-zero size allocates the new buffer *before* freeing the old one (so the card
    ///    limit needs room for both, and a failure keeps the old one) and sets the hw_params
    ///    limit to exactly `size` (not page-aligned, while `prealloc` shows the page-aligned
    ///    size); 0 frees the preallocation and makes the limit unlimited.
    ///
    /// - Throws: also `unknownSubstream`, `noProcEntry`, `procValueNotANumber` (negative),
    ///   `cardLimitExceeded`, `outOfMemory`, `backendFailure`.
    public func writeProcPrealloc(substream: SubstreamID, kibibytes: Int) throws(PCMMemoryError) {
        try withState { (state) throws(PCMMemoryError) in try state.writeProcPrealloc(substream, kibibytes: kibibytes) }
    }

    /// Writes text to the substream's `prealloc` file, as `echo TEXT > prealloc` would.
    ///
    /// The text is parsed like the kernel's `kstrtoul` on the first line: an optional `+`,
    /// decimal digits, and an optional trailing newline; anything else is refused with
    /// `procValueNotANumber` (kernels before 6.x used `simple_strtoul`, which read such text
    /// as 0 and freed the buffer). A busy substream is refused before the text is parsed.
    public func writeProcPrealloc(substream: SubstreamID, text: String) throws(PCMMemoryError) {
        try withState { (state) throws(PCMMemoryError) in
            let record = try state.record(substream)
            guard let preallocation = record.preallocation, preallocation.hasProcEntry else { throw .noProcEntry(substream) }
            guard record.runtime == nil else { throw .busy(substream) }
            guard let kibibytes = Self.parseKibibytes(text) else { throw .procValueNotANumber(text) }
            try state.writeProcPrealloc(substream, kibibytes: kibibytes)
        }
    }

    /// Parses `kstrtoul`-style decimal text; `nil` when it is not a number or overflows.
    static func parseKibibytes(_ text: String) -> Int? {
        var digits = Substring(text)
        if digits.hasSuffix("\n") { digits = digits.dropLast() }
        if digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}
