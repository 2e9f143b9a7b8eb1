// The configuration model: parsing the config file, layering the command line over it, and
// validation that names the bad value.
import PCMBufferCore
import PCMDaemon
import Testing

@Suite("configuration")
struct ConfigurationTests {
    @Test("defaults are valid and give a 3072-frame buffer")
    func defaults() throws {
        let config = try ConfigurationSettings().configuration()
        #expect(config.format == .s16 && config.rate == 48_000 && config.channels == 2)
        #expect(config.requestedBufferFrames == 3072)
    }

    @Test("a config file parses comments, spaces and every key")
    func parsesFile() throws {
        let text = """
            # pcmd test
            device = hw:Loopback,0,0   # trailing comment
              format=s32
            rate = 44100
            channels = 6
            period = 128
            periods = 4
            mode = duplex
            source = sine:440:0.25
            sink = file:/tmp/x.wav
            max-streams = 8
            max-clients = 64
            max-clients-per-user = 20
            max-streams-per-client = 3
            rt-priority = 0
            """
        let config = try ConfigurationSettings(parsing: text, file: "t.conf").configuration()
        #expect(config.devices == ["hw:Loopback,0,0"])
        #expect(config.format == .s32 && config.rate == 44_100 && config.channels == 6)
        #expect(config.periodFrames == 128 && config.requestedBufferFrames == 512)
        #expect(config.mode == .duplex && config.maxStreams == 8 && config.realtimePriority == 0)
        #expect(config.source == .sine(frequency: 440, amplitude: 0.25))
        #expect(config.sink == .file(path: "/tmp/x.wav"))
        #expect(config.maxClients == 64 && config.maxClientsPerUser == 20)
        #expect(config.maxStreamsPerClient == 3)
        var bad = config
        bad.maxStreamsPerClient = 0
        #expect(throws: (any Error).self, "a quota of 0 streams is refused") { try bad.validate() }
    }

    @Test("devices: repeated lines and options keep their order; the command line replaces the file's list")
    func deviceLists() throws {
        let file = try ConfigurationSettings(parsing: """
            device = PCH,0
            device = Loopback,1   # a second card
            exclude-device = HDMI
            exclude-device = PCH,3
            """, file: "t.conf")
        let fromFile = try file.configuration()
        #expect(fromFile.devices == ["PCH,0", "Loopback,1"])
        #expect(fromFile.excludedDevices == ["HDMI", "PCH,3"])
        var commandLine = ConfigurationSettings()
        commandLine.set("device", "null")
        commandLine.set("device", "hw:0,0")
        let merged = try file.overridden(by: commandLine).configuration()
        #expect(merged.devices == ["null", "hw:0,0"], "the command line's devices replace the file's")
        #expect(merged.excludedDevices == ["HDMI", "PCH,3"])
        #expect(try ConfigurationSettings().configuration().devices.isEmpty, "no device: every card")
    }

    @Test("bad device settings name the value: empty names, a capture device beside several devices")
    func badDevices() throws {
        var twoWithCapture = ConfigurationSettings()
        twoWithCapture.set("device", "hw:0,0")
        twoWithCapture.set("device", "hw:1,0")
        twoWithCapture.set("capture-device", "hw:2,0")
        #expect(throws: ConfigurationError.self, "capture-device with two devices") { try twoWithCapture.configuration() }
        var captureAlone = ConfigurationSettings()
        captureAlone.set("capture-device", "hw:2,0")
        #expect(throws: ConfigurationError.self, "capture-device with every card") { try captureAlone.configuration() }
        var empty = DaemonConfiguration()
        empty.devices = ["hw:0,0", ""]
        #expect(throws: ConfigurationError.self) { try empty.validate() }
        var emptyExclusion = DaemonConfiguration()
        emptyExclusion.excludedDevices = [""]
        #expect(throws: ConfigurationError.self) { try emptyExclusion.validate() }
    }

