// "Zero allocations per period", proven inside the suite rather than only by hand: runs the
// release build's malloc-counting benchmarks (pcmd-bench with malloc-interposer) of everything the audio thread
// does in its period loop (the playback mix with 1 and 8 clients, the capture fan-out, the ALSA
// avail_update/mmap cycle, the status and poll calls, the avail_min change when clients come and
// go) and requires every mallocs-per-period figure to be exactly 0. Counting is required: a run
// where the interposer is not active fails instead of passing unmeasured.
import Foundation
import Testing

@Suite("The real-time path allocates nothing", .timeLimit(.minutes(5)))
struct ZeroAllocationTests {
    /// One row of pcmd-bench's table: benchmark, metric, value, unit.
    struct Row {
        let benchmark: String
        let value: String
        let unit: String
    }

    /// Parses the rows whose unit counts mallocs.
    func mallocRows(_ output: String) -> [Row] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, let unit = fields.last, unit.hasPrefix("mallocs/") else { return nil }
            return Row(benchmark: fields[0], value: fields[fields.count - 2], unit: unit)
        }
    }

    /// The release pcmd-bench, which scripts/test-fast builds next to the debug products: what
    /// runs in production is the optimized code, and a debug build allocates where the optimizer
    /// would not (unspecialized generic iteration boxes its elements).
    static var releaseBench: URL {
        ToolProcess.executable("pcmd-bench").deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("release").appendingPathComponent("pcmd-bench")
    }

    @Test("every period-loop benchmark counts 0 mallocs per period, with the counter active")
    func periodLoopAllocatesNothing() throws {
        let path = Self.releaseBench.path
        try #require(FileManager.default.isExecutableFile(atPath: path),
                     "no release pcmd-bench at \(path): scripts/test-fast builds it (swift build -c release --product pcmd-bench)")
        let bench = try ToolProcess.start(program: path, ["--quick", "daemon/", "alsa/"], environment: [:])
        let result = try bench.wait(timeout: 240)
        let output = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.status == 0, "pcmd-bench failed: \(output)\(result.stderr)")
        #expect(output.contains("malloc counting: active"), "the malloc counter was not active: \(output)")
        let rows = mallocRows(output)
        let benchmarks = Set(rows.map(\.benchmark))
        for expected in ["daemon/playback-period-1-client", "daemon/playback-period-8-clients", "daemon/capture-period-8-clients",
                         "alsa/period-cycle", "alsa/status-timestamp-poll", "alsa/wake-threshold"] {
            #expect(benchmarks.contains(expected), "\(expected) reported no malloc count: \(output)")
        }
        for row in rows {
            #expect(Double(row.value) == 0, "\(row.benchmark): \(row.value) \(row.unit)")
        }
    }
}
