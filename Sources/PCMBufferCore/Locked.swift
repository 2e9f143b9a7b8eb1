// The one lock type of the project: the standard library's `Mutex`, made visible to
// ThreadSanitizer.
//
// On Linux, `Synchronization.Mutex` locks with futex system calls inside the prebuilt
// standard library, which ThreadSanitizer neither intercepts nor instruments. TSan therefore sees
// no ordering between two critical sections of the same mutex and reports every state the lock
// protects as a "Swift access race" (it did, for the allocator's state, in the allocator's own
// concurrency test; a ten-line program with a `Mutex<struct>` and two threads does the same).
// In a build made by `scripts/sanitize thread`, which defines `PCMD_TSAN`, each critical section
// tells TSan that it acquires and releases the lock, so TSan orders them as it orders pthread
// mutexes and still reports every access made outside the lock. In every other build this is
// `Mutex` and nothing more: no extra field, no extra call.

import Synchronization

/// A value that only one thread at a time may touch: `Mutex<Value>`, plus the annotations that let
/// ThreadSanitizer see the lock in sanitizer builds.
public struct Locked<Value: ~Copyable>: ~Copyable, Sendable {
    @usableFromInline let mutex: Mutex<Value>
    #if PCMD_TSAN
    /// The address TSan knows this lock by: an object of its own, so its address is stable and
    /// taking it is no access to the protected value.
    @usableFromInline let identity = LockIdentity()
    #endif

    /// A lock holding `initialValue`.
    public init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with exclusive access to the value, and returns what it returns.
    @inlinable @inline(__always)
    public borrowing func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        try mutex.withLock { (value) throws(Failure) -> sending Result in
            #if PCMD_TSAN
            let address = identity.address
            threadSanitizerAcquire(address)
            defer { threadSanitizerRelease(address) }
            #endif
            return try body(&value)
        }
    }
}

#if PCMD_TSAN
/// An object whose address names one lock to ThreadSanitizer.
@usableFromInline
final class LockIdentity: Sendable {
    @usableFromInline
    var address: UnsafeRawPointer { UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque()) }
}

// ThreadSanitizer's annotation interface (`sanitizer/tsan_interface.h`), present in the runtime
// that `-sanitize=thread` links.
@usableFromInline @_silgen_name("__tsan_acquire")
func threadSanitizerAcquire(_ address: UnsafeRawPointer)
@usableFromInline @_silgen_name("__tsan_release")
func threadSanitizerRelease(_ address: UnsafeRawPointer)
#endif