    @Test("the connection limits: 128 in all by default, a quarter per user but at least 4, never more than in all")
    func connectionLimits() throws {
        let defaults = try ConfigurationSettings().configuration()
        #expect(defaults.maxClients == 128 && defaults.maxClientsPerUser == nil)
        var server = ServerConfiguration(policy: .userDaemon(), maxStreams: 32)
        #expect(server.maxClients == 128 && server.clientsPerUser == 32)
        server.maxClients = 8
        #expect(server.clientsPerUser == 4)
        server.maxClients = 2
        #expect(server.clientsPerUser == 2)
        server.maxClients = 100
        server.maxClientsPerUser = 100
        #expect(server.clientsPerUser == 100)
        var settings = ConfigurationSettings()
        settings.set("max-clients", "10")
        settings.set("max-clients-per-user", "11")
        #expect(throws: ConfigurationError.invalidValue(key: "max-clients-per-user", value: "11", expected: "1 to max-clients (10) connections")) {
            try settings.configuration()
        }
    }

    @Test("the command line overrides the file")
    func override() throws {
        let file = try ConfigurationSettings(parsing: "rate = 44100\nperiod = 512\n", file: "f")
        var commandLine = ConfigurationSettings()
        commandLine.set("rate", "96000")
        let config = try file.overridden(by: commandLine).configuration()
        #expect(config.rate == 96_000 && config.periodFrames == 512)
    }

    @Test("malformed lines and unknown keys name the file and line")
    func fileErrors() {
        #expect(throws: ConfigurationError.malformedLine(line: 2, file: "a.conf", text: "rate 48000")) {
            try ConfigurationSettings(parsing: "# x\nrate 48000\n", file: "a.conf")
        }
        #expect(throws: ConfigurationError.unknownKey(key: "latency", line: 1, file: "b.conf")) {
            try ConfigurationSettings(parsing: "latency = 3", file: "b.conf")
        }
        #expect(throws: ConfigurationError.malformedLine(line: 1, file: "c.conf", text: "= 3")) {
            try ConfigurationSettings(parsing: "= 3", file: "c.conf")
        }
    }

    @Test("values out of range are rejected with the key and value", arguments: [
        ("rate", "999"), ("rate", "abc"), ("channels", "0"), ("period", "15"), ("periods", "1"),
        ("max-streams", "0"), ("max-clients", "0"), ("max-clients", "4097"), ("max-clients-per-user", "0"), ("rt-priority", "100"), ("format", "s8"), ("mode", "loop"), ("prealloc", "1000"),
    ])
    func rangeErrors(key: String, value: String) {
        var settings = ConfigurationSettings()
        settings.set(key, value)
        #expect {
            try settings.configuration()
        } throws: { error in
            guard case .invalidValue(let k, let v, _) = error as? ConfigurationError else { return false }
            return k == key && v == value
        }
    }

    @Test("allow lists take names and numeric ids, and reject unknown names")
    func allowLists() throws {
        var settings = ConfigurationSettings()
        settings.set("allow-users", "root, 1234")
        settings.set("allow-groups", "0,4321")
        let config = try settings.configuration()
        #expect(config.allowedUsers == [0, 1234])
        #expect(config.allowedGroups == [0, 4321])
        for (key, value) in [("allow-users", "no-such-user-pcmd"), ("allow-groups", "no-such-group-pcmd"), ("allow-users", ",")] {
            var bad = ConfigurationSettings()
            bad.set(key, value)
            #expect(throws: ConfigurationError.self, "\(key)=\(value)") { try bad.configuration() }
        }
    }

    @Test("the allow lists widen the default access policy and nothing else")
    func allowListsWidenThePolicy() {
        let policy = AccessPolicy.userDaemon(uid: 1000).adding(users: [2000], groups: [29])
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000)))
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 2000, gid: 2000)))
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 3000, gid: 3000, groups: [29])))
        #expect(!policy.allows(PeerCredentials(pid: 1, uid: 3000, gid: 3000, groups: [30])))
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 0, gid: 0)))
    }

    // Found by fuzz-config: the buffer's size in bytes was multiplied out before validation
    // (to raise the default prealloc) and again in it, so these values trapped on overflow.
    @Test("sizes whose bytes overflow are rejected naming the value, not a trap", arguments: [
        "period = -2080000000000000002",
        "period = 4611686018427387904\nperiods = 4",
        "buffer = 4611686018427387904",
        "buffer = 9223372036854775807\nchannels = 64\nformat = s32",
        "buffer = 4611686018427387904\nprealloc = 65536",
    ])
    func overflowingSizes(text: String) throws {
        let settings = try ConfigurationSettings(parsing: text, file: "t.conf")
        #expect(throws: ConfigurationError.self) { try settings.configuration() }
    }

    @Test("a sink without capture is a conflict")
    func sinkNeedsCapture() {
        var settings = ConfigurationSettings()
        settings.set("sink", "file:/tmp/a.wav")
        #expect(throws: ConfigurationError.self) { try settings.configuration() }
    }

    @Test("sources parse every documented form and reject the rest")
    func sources() throws {
        #expect(try BuiltInSource(parsing: "silence") == .silence)
        #expect(try BuiltInSource(parsing: "sine") == .sine(frequency: 440, amplitude: 0.5))
        #expect(try BuiltInSource(parsing: "sine:1000") == .sine(frequency: 1000, amplitude: 0.5))
        #expect(try BuiltInSource(parsing: "loop:/a.wav") == .file(path: "/a.wav", loop: true))
        #expect(try BuiltInSource(parsing: "/a.wav") == .file(path: "/a.wav", loop: false))
        for bad in ["sine:0", "sine:1:2", "sine:x", "file:", "noise", "sine:1:0.5:3"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try BuiltInSource(parsing: bad) }
        }
    }
}
