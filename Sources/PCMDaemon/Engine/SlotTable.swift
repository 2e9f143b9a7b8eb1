// The fixed set of client stream slots of one device direction, and their memory. Every slot
// is a substream of a virtual "clients" PCM in PCMBufferCore of type sealedShared: each open
// allocates a fresh sealed memfd (charged to the virtual card, under its limit) that the client
// maps, and each close detaches the audio thread, then punches the memory out, so pages one
// client saw never reach another. The audio thread only ever sees memory that was laid out and
// locked before the slot's state let it look.
#if canImport(Glibc)
import Glibc
#endif
import CLinux
import PCMBufferCore
import Synchronization

/// Why a client stream could not get a slot.
public enum SlotError: Error, Equatable, CustomStringConvertible {
    /// Every slot is in use; `limit` is the configured maximum.
    case noFreeSlot(limit: Int)
    /// The requested ring does not fit the slot's preallocated memory.
    case bufferTooLarge(frames: Int, maximum: Int)
    /// A ring of this size is not usable (zero, or period larger than buffer).
    case invalidBuffer(frames: Int, period: Int)
    /// The allocator refused.
    case memory(String)
    /// A system call failed while building the table.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .noFreeSlot(let limit): "all \(limit) streams are in use; close one or raise max-streams"
        case .bufferTooLarge(let frames, let maximum): "a \(frames)-frame buffer is larger than the \(maximum)-frame maximum"
        case .invalidBuffer(let frames, let period): "invalid buffer of \(frames) frames with \(period)-frame periods"
        case .memory(let text): "stream memory: \(text)"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// The client slots of one device direction.
public final class SlotTable: Sendable {
    /// The slots, fixed at startup; the audio thread iterates over them every period.
    public let slots: [StreamSlot]
    /// The frame layout of every ring (the device's).
    public let layout: FrameLayout
    /// Largest ring, in frames, a stream may have.
    public let maximumFrames: Int
    public let direction: StreamDirection
    private let allocator: SubstreamAllocator
    /// Serialises claims among socket-side threads (never taken by the audio thread).
    private let claims = Locked<Void>(())
    /// Set by the audio thread around each period's processing, so a closing owner knows
    /// whether it may be looking at a ring.
    let insidePeriod = Atomic<Bool>(false)
    /// Rung by the audio thread for the rare events the socket server must act on: a drain
    /// completed, a client wrote an impossible position. Never once per period: the socket
    /// server has nothing to do while streams simply play.
    public let progress: Wakeup
    /// The period and buffer the device negotiated, in frames (0 until it first opened),
    /// stored by the audio thread in `deviceOpened`: what `streamOpened` reports, rather than
    /// the configured sizes, which `set_period_size_near` may not have granted.
    let negotiatedPeriodFrames = Atomic<Int>(0)
    let negotiatedBufferFrames = Atomic<Int>(0)
    /// The smallest latency among the claimed slots' clients, in frames (0: none claimed),
    /// kept by the owners at claim and release so the audio thread reads one atomic to pick its
    /// wake interval.
    let smallestLatencyFrames = Atomic<Int>(0)
    /// Until when (CLOCK_MONOTONIC ns) the audio thread measures peak levels: only while someone
    /// looks at them (`pcmctl top` lists every second), so that nobody pays for them otherwise.
    let meteringUntil = Atomic<UInt64>(0)
    /// How many streams' memory the kernel refused to lock (`mlock`), for the log.
    let lockRefusals = Atomic<Int>(0)

    /// Registers `count` substreams on `card` (a virtual card for clients) as
    /// ``BufferType/sealedShared``: nothing is preallocated, every open allocates a fresh,
    /// sealed memfd charged to the card's limit, and every close punches it out.
    public init(allocator: SubstreamAllocator, card: Int, direction: StreamDirection, count: Int,
                layout: FrameLayout, maximumFrames: Int) throws(SlotError) {
        self.allocator = allocator
        self.layout = layout
        self.maximumFrames = maximumFrames
        self.direction = direction
        do throws(DaemonError) {
            progress = try Wakeup()
        } catch {
            if case .system(let call, let code) = error { throw .system(call: call, errno: code) }
            throw .memory("\(error)")
        }
        do {
            try allocator.addPCM(card: card, device: 0,
                                 playbackSubstreams: direction == .playback ? count : 0,
                                 captureSubstreams: direction == .capture ? count : 0)
            _ = try allocator.preallocateForAll(card: card, device: 0, type: .sealedShared, size: .zero, max: .zero)
            let ids = try allocator.substreams(card: card, device: 0)
            slots = ids.enumerated().map { StreamSlot(index: $0.offset, direction: direction, substream: $0.element) }
        } catch {
            throw .memory("\(error)")
        }
    }

