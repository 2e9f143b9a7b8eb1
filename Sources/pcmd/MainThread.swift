// pcmd's main thread waits for the daemon instead of leaving: an `async` main (what
// AsyncParsableCommand gives) ends the main thread with dispatch_main(), whose pthread_exit
// unwinds the main thread's stack through the unwinder. That one unwind read 470 KB of the
// program's unwind tables (.eh_frame and its index), which then stayed resident for the
// daemon's life, next to the parts of libgcc_s and libstdc++ it ran: about a twentieth of what
// a serving pcmd keeps in memory, for nothing.
import Dispatch
import Synchronization

/// Running the daemon's async work from the synchronous main thread.
enum MainThread {
    /// Runs `body` as a task on Swift's task pool and blocks the calling thread until it ends;
    /// rethrows what it threw. Nothing may need the main thread meanwhile (pcmd has no main-actor
    /// code: the daemon's tasks run on the pool, its audio threads are its own).
    static func block(_ body: @escaping @Sendable () async throws -> Void) throws {
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        Task.detached {
            let result: Result<Void, any Error>
            do {
                try await body()
                result = .success(())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            finished.signal()
        }
        finished.wait()
        try outcome.withLock { $0 }?.get()
    }
}
