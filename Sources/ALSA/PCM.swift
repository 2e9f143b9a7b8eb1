// The owned ALSA PCM handle and its life cycle: opening by device name or from configuration
// text, closing in deinit, the state machine and the state changes (prepare, start, drop,
// drain, pause, resume), and moving the handle to the audio thread. Negotiation, streaming,
// mmap and poll live in the PCM+*.swift extensions.

import CALSA
import Glibc
import PCMBufferCore
import Synchronization

/// An open ALSA PCM (`snd_pcm_t`), closed when the value is destroyed.
///
/// `PCM` is non-copyable, so exactly one owner can use the handle at a time. alsa-lib does not
/// allow concurrent calls on one `snd_pcm_t`; single ownership is what makes that impossible.
/// To run the audio loop on a dedicated thread, move the PCM there through a `Handoff`
/// (at the end of this file): the opening thread gives it up, the audio thread takes it once, and
/// from then on only the audio thread touches it.
public struct PCM: ~Copyable {
    /// Which way audio flows through the PCM.
    public enum Direction: Sendable, Hashable, CustomStringConvertible {
        /// The application writes frames that the device plays.
        case playback
        /// The device records frames that the application reads.
        case capture

        var raw: snd_pcm_stream_t { self == .playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE }

        public var description: String { self == .playback ? "playback" : "capture" }
    }

    let handle: OpaquePointer
    /// One `snd_pcm_status_t`, allocated at open so that `status()` never allocates.
    let statusObject: OpaquePointer
    /// Which way audio flows.
    public let direction: Direction
    /// What `configureHardware` installed; `nil` until then. The mmap code needs the access
    /// type and channel count to describe the areas, and sw_params needs buffer and period.
    public internal(set) var hardware: HardwareConfiguration?

    /// Opens the ALSA PCM named `device`.
    ///
    /// Any name alsa-lib understands works: `hw:0,0`, `hw:Loopback,0,1`, `plughw:1`, `null`,
    /// `default`, or an inline definition such as `file:'/tmp/out.raw',raw`.
    /// - Parameter nonblocking: open with `SND_PCM_NONBLOCK`, so that calls that would wait
    ///   (a busy device at open, `drain`, `resume` in progress) return `-EAGAIN` instead.
    /// - Throws: `ALSAError` with reason `.cannotOpen(device:)`; for example `-ENOENT` for an
    ///   unknown name or a missing card, `-EBUSY` when another process holds a `hw` device.
    ///
    /// The corresponding ALSA function is `snd_pcm_open`.
    public init(device: String, direction: Direction, nonblocking: Bool = false) throws(ALSAError) {
        var raw: OpaquePointer?
        let result = alsa_pcm_open(&raw, device, direction.raw, nonblocking ? SND_PCM_NONBLOCK : 0)
        guard result >= 0, let raw else {
            throw ALSAError(code: result < 0 ? result : -ENODEV, function: "snd_pcm_open", reason: .cannotOpen(device: device))
        }
        try self.init(adopting: raw, direction: direction)
    }

    /// Takes ownership of a freshly opened handle; closes it if the status object cannot be had.
    init(adopting raw: OpaquePointer, direction: Direction) throws(ALSAError) {
        var status: OpaquePointer?
        let statusResult = alsa_pcm_status_malloc(&status)
        guard statusResult >= 0, let status else {
            // ignored because the allocation failure is the error being reported
            _ = alsa_pcm_close(raw)
            throw ALSAError(code: statusResult < 0 ? statusResult : -ENOMEM, function: "snd_pcm_status_malloc")
        }
        self.handle = raw
        self.statusObject = status
        self.direction = direction
        self.hardware = nil
    }

    deinit {
        // ignored because deinit cannot report; call close() to see the error
        _ = alsa_pcm_close(handle)
        alsa_pcm_status_free(statusObject)
    }

    /// Closes the PCM now and reports whether alsa-lib closed it cleanly (a `hw` device
    /// can report an error from its final drop).
    ///
    /// The corresponding ALSA function is `snd_pcm_close`.
    public consuming func close() throws(ALSAError) {
        let handle = self.handle
        let status = self.statusObject
        discard self
        alsa_pcm_status_free(status)
        try check(alsa_pcm_close(handle), "snd_pcm_close")
    }

    /// The name alsa-lib gives the PCM (the device name it was opened with, expanded).
    ///
    /// The corresponding ALSA function is `snd_pcm_name`.
    public var name: String {
        guard let name = alsa_pcm_name(handle) else { return "" }
        return String(cString: name)
    }

