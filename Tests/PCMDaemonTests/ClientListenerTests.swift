// The daemon's listening socket and access policy: private permissions, a stale socket from a
// crashed run replaced, a live one never stolen, a non-socket never removed, the path cleaned up
// on close, inherited sockets adopted, and peers judged by their kernel credentials.

#if canImport(Glibc)
import Glibc
#endif
@testable import PCMDaemon
import Testing

@Suite(.serialized) struct ClientListenerTests {
    /// A fresh private directory for one test's socket.
    func scratchDirectory() -> String {
        var template = Array("/tmp/pcmd-listener-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func mode(of path: String) -> mode_t {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o7777 : 0
    }

    func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    func connects(to path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return ClientListener.withAddress(path) { connect(fd, $0, $1) } == 0
    }

    @Test func bind_createsAPrivateSocket_thatAcceptsAndIsRemovedOnClose() throws {
        let directory = scratchDirectory() + "/pcmd"  // does not exist yet: the listener makes it
        let path = directory + "/socket"
        do {
            let listener = try ClientListener.bind(path: path, mode: 0o600)
            #expect(mode(of: directory) == 0o700)
            #expect(mode(of: path) == 0o600)
            #expect(try listener.accept() == nil, "nothing waiting yet")
            #expect(connects(to: path))
            let client = try #require(try listener.accept())
            let peer = try PeerCredentials.of(socket: client)
            #expect(peer.uid == getuid())
            #expect(peer.pid == getpid())
            close(client)
        }
        #expect(!exists(path), "the socket is removed when the listener goes away")
        #expect(!exists(path + ".lock"))
    }

    @Test func staleSocketFromACrashedRun_isReplaced() throws {
        let path = scratchDirectory() + "/socket"
        // A bound socket with nobody listening any more: what a killed daemon leaves behind.
        let dead = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(ClientListener.withAddress(path) { Glibc.bind(dead, $0, $1) } == 0)
        close(dead)
        #expect(exists(path))
        let listener = try ClientListener.bind(path: path, mode: 0o600)
        #expect(connects(to: path))
        _ = listener
    }

    @Test func liveDaemon_isNeverStolen() throws {
        let path = scratchDirectory() + "/socket"
        let first = try ClientListener.bind(path: path, mode: 0o600)
        #expect(throws: ServerError.alreadyRunning(path: path)) { _ = try ClientListener.bind(path: path, mode: 0o600) }
        #expect(connects(to: path), "the first daemon's socket still works")
        _ = first
    }

    @Test func liveSocketWithoutALock_isNeverStolen() throws {
        // A daemon that does not use the lock file (or another program) listening on the path.
        let path = scratchDirectory() + "/socket"
        let other = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(other) }
        #expect(ClientListener.withAddress(path) { Glibc.bind(other, $0, $1) } == 0)
        #expect(listen(other, 1) == 0)
        #expect(throws: ServerError.alreadyRunning(path: path)) { _ = try ClientListener.bind(path: path, mode: 0o600) }
        #expect(exists(path))
    }

    @Test func aRegularFileInTheWay_isLeftAlone() throws {
        let path = scratchDirectory() + "/socket"
        let fd = open(path, O_CREAT | O_WRONLY, 0o644)
        close(fd)
        #expect(throws: ServerError.pathOccupied(path: path)) { _ = try ClientListener.bind(path: path, mode: 0o600) }
        #expect(exists(path))
    }

    @Test func unusablePaths_areRefused() {
        let long = "/tmp/" + String(repeating: "x", count: 120)
        #expect(throws: ServerError.unusablePath(long)) { _ = try ClientListener.bind(path: long, mode: 0o600) }
    }

    @Test func inheritedSocket_isAdopted_andItsPathLeftAlone() throws {
        let path = scratchDirectory() + "/socket"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(ClientListener.withAddress(path) { Glibc.bind(fd, $0, $1) } == 0)
        #expect(listen(fd, 4) == 0)
        do {
            let listener = try ClientListener.adopt(fd: fd, path: path)
            #expect(connects(to: path))
            let client = try #require(try listener.accept())
            close(client)
        }
        #expect(exists(path), "systemd owns an inherited socket's path")
    }

    @Test func adoptingSomethingThatIsNotAStreamSocket_fails() {
        let datagram = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(datagram) }
        #expect(throws: ServerError.self) { _ = try ClientListener.adopt(fd: datagram) }
    }

    @Test func accessPolicy_judgesUidsAndGroups() {
        let user = AccessPolicy.userDaemon(uid: 1000)
        #expect(user.allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000)))
        #expect(user.allows(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(!user.allows(PeerCredentials(pid: 1, uid: 1001, gid: 1000)))

        let system = AccessPolicy.systemDaemon(uid: 998, audioGroup: 29)
        #expect(system.allows(PeerCredentials(pid: 1, uid: 1001, gid: 29)), "primary group audio")
        #expect(system.allows(PeerCredentials(pid: 1, uid: 1001, gid: 100, groups: [27, 29])), "supplementary group audio")
        #expect(!system.allows(PeerCredentials(pid: 1, uid: 1001, gid: 100, groups: [27])))
        #expect(system.allows(PeerCredentials(pid: 1, uid: 998, gid: 998)))

        let custom = AccessPolicy(allowedUsers: [5], allowedGroups: [7])
        #expect(custom.allows(PeerCredentials(pid: 1, uid: 5, gid: 1)))
        #expect(!custom.allows(PeerCredentials(pid: 1, uid: 0, gid: 0)), "an explicit list is exactly that list")
    }
}
