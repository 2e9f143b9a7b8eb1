// pcmd-bench: runs the registered benchmarks (Registry.swift) in release mode and prints a
// table. `swift run -c release pcmd-bench [FILTER...]` runs those whose name contains any
// FILTER; `--list` lists them; `--quick` runs a tenth of the iterations; `--trace-mallocs`
// prints a backtrace for each allocation counted in a steady-state measurement.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

var filters: [String] = []
var scale = 1.0
for argument in CommandLine.arguments.dropFirst() {
    switch argument {
    case "--list":
        for benchmark in BenchmarkRegistry.all { print(benchmark.name) }
        exit(0)
    case "--trace-mallocs":
        BenchmarkContext.traceMallocs.store(true, ordering: .relaxed)
    case "--quick":
        scale = 0.1
    case "-h", "--help":
        print("usage: pcmd-bench [--quick] [--list] [--trace-mallocs] [FILTER...]   (run with: swift run -c release pcmd-bench)")
        exit(0)
    default:
        filters.append(argument)
    }
}

Preload.ensureMallocCounting()
let counting = MallocCounter.works()
let context = BenchmarkContext(mallocCountingWorks: counting, scale: scale)
let selected = BenchmarkRegistry.all.filter { benchmark in filters.isEmpty || filters.contains { benchmark.name.contains($0) } }
if selected.isEmpty {
    print("no benchmark matches \(filters); try --list")
    exit(2)
}

#if DEBUG
print("warning: this is a debug build; run `swift run -c release pcmd-bench` for real numbers")
#endif
let how = getenv(Preload.marker) == nil ? "linked" : "LD_PRELOAD re-exec"
print("malloc counting: \(counting ? "active (\(how))" : "NOT ACTIVE (mallocs/op not measured)")")

var table = ResultTable()
var failed = false
for benchmark in selected {
    do {
        for measurement in try benchmark.run(context) { table.add(benchmark: benchmark.name, measurement) }
    } catch {
        print("\(benchmark.name): FAILED: \(error)")
        failed = true
    }
}
table.print()
exit(failed ? 1 : 0)
