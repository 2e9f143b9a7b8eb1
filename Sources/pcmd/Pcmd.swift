// The pcmd command line: parses options and hands them to PCMDaemon.
import ArgumentParser
import Logging
import PCMDaemon

@main
struct Pcmd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcmd",
        abstract: "A low-latency sound server for Linux.",
        version: PCMDaemonVersion.string
    )

    func run() async throws {
        print("pcmd \(PCMDaemonVersion.string)")
    }
}
