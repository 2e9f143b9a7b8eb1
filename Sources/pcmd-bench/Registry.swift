// The list of every benchmark pcmd-bench knows. To add benchmarks, put them in one file of
// your own (`extension BenchmarkRegistry { static let yourArea: [Benchmark] = [...] }`) and
// add that list here.

enum BenchmarkRegistry {
    static var all: [Benchmark] {
        core + alsa + dsp + daemon
    }
}
