// The small framework of pcmd-bench: a benchmark is a name and a function that returns
// measurements; BenchmarkContext gives it a clock and the malloc counter. Benchmarks are
// listed in Registry.swift, one file per area. Malloc counting: linking
// libMallocInterposerSwift.so is enough on Linux here (its malloc comes before libc's in the
// lookup order); if the counter sees nothing, pcmd-bench re-executes itself once with
// LD_PRELOAD pointing at the library next to the executable.

import MallocInterposerSwift
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One number a benchmark reports.
struct Measurement: Sendable {
    /// What was measured, e.g. "allocate+release".
    var metric: String
    /// The value.
    var value: Double
    /// Its unit, e.g. "ns/op", "frames/s", "mallocs/op".
    var unit: String
}

/// A named benchmark; `run` returns its measurements.
struct Benchmark: Sendable {
    /// A unique name, `area/what`, which the command-line filter matches.
    var name: String
    /// Runs the benchmark; throwing fails the run.
    var run: @Sendable (BenchmarkContext) throws -> [Measurement]
}

/// Why a benchmark failed.
struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Helpers for benchmarks: timing and heap-allocation counting.
struct BenchmarkContext: Sendable {
    /// Whether mallocs are really being counted (the interposer is active).
    let mallocCountingWorks: Bool
    /// Scales iteration counts (lower it for a quick run).
    let scale: Double

    /// `count` scaled, at least 1.
    func iterations(_ count: Int) -> Int { max(1, Int(Double(count) * scale)) }

    /// The monotonic clock in nanoseconds.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Runs `body` `iterations` times after a warm-up and returns nanoseconds per iteration
    /// (the best of three rounds, to dampen noise from other processes on the machine).
    func nanosecondsPerIteration(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<max(1, iterations / 10) { try body() }
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Self.now()
            for _ in 0..<iterations { try body() }
            best = min(best, Double(Self.now() - start) / Double(iterations))
        }
        return best
    }

    /// Set by `--trace-mallocs`: print a backtrace for every counted allocation.
    static let traceMallocs = Atomic<Bool>(false)

    /// Heap allocations per iteration of `body` on this thread, in the steady state (after a
    /// warm-up round); `nil` when the interposer is not active.
    func mallocsPerIteration(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double? {
        guard mallocCountingWorks else { return nil }
        for _ in 0..<max(1, iterations / 10) { try body() }
        MallocInterposerSwift.initialize()
        if Self.traceMallocs.load(ordering: .relaxed) {
            MallocTracer.prepare()
            MallocInterposerSwift.setAllocationHook(MallocTracer.hook)
        }
        MallocInterposerSwift.hook()
        for _ in 0..<iterations { try body() }
        MallocInterposerSwift.unhook()
        MallocInterposerSwift.setAllocationHook(nil)
        return Double(MallocInterposerSwift.getStatistics().mallocCount) / Double(iterations)
    }
}

/// Checks that the interposer sees this process's mallocs.
enum MallocCounter {
    /// Where the probe's pointer escapes to, so the optimizer cannot remove the malloc.
    private static let escape = Atomic<Int>(0)

    static func works() -> Bool {
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.hook()
        let pointer = malloc(64)
        MallocInterposerSwift.unhook()
        escape.store(Int(bitPattern: pointer), ordering: .relaxed)
        free(pointer)
        return MallocInterposerSwift.getStatistics().mallocCount >= 1
    }
}

/// Prints where allocations come from (`--trace-mallocs`), to hunt down mallocs on a path
/// that should have none. Nested allocations (by backtrace itself) are not traced.
enum MallocTracer {
    /// Whether a trace is being printed now, so that the tracer's own allocations do not recurse.
    private static let busy = Atomic<Bool>(false)

    // execinfo.h is not in Swift's Glibc module: look the two functions up at run time.
    typealias Backtrace = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int32) -> Int32
    typealias BacktraceSymbols = @convention(c) (UnsafePointer<UnsafeMutableRawPointer?>, Int32, Int32) -> Void
    // Safety: both are written only by prepare(), on the main thread before the hook is
    // installed (which publishes them through the interposer's hook store), and only read after.
    nonisolated(unsafe) static var backtrace: Backtrace? = nil
    nonisolated(unsafe) static var backtraceSymbols: BacktraceSymbols? = nil

    /// Looks up the functions; call before installing the hook.
    static func prepare() {
        guard let handle = dlopen(nil, RTLD_NOW), let trace = dlsym(handle, "backtrace"),
            let symbols = dlsym(handle, "backtrace_symbols_fd")
        else { return }
        backtrace = unsafeBitCast(trace, to: Backtrace.self)
        backtraceSymbols = unsafeBitCast(symbols, to: BacktraceSymbols.self)
    }

    static let hook: MallocInterposerSwift.AllocationHook = { size in
        guard let backtrace = MallocTracer.backtrace, let backtraceSymbols = MallocTracer.backtraceSymbols else { return }
        guard !MallocTracer.busy.exchange(true, ordering: .acquiring) else { return }
        defer { MallocTracer.busy.store(false, ordering: .releasing) }
        var frames = [UnsafeMutableRawPointer?](repeating: nil, count: 24)
        let count = backtrace(&frames, 24)
        let line = "malloc(\(size)):\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        backtraceSymbols(&frames, count, 2)
    }
}

/// Re-executes pcmd-bench with the interposer preloaded when linking alone does not count.
enum Preload {
    static let marker = "PCMD_BENCH_PRELOADED"

    static func ensureMallocCounting() {
        guard !MallocCounter.works(), getenv(marker) == nil else { return }
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        guard length > 0 else { return }
        let executable = String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let library = directory + "/libMallocInterposerSwift.so"
        guard access(library, R_OK) == 0 else { return }
        setenv("LD_PRELOAD", library, 1)
        setenv(marker, "1", 1)
        var arguments: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv(executable, arguments)
        // execv only returns on failure; carry on without counting.
    }
}
