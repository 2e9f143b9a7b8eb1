// Bad input to pcmd: every mistake ends in a clear message that names the bad value, a
// non-zero exit status, and no crash.
import Foundation
import Testing

@Suite("pcmd rejects bad input clearly", .serialized)
struct DaemonErrorTests {
    @Test("bad option values name the value and what was expected", arguments: [
        (["--rate", "0"], "invalid rate '0'"),
        (["--channels", "100"], "invalid channels '100'"),
        (["--format", "u8"], "invalid format 'u8'"),
        (["--period", "7"], "invalid period '7'"),
        (["--mode", "both"], "invalid mode 'both'"),
        (["--buffer", "100", "--period", "64"], "invalid buffer '100'"),
        (["--source", "noise"], "invalid source 'noise'"),
        (["--log-level", "loud"], "invalid --log-level 'loud'"),
        (["--prealloc", "16384", "--period", "4096"], "invalid buffer '12288'"),
    ])
    func badValues(arguments: [String], message: String) throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(arguments + ["--device", "null", "--duration", "0.1"], directory: dir)
        #expect(result.status != 0)
        #expect(result.log.contains(message), "\(result.log)")
        #expect(!result.log.contains("Fatal error"))
    }

    @Test("a device that does not exist is named in the error")
    func unknownDevice() throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(["--device", "nosuchdevice", "--duration", "0.1"], directory: dir)
        #expect(result.status != 0)
        #expect(result.log.contains("nosuchdevice"), "\(result.log)")
    }

    @Test("a sound card that is not there yet is waited for, not fatal")
    func absentCardIsRetried() throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(["--device", "hw:7,0", "--duration", "0.5", "--log-level", "debug"], directory: dir)
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.contains("device not available; retrying in the background"), "\(result.log)")
        #expect(result.log.contains("device still unavailable"), "the audio thread must keep retrying:\n\(result.log)")
    }

    @Test("a missing source file is named in the error")
    func missingSourceFile() throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(["--device", "null", "--source", "file:/nonexistent/x.wav", "--duration", "0.1"], directory: dir)
        #expect(result.status != 0)
        #expect(result.log.contains("/nonexistent/x.wav"), "\(result.log)")
    }

    @Test("a config file with an unknown key names the file, the line and the key")
    func badConfigFile() throws {
        let dir = try temporaryDirectory()
        let config = dir.appendingPathComponent("pcmd.conf")
        try "# test\nrate = 48000\nlatency = 5\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try DaemonProcess.run(["--config", config.path, "--device", "null", "--duration", "0.1"], directory: dir)
        #expect(result.status != 0)
        #expect(result.log.contains("pcmd.conf:3: unknown setting 'latency'"), "\(result.log)")
    }

    @Test("the config file is read and the command line wins over it")
    func configFileApplies() throws {
        let dir = try temporaryDirectory()
        let config = dir.appendingPathComponent("pcmd.conf")
        try "period = 64\nperiods = 4\ndevice = null\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try DaemonProcess.run(["--config", config.path, "--periods", "2", "--duration", "0.1"], directory: dir)
        #expect(result.status == 0, "\(result.log)")
        #expect(result.log.contains("pcm.period=64") && result.log.contains("pcm.buffer=128"), "\(result.log)")
    }

    @Test("--list-devices works on a machine without sound cards")
    func listDevices() throws {
        let dir = try temporaryDirectory()
        let result = try DaemonProcess.run(["--list-devices"], directory: dir)
        #expect(result.status == 0)
        #expect(result.output.contains("card") || result.output.contains("No sound cards"), "\(result.output)")
        #expect(result.output.contains("null"))
    }
}
