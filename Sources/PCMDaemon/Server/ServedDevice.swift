// A device as the socket server sees it (its id and names, its playback mixer and capture
// fan-out, its audio threads' controls), and which device is the default one: what device 0
// means to a client, chosen with `pcmctl default` and kept across restarts in a state file.
#if canImport(Glibc)
import Glibc
#endif
import PCMProtocol
import PCMBufferCore
import Synchronization

/// One device the daemon serves.
public struct ServedDevice: Sendable {
    /// Its number in the protocol: 1, 2, ... in the order served; 0 means the default.
    public let id: AudioDeviceID
    /// What clients name it by: a stable name (`PCH,0`) or the ALSA name it was given.
    public let name: String
    /// The card's and the PCM device's names and the ALSA name opened, for listings.
    public let description: String
    /// Playback mixing, when the device plays.
    public let playback: PlaybackProcessor?
    /// Capture fan-out, when the device records.
    public let capture: CaptureProcessor?
    /// Its audio threads' controls: state and xruns for listings.
    public let controls: [DeviceControl]
    /// SIGHUP's work for it: reopen each of its audio threads' devices.
    public let reopen: [@Sendable () -> Void]

    public init(id: AudioDeviceID, name: String, description: String, playback: PlaybackProcessor?, capture: CaptureProcessor?,
                controls: [DeviceControl], reopen: [@Sendable () -> Void] = []) {
        self.id = id
        self.name = name
        self.description = description
        self.playback = playback
        self.capture = capture
        self.controls = controls
        self.reopen = reopen
    }

    /// What it can do.
    var directions: PCMProtocol.StreamMode {
        playback != nil && capture != nil ? .duplex : playback != nil ? .playback : .capture
    }

    /// Running when every one of its audio threads streams.
    var state: DeviceState {
        !controls.isEmpty && controls.allSatisfy(\.isRunning) ? .running : .failed
    }
}

/// Every device served, as the socket thread, the log and the watchdog see them: the ones
/// served from the start and those a card plugged in later added (`HotplugService`). Devices
/// are only ever added; one that goes away stays, failed, and comes back under its id.
public final class DeviceRegistry: Sendable {
    private let served: Locked<[ServedDevice]>
    /// Tells the socket server that the list changed (it watches the new devices' eventfds and
    /// tells its clients).
    private let changed: Locked<(@Sendable () -> Void)?> = Locked(nil)

    public init(_ devices: [ServedDevice]) { served = Locked(devices) }

    /// The devices now, in id order.
    public var devices: [ServedDevice] { served.withLock { $0 } }

    /// The id the next device added gets. Reading it and then calling `add` is safe only for a
    /// single writer: `HotplugService` is the only one.
    public var nextID: AudioDeviceID { served.withLock { AudioDeviceID(UInt32($0.count + 1)) } }

    /// Adds a device (its id must be `nextID`) and tells whoever listens.
    public func add(_ device: ServedDevice) {
        served.withLock { $0.append(device) }
        changed.withLock { $0 }?()
    }

    /// What to call when a device is added (the socket server sets it).
    func onChange(_ action: @escaping @Sendable () -> Void) { changed.withLock { $0 = action } }
}

/// Which device id 0 means. Read by the socket server for every open on device 0, changed by
/// `setDefaultDevice`.
public final class DefaultDeviceChoice: Sendable {
    private let current: Atomic<UInt32>

    public init(_ id: AudioDeviceID) { current = Atomic(id.rawValue) }

    /// The default device's id.
    public var id: AudioDeviceID { AudioDeviceID(current.load(ordering: .relaxed)) }

    func set(_ id: AudioDeviceID) { current.store(id.rawValue, ordering: .relaxed) }
}

/// The file that keeps the default device's name across restarts: one line, the name. Written
/// whole to a temporary file and renamed over the old one, so a crash never leaves half a name.
public struct DefaultDeviceStore: Sendable {
    /// The file's path.
    public let path: String

    public init(path: String) { self.path = path }

    /// The state file `default-device` in `configured` (`--state-directory`), else in
    /// `$STATE_DIRECTORY` (systemd's StateDirectory=), else in the user's `$XDG_STATE_HOME/pcmd`
    /// or `~/.local/state/pcmd`; nil for root without any of them (nothing is kept).
    public static func standard(configured: String?) -> DefaultDeviceStore? {
        func variable(_ name: String) -> String? {
            guard let value = getenv(name) else { return nil }
            let text = String(cString: value)
            return text.isEmpty ? nil : text
        }
        let directory: String
        if let configured {
            directory = configured
        } else if let state = variable("STATE_DIRECTORY") {
            // systemd may pass several, colon-separated: the first is the unit's own.
            directory = String(state.split(separator: ":").first ?? "")
        } else if let xdg = variable("XDG_STATE_HOME") {
            directory = xdg + "/pcmd"
        } else if let home = variable("HOME"), getuid() != 0 {
            directory = home + "/.local/state/pcmd"
        } else {
            return nil
        }
        return DefaultDeviceStore(path: directory + "/default-device")
    }

    /// The name stored, or nil when there is none (or it cannot be read: the first device
    /// served is then the default, as on a first start).
    public func load() -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        let name = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init)
        return name?.isEmpty == false ? name : nil
    }

    /// Stores `name`, creating the directory if needed; returns why it could not, for the log.
    public func save(_ name: String) -> String? {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !directory.isEmpty, mkdir(directory, 0o755) != 0, errno != EEXIST {
            return "cannot create \(directory): \(String(cString: strerror(errno)))"
        }
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return "cannot write \(temporary): \(String(cString: strerror(errno)))" }
        let line = Array((name + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == line.count, synced == 0 else {
            unlink(temporary)
            return "cannot write \(temporary): \(String(cString: strerror(errno)))"
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return "cannot replace \(path): \(reason)"
        }
        return nil
    }
}
