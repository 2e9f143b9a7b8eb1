// Socket path rules shared by the daemon and the clients.

import Testing
@testable import PCMProtocol

@Suite struct SocketLocationTests {
    func environment(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    @Test func userDaemon_usesTheRuntimeDirectory() {
        #expect(SocketLocation.userPath(runtimeDirectory: "/run/user/1000") == "/run/user/1000/pcmd/socket")
        #expect(SocketLocation.userPath(runtimeDirectory: "/run/user/1000//") == "/run/user/1000/pcmd/socket")
        #expect(SocketLocation.daemonDefault(system: false, environment: environment(["XDG_RUNTIME_DIR": "/run/user/5"]))
                == "/run/user/5/pcmd/socket")
    }

    @Test func userDaemon_withoutARuntimeDirectory_hasNoDefault() {
        #expect(SocketLocation.daemonDefault(system: false, environment: environment([:])) == nil)
        #expect(SocketLocation.daemonDefault(system: false, environment: environment(["XDG_RUNTIME_DIR": "relative"])) == nil)
    }

    @Test func systemDaemon_usesRun() {
        #expect(SocketLocation.daemonDefault(system: true, environment: environment([:])) == "/run/pcmd/socket")
    }

    @Test func clients_tryUserThenSystem_unlessTold() {
        let env = environment(["XDG_RUNTIME_DIR": "/run/user/1000"])
        #expect(SocketLocation.clientCandidates(environment: env) == ["/run/user/1000/pcmd/socket", "/run/pcmd/socket"])
        #expect(SocketLocation.clientCandidates(environment: environment([:])) == ["/run/pcmd/socket"])
        #expect(SocketLocation.clientCandidates(explicitPath: "/tmp/s", environment: env) == ["/tmp/s"])
        let named = environment(["XDG_RUNTIME_DIR": "/run/user/1000", "PCMD_SOCKET": "/x/y"])
        #expect(SocketLocation.clientCandidates(environment: named) == ["/x/y"])
    }

    @Test func usablePaths_fitASocketAddress() {
        #expect(SocketLocation.isUsable("/run/pcmd/socket"))
        #expect(!SocketLocation.isUsable(""))
        #expect(!SocketLocation.isUsable("/" + String(repeating: "a", count: 107)))
        #expect(SocketLocation.isUsable("/" + String(repeating: "a", count: 106)))
        #expect(!SocketLocation.isUsable("/a\u{0}b"))
    }
}
