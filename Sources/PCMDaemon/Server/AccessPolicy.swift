// Who may talk to the daemon, decided from the peer's kernel-verified credentials (SO_PEERCRED
// and SO_PEERGROUPS), never from anything the client says. A user daemon serves its own uid; a
// system daemon serves root and members of the `audio` group; both take explicit allow lists.

#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A connected peer as the kernel knows it.
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The peer's process id when it connected.
    public var pid: Int32
    /// Its effective user id.
    public var uid: UInt32
    /// Its effective group id.
    public var gid: UInt32
    /// Its supplementary groups (empty when the kernel cannot tell, before Linux 4.13).
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// Reads the credentials of the peer of a connected Unix socket.
    public static func of(socket fd: Int32) throws(ServerError) -> PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        guard clinux_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
            throw .system(call: "getsockopt(SO_PEERCRED)", errno: errno)
        }
        var groups = [UInt32](repeating: 0, count: 64)
        var count = groups.withUnsafeMutableBufferPointer { clinux_peer_groups(fd, $0.baseAddress, 64) }
        if count > 64, count <= 65_536 {
            groups = [UInt32](repeating: 0, count: Int(count))
            count = groups.withUnsafeMutableBufferPointer { clinux_peer_groups(fd, $0.baseAddress, count) }
        }
        groups = count > 0 ? Array(groups.prefix(Int(min(count, Int32(groups.count))))) : []
        return PeerCredentials(pid: pid, uid: uid, gid: gid, groups: groups)
    }

    /// Whether the peer is in `group` (primary or supplementary).
    public func isMember(of group: UInt32) -> Bool { gid == group || groups.contains(group) }

    public var description: String { "uid \(uid) gid \(gid) pid \(pid)" }
}

/// Which peers the daemon serves.
public struct AccessPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Users always allowed.
    public var allowedUsers: Set<UInt32>
    /// Groups whose members (primary or supplementary) are allowed.
    public var allowedGroups: Set<UInt32>

    public init(allowedUsers: Set<UInt32>, allowedGroups: Set<UInt32> = []) {
        self.allowedUsers = allowedUsers
        self.allowedGroups = allowedGroups
    }

    /// A per-user daemon: only the user running it (and root, who could read its memory anyway).
    public static func userDaemon(uid: UInt32 = getuid()) -> AccessPolicy {
        AccessPolicy(allowedUsers: [uid, 0])
    }

    /// The system daemon: root, the daemon's own user, and members of the `audio` group (when
    /// the system has one).
    public static func systemDaemon(uid: UInt32 = getuid(), audioGroup: UInt32? = groupID(named: "audio")) -> AccessPolicy {
        AccessPolicy(allowedUsers: [0, uid], allowedGroups: audioGroup.map { [$0] } ?? [])
    }

    /// This policy with more users and groups allowed (the configuration's allow lists).
    public func adding(users: [UInt32], groups: [UInt32]) -> AccessPolicy {
        AccessPolicy(allowedUsers: allowedUsers.union(users), allowedGroups: allowedGroups.union(groups))
    }

    /// Whether `peer` may connect.
    public func allows(_ peer: PeerCredentials) -> Bool {
        allowedUsers.contains(peer.uid) || allowedGroups.contains { peer.isMember(of: $0) }
    }

    /// The group id of a group name, from the system's group database.
    public static func groupID(named name: String) -> UInt32? {
        guard let entry = getgrnam(name) else { return nil }
        return entry.pointee.gr_gid
    }

    public var description: String {
        let users = allowedUsers.sorted().map(String.init).joined(separator: ",")
        let groups = allowedGroups.sorted().map(String.init).joined(separator: ",")
        return "uids [\(users)] gids [\(groups)]"
    }
}