    /// The device's period and buffer as negotiated, or `configured` before the device opened.
    func deviceSizes(configuredPeriod: Int, configuredBuffer: Int) -> (period: Int, buffer: Int) {
        let period = negotiatedPeriodFrames.load(ordering: .relaxed)
        let buffer = negotiatedBufferFrames.load(ordering: .relaxed)
        guard period > 0, buffer >= period else { return (configuredPeriod, configuredBuffer) }
        return (period, buffer)
    }

    /// Claims a free slot with fresh shared memory for a ring of at least `ringFrames` frames
    /// (rounded up to whole pages) and an eventfd to wake its client, and starts it in
    /// `initialState`. The slot owns both until ``release(_:)``.
    /// `latencyFrames` is what its client asked to keep queued, from which the device's wake
    /// interval is chosen (see `WakeInterval`).
    public func claim(ringFrames: Int, rate: Int, devicePeriodFrames: Int, deviceBufferFrames: Int,
                      startThreshold: Int, latencyFrames: Int, initialState: SlotState) throws(SlotError) -> StreamSlot {
        guard ringFrames > 0, devicePeriodFrames > 0 else { throw .invalidBuffer(frames: ringFrames, period: devicePeriodFrames) }
        guard ringFrames <= maximumFrames else { throw .bufferTooLarge(frames: ringFrames, maximum: maximumFrames) }
        // Whole pages: round up, unless that passes the maximum, then down (a ring asked at the
        // maximum must not be refused for the rounding).
        var frames = SharedStreamLayout.ringFrames(atLeast: FrameCount(ringFrames), layout: layout)
        if frames.value > maximumFrames {
            frames = FrameCount(frames.value - SharedStreamLayout.ringFrameQuantum(bytesPerFrame: layout.bytesPerFrame))
        }
        guard frames.value > 0 else { throw .bufferTooLarge(frames: ringFrames, maximum: maximumFrames) }
        let geometry = SharedStreamGeometry(
            direction: direction, layout: layout, rate: rate, bufferFrames: frames,
            devicePeriodFrames: FrameCount(devicePeriodFrames), deviceBufferFrames: FrameCount(max(deviceBufferFrames, devicePeriodFrames)))
        let regions: SharedStreamRegions
        do throws(SharedStreamError) {
            regions = try SharedStreamLayout.regions(for: geometry)
        } catch {
            throw .memory(error.description)
        }
        return try claims.withLock { _ throws(SlotError) -> StreamSlot in
            guard let slot = slots.first(where: { $0.state == .free }) else { throw .noFreeSlot(limit: slots.count) }
            let wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            guard wake >= 0 else { throw .system(call: "eventfd", errno: errno) }
            do {
                try allocator.open(substream: slot.substream)
                _ = try allocator.allocate(substream: slot.substream, bytes: ByteCount(regions.totalBytes))
                guard let buffer = try allocator.runtimeBuffer(substream: slot.substream) else {
                    throw SlotError.memory("no runtime buffer after allocate")
                }
                let memory = try SharedStreamMemory(formatting: buffer, geometry: geometry)
                // The audio thread reads and writes this memory every period: lock it so that
                // it never faults there. Refused (RLIMIT_MEMLOCK, no CAP_IPC_LOCK): the stream
                // still plays, the pages were populated at allocation and are merely
                // swappable; the server logs the count.
                if memory.lockResident() != nil { lockRefusals.add(1, ordering: .relaxed) }
                slot.attach(memory, wakeDescriptor: wake, startThreshold: min(startThreshold, frames.value),
                            latencyFrames: max(1, latencyFrames), initialState: initialState)
                updateSmallestLatency()
                return slot
            } catch {
                close(wake)
                _ = try? allocator.release(substream: slot.substream)  // undo a half-made claim
                _ = try? allocator.close(substream: slot.substream)
                if let error = error as? SlotError { throw error }
                throw .memory("\(error)")
            }
        }
    }

