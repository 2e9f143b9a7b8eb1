// `pcmctl top`: a live view of the daemon in the manner of pw-top. Every interval it lists the
// devices and the streams and shows, per device, its state, format, period, how often its audio
// threads woke in the last interval, how long they worked per wake against the period (the
// share of the real-time budget used), xruns and the peak level; per stream its device, state,
// format, latency, xruns and peak. On a terminal the view is redrawn in place; otherwise each
// refresh is printed as plain lines, one block after another, for logs and scripts.
//
// Listing keeps the daemon measuring peaks for a few seconds (it measures nothing while nobody
// looks), so the first refresh may show no peaks yet, and rates need two refreshes.
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PCMClient
import PCMProtocol

struct Top: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Watch the devices and streams live: state, format, wakeups, busy time per period, xruns, peak levels.",
        discussion: """
            WAKE/S is how often a device's audio threads woke in the last interval; BUSY is the time \
            they worked per wake against the device period (more than the period means the device \
            cannot keep up); PEAK is the loudest sample lately, in dB of full scale. Redrawn in \
            place on a terminal; plain blocks of lines otherwise. Ctrl-C ends it.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Seconds between refreshes (0.2 to 60).")
    var interval: Double = 1

    @Option(name: .customLong("iterations"), help: "Stop after this many refreshes (default: until Ctrl-C).")
    var iterations: Int?

    mutating func validate() throws {
        guard interval >= 0.2, interval <= 60 else { throw ValidationError("--interval must be 0.2 to 60 seconds, not \(interval)") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
    }

    func run() async throws {
        let pcm = try await connection.connect()
        defer { pcm.close() }
        let terminal = isatty(STDOUT_FILENO) != 0
        var previous: [AudioDeviceID: DeviceSample] = [:]
        var done = 0
        while iterations.map({ done < $0 }) ?? true {
            let devices = try await pcm.devices()
            let streams = try await pcm.streams()
            let now = Self.monotonicSeconds()
            var samples: [AudioDeviceID: DeviceSample] = [:]
            for device in devices {
                samples[device.id] = DeviceSample(time: now, wakeups: device.wakeups, busyNanoseconds: device.busyNanoseconds)
            }
            let text = Self.render(devices: devices, streams: streams, now: samples, before: previous)
            if terminal {
                // Home, clear to the end: the view is redrawn in place.
                print("\u{1B}[H\u{1B}[J" + text)
            } else {
                print(text + "\n")
            }
            fflush(nil)  // every stream: each refresh reaches a pipe at once
            previous = samples
            done += 1
            if iterations.map({ done >= $0 }) ?? false { break }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    /// One device's counters at one refresh.
    struct DeviceSample {
        let time: Double
        let wakeups: UInt64
        let busyNanoseconds: UInt64
    }

    /// The view for one refresh; rates come from the difference with `before`.
    static func render(devices: [DeviceInfo], streams: [StreamInfo], now: [AudioDeviceID: DeviceSample],
                       before: [AudioDeviceID: DeviceSample]) -> String {
        var deviceTable = Table(["ID", "DEVICE", "DEF", "STATE", "FORMAT", "PERIOD", "WAKE/S", "BUSY/PERIOD", "XRUNS", "PEAK"])
        for device in devices {
            let period = Table.milliseconds(frames: device.buffer.periodFrames, rate: device.format.rate)
            var wakeRate = "-"
            var busy = "- / \(period)"
            if let current = now[device.id], let last = before[device.id], current.time > last.time, current.wakeups >= last.wakeups {
                let wakes = current.wakeups - last.wakeups
                wakeRate = String(format3: Double(wakes) / (current.time - last.time))
                if wakes > 0, current.busyNanoseconds >= last.busyNanoseconds {
                    let perWake = Double(current.busyNanoseconds - last.busyNanoseconds) / Double(wakes) / 1_000_000
                    busy = String(format3: perWake) + " / " + period
                }
            }
            deviceTable.add([
                "\(device.id.rawValue)", device.name, device.isDefault ? "*" : "-", device.state.description, device.format.description,
                "\(device.buffer.periodFrames)", wakeRate, busy, "\(device.xruns)", decibels(device.peak),
            ])
        }
        var streamTable = Table(["ID", "CLIENT", "NAME", "DEV", "DIR", "STATE", "FORMAT", "LATENCY", "XRUNS", "PEAK"])
        for stream in streams {
            streamTable.add([
                "\(stream.id.rawValue)", stream.clientName, stream.name.isEmpty ? "-" : stream.name, "\(stream.device.rawValue)",
                stream.direction.description, stream.state.description, stream.format.description,
                String(format3: Double(stream.latencyMicroseconds) / 1000) + " ms", "\(stream.xruns)", decibels(stream.peak),
            ])
        }
        let streamsText = streams.isEmpty ? "no streams" : streamTable.render()
        return (devices.isEmpty ? "no devices" : deviceTable.render()) + "\n\n" + streamsText
    }

    /// A peak as dB of full scale, `-inf` for silence.
    static func decibels(_ peak: Float) -> String {
        guard peak > 0 else { return "-inf" }
        let value = 20 * log10(Double(peak))
        return (value < 0 ? "-" : "") + String(format3: abs(value)).dropLast(2) + " dB"
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
