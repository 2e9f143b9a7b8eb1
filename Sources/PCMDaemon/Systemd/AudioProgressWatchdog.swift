// The rule behind pcmd's systemd watchdog: "alive" means every running audio thread completed
// periods since the last look. A daemon whose main loop still runs while an audio thread hangs
// (a driver stuck in a syscall, a deadlocked DMA wait) is not alive for a sound server; with
// this rule systemd restarts it after WatchdogSec=.

/// One audio thread's progress: how many periods it has completed so far.
///
/// The daemon's audio thread keeps an atomic period counter; the watchdog samples it from another
/// thread. The counter only has to change while the thread works: wrap-around or a reset (a
/// reopened device starting again at zero) count as progress too.
public struct AudioThreadProgress: Sendable, Hashable {
    /// Which thread this is, unique among the running ones (e.g. `"hw:0,0 playback"`); shown in
    /// the log when it stalls.
    public var name: String
    /// Periods completed since the thread started.
    public var periods: UInt64

    public init(name: String, periods: UInt64) {
        self.name = name
        self.periods = periods
    }
}

/// What one look at the audio threads found.
public enum AudioProgressVerdict: Sendable, Hashable {
    /// Every running audio thread completed periods since the last look (threads seen for the
    /// first time count as progressing), or none is running: ping the watchdog.
    case progressing
    /// These threads (by name, in the order given) completed no period since the last look:
    /// withhold the ping, so that systemd restarts pcmd if they stay stuck.
    case stalled([String])
    /// Two running threads share these names, so their progress cannot be told apart: withhold
    /// the ping (a daemon bug that must not pass as health).
    case ambiguousNames([String])

    /// Whether this look earns a `WATCHDOG=1`.
    public var isAlive: Bool {
        if case .progressing = self { return true }
        return false
    }
}

/// Compares successive snapshots of the audio threads' period counters.
///
/// Not for the audio thread: ``check(_:)`` allocates. The watchdog service calls it every half
/// `WatchdogSec=`.
public struct AudioProgressWatchdog: Sendable {
    /// Each running thread's counter at the previous look.
    private var previous: [String: UInt64] = [:]

    public init() {}

    /// Looks at the threads running now and says whether each made progress since the last look.
    ///
    /// Threads that stopped since the last look are forgotten; their absence is not a stall
    /// (a device being reopened has no thread for a while).
    public mutating func check(_ threads: [AudioThreadProgress]) -> AudioProgressVerdict {
        var current: [String: UInt64] = [:]
        current.reserveCapacity(threads.count)
        var duplicates: [String] = []
        for thread in threads {
            if current.updateValue(thread.periods, forKey: thread.name) != nil, !duplicates.contains(thread.name) {
                duplicates.append(thread.name)
            }
        }
        if !duplicates.isEmpty {
            // No baseline can be kept for names that do not identify one thread.
            previous = [:]
            return .ambiguousNames(duplicates)
        }
        let stalled = threads.filter { thread in
            previous[thread.name].map { $0 == thread.periods } ?? false
        }.map(\.name)
        previous = current
        return stalled.isEmpty ? .progressing : .stalled(stalled)
    }
}

extension AudioThreadProgress {
    /// The progress of the audio threads that are streaming now, one per device stream, named
    /// like `"hw:0,0 playback"`. A stream whose device is gone and being retried has no running
    /// thread to watch, so it is left out (its absence is not a stall).
    public static func running(_ controls: [DeviceControl]) -> [AudioThreadProgress] {
        controls.filter(\.isRunning).map { AudioThreadProgress(name: "\($0.deviceName) \($0.stream)", periods: $0.periods) }
    }
}

extension DeviceControl {
    /// This device stream's part of the `STATUS=` line: `"playback streaming, 0 xruns"`.
    public var systemdStatus: String {
        "\(stream) \(isRunning ? "streaming" : "waiting for the device"), \(xruns) xruns"
    }
}