    /// Returns a slot: waits (about a period at most) for the audio thread to let go of its
    /// memory, then closes the eventfd, unlocks the memory and gives it back to the allocator,
    /// which punches it out (so a client that still maps it reads zeros) and credits the card.
    ///
    /// - Returns: why the allocator could not release or close the substream (a failed punch:
    ///   the card is credited all the same), for the caller to log; nil when all went well.
    @discardableResult
    public func release(_ slot: StreamSlot) -> SlotError? {
        let (memory, wake) = slot.detach { insidePeriod.load(ordering: .sequentiallyConsistent) }
        // The punch (MADV_REMOVE) is refused on locked pages.
        memory?.unlockResident()
        if wake >= 0 { close(wake) }
        return claims.withLock { _ -> SlotError? in
            updateSmallestLatency()
            var failure: SlotError?
            do throws(PCMMemoryError) {
                try allocator.release(substream: slot.substream)
            } catch {
                failure = .memory("release: \(error)")
            }
            do throws(PCMMemoryError) {
                try allocator.close(substream: slot.substream)
            } catch {
                failure = failure ?? .memory("close: \(error)")
            }
            return failure
        }
    }

    // MARK: Moving a stream between devices

    /// Takes `slot` (one of this table's) away from the audio thread for a move, keeping its
    /// memory; returns the state the stream was in. See `StreamSlot.lend`.
    func lend(_ slot: StreamSlot) -> SlotState {
        let state = slot.lend { insidePeriod.load(ordering: .sequentiallyConsistent) }
        claims.withLock { _ in updateSmallestLatency() }
        return state
    }

    /// Puts a slot lent for a move that failed back in service.
    func unlend(_ slot: StreamSlot, state: SlotState) {
        slot.unlend(state: state)
        claims.withLock { _ in updateSmallestLatency() }
    }

    /// Seats the stream of another table's lent slot in a free slot of this one (or, when it
    /// comes home, in its own lent slot `home`). Throws `noFreeSlot` when every slot is in use.
    func adopt(from source: StreamSlot, state: SlotState, into home: StreamSlot? = nil) throws(SlotError) -> StreamSlot {
        try claims.withLock { _ throws(SlotError) -> StreamSlot in
            guard let slot = home ?? slots.first(where: { $0.state == .free }) else { throw .noFreeSlot(limit: slots.count) }
            slot.adopt(from: source, state: state)
            updateSmallestLatency()
            return slot
        }
    }

    /// Frees a slot that adopted a stream from another table: the audio thread lets go of it;
    /// its memory and eventfd are the lender's, so nothing is closed or released here.
    func giveBack(_ slot: StreamSlot) {
        _ = slot.detach { insidePeriod.load(ordering: .sequentiallyConsistent) }
        claims.withLock { _ in updateSmallestLatency() }
    }

    /// Recomputes `smallestLatencyFrames` from the slots this table's audio thread serves (a
    /// lent slot's stream plays elsewhere); called with `claims` held, so that a claim and a
    /// release on two threads cannot store their results out of order.
    private func updateSmallestLatency() {
        let smallest = slots.lazy.filter { $0.state != .lent }.map { $0.latencyFrames.load(ordering: .relaxed) }.filter { $0 > 0 }.min() ?? 0
        smallestLatencyFrames.store(smallest, ordering: .relaxed)
    }

    /// Frames the device may move between two wakeups of its audio thread, for the clients
    /// claimed now (see `WakeInterval`). Audio thread: one atomic load.
    public func wakeInterval(period: FrameCount, buffer: FrameCount, rate: Int) -> FrameCount {
        let smallest = smallestLatencyFrames.load(ordering: .relaxed)
        return FrameCount(WakeInterval.frames(period: period.value, buffer: buffer.value, rate: rate,
                                              smallestClientLatency: smallest > 0 ? smallest : nil))
    }

    /// Has the audio thread measure peak levels for the next `nanoseconds`.
    func keepMetering(for nanoseconds: UInt64, now: UInt64) {
        meteringUntil.store(now &+ nanoseconds, ordering: .relaxed)
    }

    /// Slots in use.
    public var activeCount: Int { slots.reduce(0) { $0 + ($1.state == .free ? 0 : 1) } }
}
