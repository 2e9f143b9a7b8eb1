// The typed errors of the substream allocator, one case per way a call can be refused, each
// with the kernel errno the same refusal produces there (for logs and the conformance model).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a ``SubstreamAllocator`` call was refused. A refused call changes nothing.
public enum PCMMemoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No PCM with this card and device was added.
    case unknownPCM(PCMID)
    /// A PCM with this card and device was already added.
    case pcmAlreadyExists(PCMID)
    /// A card or device number was negative.
    case invalidPCMNumber(card: Int, device: Int)
    /// A substream count was negative, or both counts were zero.
    case invalidSubstreamCount(playback: Int, capture: Int)
    /// The substream does not exist on its PCM.
    case unknownSubstream(SubstreamID)
    /// `preallocate` was called twice for the substream (the kernel's `snd_BUG_ON(dev.type)`).
    case alreadyPreallocated(SubstreamID)
    /// The substream is open (it has a runtime), so its preallocation cannot change.
    case busy(SubstreamID)
    /// `open` was called on a substream that is already open.
    case alreadyOpen(SubstreamID)
    /// The call needs an open substream (a runtime).
    case notOpen(SubstreamID)
    /// `allocate` needs a preallocation call first ("you have to pre-allocate to use this
    /// function"), even one of size 0.
    case notPreallocated(SubstreamID)
    /// A buffer of zero bytes was requested.
    case zeroSize
    /// A size or maximum was negative.
    case negativeSize(Int)
    /// `max` was smaller than `size` (and not 0, which asks for a fixed buffer).
    case maxBelowSize(size: ByteCount, max: ByteCount)
    /// The card's accounting limit would be exceeded (the kernel's `max_alloc_per_card`).
    case cardLimitExceeded(card: Int, requested: ByteCount, inUse: ByteCount, limit: ByteCount)
    /// The memory backend had no memory for the request.
    case outOfMemory(requested: ByteCount)
    /// The substream has a fixed preallocation (`max == 0`) smaller than the request, and a
    /// fixed buffer never falls back to a dynamic allocation.
    case fixedBufferTooSmall(fixed: ByteCount, requested: ByteCount)
    /// The substream has no `prealloc` proc file (it was preallocated with `max == 0`, or not
    /// at all).
    case noProcEntry(SubstreamID)
    /// A `prealloc` write was not a decimal number of KiB.
    case procValueNotANumber(String)
    /// A `prealloc` write was below 8 KiB (and not 0).
    case procValueTooSmall(kibibytes: Int)
    /// A `prealloc` write was above `prealloc_max`.
    case procValueAboveMax(kibibytes: Int, maxKibibytes: Int)
    /// The memory backend failed for a reason other than lack of memory.
    case backendFailure(MemoryBackendError)
    /// A ``BufferType/sealedShared`` substream was given a preallocation size or max: memory
    /// shared with a client is allocated fresh for every stream, never preallocated.
    case exportedMemoryPreallocated(SubstreamID)
    /// A shared buffer was released and its card credited, but punching its pages out failed
    /// (``DMABuffer/reclaim()``), so a client that still maps them keeps them alive.
    case reclaimFailed(SubstreamID, MemoryBackendError)

    /// The negative errno the kernel returns for the same refusal (`-EINVAL`, `-ENOMEM`, ...).
    public var kernelErrno: Int32 {
        switch self {
        case .busy, .alreadyOpen: -EBUSY
        case .cardLimitExceeded, .outOfMemory, .fixedBufferTooSmall: -ENOMEM
        case .unknownPCM, .unknownSubstream, .noProcEntry: -ENODEV
        case .zeroSize: -ENXIO
        case .backendFailure(.systemCall(_, let errno)): -errno
        case .backendFailure(.outOfMemory): -ENOMEM
        case .reclaimFailed(_, .systemCall(_, let errno)): -errno
        case .reclaimFailed(_, .outOfMemory): -ENOMEM
        case .pcmAlreadyExists, .invalidPCMNumber, .invalidSubstreamCount, .alreadyPreallocated, .notOpen, .notPreallocated,
            .negativeSize, .maxBelowSize, .procValueNotANumber, .procValueTooSmall, .procValueAboveMax,
            .backendFailure(.invalidSize), .exportedMemoryPreallocated, .reclaimFailed(_, .invalidSize):
            -EINVAL
        }
    }

    /// Whether this is an out-of-memory condition, the only kind the preallocation fallback
    /// retries with half the size (the card limit counts: the kernel reports it as -ENOMEM).
    public var isOutOfMemory: Bool { kernelErrno == -ENOMEM }

    public var description: String {
        switch self {
        case .unknownPCM(let pcm): "no PCM \(pcm)"
        case .pcmAlreadyExists(let pcm): "PCM \(pcm) already exists"
        case .invalidPCMNumber(let card, let device): "invalid PCM number: card \(card) device \(device)"
        case .invalidSubstreamCount(let playback, let capture):
            "invalid substream counts: \(playback) playback, \(capture) capture"
        case .unknownSubstream(let id): "no substream \(id)"
        case .alreadyPreallocated(let id): "\(id) is already preallocated"
        case .busy(let id): "\(id) is open"
        case .alreadyOpen(let id): "\(id) is already open"
        case .notOpen(let id): "\(id) is not open"
        case .notPreallocated(let id): "\(id) was never preallocated"
        case .zeroSize: "a buffer of zero bytes was requested"
        case .negativeSize(let value): "negative size \(value)"
        case .maxBelowSize(let size, let max): "max \(max.value) is below size \(size.value)"
        case .cardLimitExceeded(let card, let requested, let inUse, let limit):
            "card \(card): \(requested.value) more bytes would exceed the limit of \(limit.value) (\(inUse.value) in use)"
        case .outOfMemory(let requested): "out of memory for \(requested.value) bytes"
        case .fixedBufferTooSmall(let fixed, let requested):
            "fixed buffer of \(fixed.value) bytes is smaller than the \(requested.value) requested"
        case .noProcEntry(let id): "\(id) has no prealloc proc file"
        case .procValueNotANumber(let text): "prealloc value \"\(text)\" is not a number"
        case .procValueTooSmall(let kib): "prealloc value \(kib) KiB is below 8 KiB"
        case .procValueAboveMax(let kib, let max): "prealloc value \(kib) KiB is above the maximum of \(max) KiB"
        case .backendFailure(let error): "memory backend failed: \(error)"
        case .exportedMemoryPreallocated(let id): "\(id) holds memory shared with clients, which is never preallocated"
        case .reclaimFailed(let id, let error): "\(id): its released shared memory could not be punched out: \(error)"
        }
    }
}