    /// The plugin type behind the name, e.g. `HW`, `NULL`, `FILE`, `PLUG`.
    ///
    /// The corresponding ALSA function is `snd_pcm_type`.
    public var typeName: String {
        guard let name = alsa_pcm_type_name(alsa_pcm_type(handle)) else { return "UNKNOWN" }
        return String(cString: name)
    }

    /// Switches between blocking and nonblocking calls after open.
    ///
    /// The corresponding ALSA function is `snd_pcm_nonblock`.
    public func setNonblocking(_ nonblocking: Bool) throws(ALSAError) {
        try check(alsa_pcm_nonblock(handle, nonblocking ? 1 : 0), "snd_pcm_nonblock")
    }

    /// The PCM's current state.
    ///
    /// The corresponding ALSA function is `snd_pcm_state`.
    public var state: PCMState { PCMState(alsa_pcm_state(handle)) }

    /// Makes the stream ready to start (SETUP or XRUN → PREPARED), emptying the buffer.
    ///
    /// The corresponding ALSA function is `snd_pcm_prepare`.
    public func prepare() throws(ALSAError) {
        try check(alsa_pcm_prepare(handle), "snd_pcm_prepare")
    }

    /// Starts the stream (PREPARED → RUNNING). pcmd configures start_threshold = boundary,
    /// and mmap commits never start a stream, so this call is the only start: after prefilling
    /// playback, and right away for capture.
    ///
    /// The corresponding ALSA function is `snd_pcm_start`.
    public func start() throws(ALSAError) {
        try check(alsa_pcm_start(handle), "snd_pcm_start")
    }

    /// Stops the stream at once, discarding pending frames (→ SETUP).
    ///
    /// The corresponding ALSA function is `snd_pcm_drop`.
    public func drop() throws(ALSAError) {
        try check(alsa_pcm_drop(handle), "snd_pcm_drop")
    }

    /// Stops the stream after the pending playback frames are played (→ SETUP).
    ///
    /// On a nonblocking PCM this returns `-EAGAIN` while draining goes on; switch to blocking
    /// with `setNonblocking(false)` first to wait for the end.
    ///
    /// The corresponding ALSA function is `snd_pcm_drain`.
    public func drain() throws(ALSAError) {
        try check(alsa_pcm_drain(handle), "snd_pcm_drain")
    }

    /// Pauses (`true`) or continues (`false`) a running stream, if the hardware can.
    ///
    /// The corresponding ALSA function is `snd_pcm_pause`.
    public func pause(_ paused: Bool) throws(ALSAError) {
        try check(alsa_pcm_pause(handle, paused ? 1 : 0), "snd_pcm_pause")
    }

    /// Resumes a SUSPENDED stream where it stopped. `-EAGAIN` means the hardware is still
    /// waking up; `-ENOSYS` means it cannot resume and the stream must be prepared instead.
    ///
    /// The corresponding ALSA function is `snd_pcm_resume`.
    public func resume() throws(ALSAError) {
        try check(alsa_pcm_resume(handle), "snd_pcm_resume")
    }

    /// Releases the hardware buffer (munmap) so that the PCM can be configured again.
    ///
    /// The corresponding ALSA function is `snd_pcm_hw_free`.
    public mutating func freeHardware() throws(ALSAError) {
        try check(alsa_pcm_hw_free(handle), "snd_pcm_hw_free")
        hardware = nil
    }
}

/// Where a PCM is in its life cycle (`snd_pcm_state_t`).
public enum PCMState: Sendable, Hashable, CustomStringConvertible {
    /// Opened, not configured: hw_params must be installed first.
    case open
    /// hw_params installed but not prepared (after `drop`/`drain`, or `hw_params` on some plugins).
    case setup
    /// Ready to start: `start()` begins the transfer.
    case prepared
    /// Frames are moving.
    case running
    /// The buffer ran empty (playback) or full (capture); `recover` or `prepare` is needed.
    case xrun
    /// Playback is playing out what is left before stopping.
    case draining
    /// Stopped by `pause(true)`, position kept.
    case paused
    /// The system suspended the device; `resume` or `prepare` is needed.
    case suspended
    /// The device is gone (unplugged or driver removed); only closing helps.
    case disconnected
    /// A plugin-private state alsa-lib may report; carries the raw value.
    case other(UInt32)

