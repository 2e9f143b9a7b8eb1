// The small framework of pcmd-bench: a benchmark is a name and a function that returns
// measurements; BenchmarkContext gives it a clock and the malloc counter. Benchmarks are
// listed in Registry.swift, one file per area.

import MallocInterposerSwift

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

    /// Heap allocations per iteration of `body` on this thread, in the steady state (after a
    /// warm-up round); `nil` when the interposer is not active.
    func mallocsPerIteration(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double? {
        guard mallocCountingWorks else { return nil }
        for _ in 0..<max(1, iterations / 10) { try body() }
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.hook()
        for _ in 0..<iterations { try body() }
        MallocInterposerSwift.unhook()
        return Double(MallocInterposerSwift.getStatistics().mallocCount) / Double(iterations)
    }
}

/// Checks that the interposer sees this process's mallocs.
enum MallocCounter {
    static func works() -> Bool {
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.hook()
        let pointer = malloc(64)
        MallocInterposerSwift.unhook()
        free(pointer)
        return MallocInterposerSwift.getStatistics().mallocCount >= 1
    }
}
