// Makes the malloc interposer active. On Linux, linking libMallocInterposerSwift.so is not
// always enough for its malloc to win over libc's; if the counter sees nothing, pcmd-bench
// re-executes itself once with LD_PRELOAD pointing at the library next to the executable.

#if canImport(Glibc)
import Glibc
#endif

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