    init(_ raw: snd_pcm_state_t) {
        switch raw {
        case SND_PCM_STATE_OPEN: self = .open
        case SND_PCM_STATE_SETUP: self = .setup
        case SND_PCM_STATE_PREPARED: self = .prepared
        case SND_PCM_STATE_RUNNING: self = .running
        case SND_PCM_STATE_XRUN: self = .xrun
        case SND_PCM_STATE_DRAINING: self = .draining
        case SND_PCM_STATE_PAUSED: self = .paused
        case SND_PCM_STATE_SUSPENDED: self = .suspended
        case SND_PCM_STATE_DISCONNECTED: self = .disconnected
        default: self = .other(raw.rawValue)
        }
    }

    public var description: String {
        switch self {
        case .open: "OPEN"
        case .setup: "SETUP"
        case .prepared: "PREPARED"
        case .running: "RUNNING"
        case .xrun: "XRUN"
        case .draining: "DRAINING"
        case .paused: "PAUSED"
        case .suspended: "SUSPENDED"
        case .disconnected: "DISCONNECTED"
        case .other(let raw): "STATE(\(raw))"
        }
    }
}

extension PCM {
    /// Opens the PCM `name` defined in `configuration`, a piece of ALSA configuration such as
    /// `pcm.fixed { type plug slave { pcm { type null } rate 48000 } }`.
    ///
    /// Only the given text is searched for `name` and its slaves (it does not see
    /// `/usr/share/alsa/alsa.conf`), so slaves must be defined inline.
    /// - Throws: `ALSAError` naming `snd_config_load` for text that does not parse, or
    ///   `snd_pcm_open_lconf` with reason `.cannotOpen(device: name)` when the definition is
    ///   missing or incomplete.
    ///
    /// The corresponding ALSA function is `snd_pcm_open_lconf`.
    public init(
        configuration: String, name: String, direction: Direction, nonblocking: Bool = false
    ) throws(ALSAError) {
        var top: OpaquePointer?
        let created = alsa_config_top(&top)
        guard created >= 0, let top else {
            throw ALSAError(code: created < 0 ? created : -ENOMEM, function: "snd_config_top")
        }
        defer {
            // ignored because the tree is only needed while opening; alsa-lib keeps no reference
            _ = alsa_config_delete(top)
        }
        try Self.load(configuration, into: top)
        var raw: OpaquePointer?
        let opened = alsa_pcm_open_lconf(&raw, name, direction.raw, nonblocking ? SND_PCM_NONBLOCK : 0, top)
        guard opened >= 0, let raw else {
            throw ALSAError(code: opened < 0 ? opened : -ENODEV, function: "snd_pcm_open_lconf", reason: .cannotOpen(device: name))
        }
        try self.init(adopting: raw, direction: direction)
    }

    private static func load(_ text: String, into top: OpaquePointer) throws(ALSAError) {
        var input: OpaquePointer?
        let length = text.utf8.count
        let opened = text.withCString { alsa_input_buffer_open(&input, $0, length) }
        guard opened >= 0, let input else {
            throw ALSAError(code: opened < 0 ? opened : -ENOMEM, function: "snd_input_buffer_open")
        }
        defer {
            // ignored because a memory input has nothing to flush
            _ = alsa_input_close(input)
        }
        try check(alsa_config_load(top, input), "snd_config_load")
    }
}

// Moving a non-copyable owner (a PCM, or a struct holding one) from the thread that opened it
// to the dedicated audio thread. Swift cannot capture a non-copyable value in an escaping
// closure, and pthread_create takes only a context pointer, so the value travels in a box that
// hands it out exactly once.

/// A one-shot box that carries a non-copyable value to another thread.
///
/// The opening thread creates it with the value (`Handoff(pcm)` consumes the PCM), passes the
/// box (it is `Sendable`) to the new thread, and the new thread calls `take()` once, before its
/// loop starts. From then on the value is owned by that thread alone. `take()` locks a mutex,
/// once: the period loop itself never touches the box.
///
/// ```swift
/// let handoff = Handoff(pcm)                 // pcm is consumed here
/// startThread { var pcm = handoff.take()!     // audio thread owns it from now on
///               runLoop(&pcm) }
/// ```
public final class Handoff<Value: ~Copyable>: Sendable {
    private let slot: Locked<Value?>

    /// Puts `value` in the box. `sending`: the caller must not keep any access to it.
    public init(_ value: consuming sending Value) {
        slot = Locked(Optional(value))
    }

    /// Takes the value out; `nil` if it was already taken.
    public func take() -> sending Value? {
        slot.withLock { value in value.take() }
    }
}
