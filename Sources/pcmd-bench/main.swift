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

struct ResultTable {
    private var rows: [(benchmark: String, metric: String, value: String, unit: String)] = []

    mutating func add(benchmark: String, _ measurement: Measurement) {
        rows.append((benchmark, measurement.metric, Self.format(measurement.value), measurement.unit))
    }

    /// Three significant decimals for small values, thousands separators for large ones.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "n/a" }
        if value >= 1_000_000 || value == value.rounded() && value >= 1000 {
            var digits = String(Int(value.rounded()))
            var grouped = ""
            while digits.count > 3 {
                grouped = "," + String(digits.suffix(3)) + grouped
                digits.removeLast(3)
            }
            return digits + grouped
        }
        if value >= 100 { return String(Int(value.rounded())) }
        let hundredths = (value * 100).rounded() / 100
        return "\(hundredths)"
    }

    func print() {
        let header = ("benchmark", "metric", "value", "unit")
        let widths = (
            max(header.0.count, rows.map(\.benchmark.count).max() ?? 0),
            max(header.1.count, rows.map(\.metric.count).max() ?? 0),
            max(header.2.count, rows.map(\.value.count).max() ?? 0)
        )
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: width - text.count) }
        func padLeft(_ text: String, _ width: Int) -> String { String(repeating: " ", count: width - text.count) + text }
        Swift.print("\(pad(header.0, widths.0))  \(pad(header.1, widths.1))  \(padLeft(header.2, widths.2))  \(header.3)")
        Swift.print(String(repeating: "-", count: widths.0 + widths.1 + widths.2 + 12))
        for row in rows {
            Swift.print("\(pad(row.benchmark, widths.0))  \(pad(row.metric, widths.1))  \(padLeft(row.value, widths.2))  \(row.unit)")
        }
    }
}
