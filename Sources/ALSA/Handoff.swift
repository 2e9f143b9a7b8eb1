// Moving a non-copyable owner (a PCM, or a struct holding one) from the thread that opened it
// to the dedicated audio thread. Swift cannot capture a non-copyable value in an escaping
// closure, and pthread_create takes only a context pointer, so the value travels in a box that
// hands it out exactly once.

import Synchronization

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
    private let slot: Mutex<Value?>

    /// Puts `value` in the box. `sending`: the caller must not keep any access to it.
    public init(_ value: consuming sending Value) {
        slot = Mutex(Optional(value))
    }

    /// Takes the value out; `nil` if it was already taken.
    public func take() -> sending Value? {
        slot.withLock { value in value.take() }
    }
}
