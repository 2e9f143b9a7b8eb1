// pcmplay: plays a WAV, FLAC or raw file (or standard input) through the pcmd daemon, showing
// the position and the level on a terminal. It uses the synchronous client core: the file's
// frames are converted to the device's format and rate in this process (libsoxr, as the daemon
// did before protocol version 2) and written straight into the stream's shared ring, so what
// reaches the device is bit-exact whenever the formats already match. It sleeps on the stream's
// eventfd until half the ring is free: about ten wakeups a second at the default latency.

import AudioFile
import ArgumentParser
import PCMBufferCore
import PCMClientCore
import PCMProtocol

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct PCMPlay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcmplay",
        abstract: "Play an audio file through the pcmd sound server.",
        discussion: """
            Reads WAV, FLAC (and whatever else libsndfile reads) or headerless raw audio, from a \
            file or from standard input ("-"). Raw input needs --raw with --rate and --channels. \
            pcmplay converts the file's format and rate to the device's.

            On a terminal, pcmplay shows the position (as heard, from the daemon's clock), the \
            peak level of each block, and the stream's xruns.

            Examples:
              pcmplay song.flac
              sox in.wav -t raw -e signed -b 16 -r 44100 -c 2 - | pcmplay --raw s16 --rate 44100 --channels 2 -
            """
    )

    @Argument(help: "The file to play, or - for standard input.")
    var file: String = "-"

    @Option(
        name: .customLong("raw"),
        help: ArgumentHelp("Treat the input as headerless samples in this format: s16, s24, s24_3, s32 or f32 (little-endian).", valueName: "format")
    )
    var rawFormat: String?

    @Option(help: "Sample rate of raw input, in Hz.")
    var rate: Int?

    @Option(help: "Channels of raw input.")
    var channels: Int?

    @Option(help: "The pcmd socket (default: $PCMD_SOCKET, then the user daemon, then the system daemon).")
    var socket: String?

    @Option(help: "The device to play on: its number or name (see `pcmctl devices`); 0 is the daemon's default.")
    var device = "0"

    @Option(help: "Wanted latency in milliseconds (0: the daemon's default).")
    var latency: UInt32 = 0

    @Option(help: "Stream volume, 0 to 1 (or a percentage like 50%).")
    var volume: String?

    @Option(help: "The stream's name in `pcmctl streams`.")
    var name: String?

    @Flag(name: .shortAndLong, help: "Do not show position and level.")
    var quiet = false

    mutating func validate() throws {
        if rawFormat != nil {
            guard rate != nil, channels != nil else { throw ValidationError("--raw needs --rate and --channels") }
        } else if rate != nil || channels != nil {
            throw ValidationError("--rate and --channels describe raw input; add --raw FORMAT")
        }
        if let rawFormat, SampleFormat(name: rawFormat) == nil {
            throw ValidationError("unknown sample format \"\(rawFormat)\"; use s16, s24, s24_3, s32 or f32")
        }
        if let volume, VolumeArgument.parse(volume) == nil {
            throw ValidationError("volume must be 0 to 1 or 0% to 100%, not \"\(volume)\"")
        }
        guard latency <= WireLimits.maxLatencyMicroseconds / 1000 else {
            throw ValidationError("--latency is at most \(WireLimits.maxLatencyMicroseconds / 1000) ms")
        }
    }

    func run() throws {
        // A closed pipe or socket is an error to report, not a signal that kills the player.
        signal(SIGPIPE, SIG_IGN)
        var reader = try openInput()
        let info = reader.info
        let format = StreamFormat(info.losslessLayout.format, rate: info.rate, channels: info.channels)
        guard WireLimits.sampleRates.contains(UInt32(clamping: info.rate)), (1...WireLimits.maxChannels).contains(info.channels) else {
            throw ToolFailure("\(file): \(format) is outside what pcmd streams carry (1000-768000 Hz, 1-32 channels)")
        }

        let connection = try BlockingConnection.connect(path: socket, clientName: "pcmplay")
        let stream = try connection.open(OpenStream(
            direction: .playback, format: format, latencyMicroseconds: latency * 1000, device: try connection.resolveDevice(device),
            name: name ?? (file == "-" ? "stdin" : String(file.split(separator: "/").last ?? "pcmplay"))
        ))
        if let volume, let level = VolumeArgument.parse(volume) {
            try connection.setVolume(Volume(level: level), stream: stream.id)
        }

        let display = quiet || isatty(STDERR_FILENO) == 0 ? nil : ProgressDisplay(format: format, totalFrames: info.frames?.value)
        let deviceRate = stream.opened.deviceFormat.rate
        // Wake when half the ring is free: at the daemon's default (100 ms) that is about ten
        // wakeups a second, each followed by a write of half a ring.
        let wakeFrames = max(1, stream.ringFrames / 2)
        let chunkFrames = max(256, stream.ringFrames * format.rate / max(deviceRate, 1) / 2)
        var chunk = [UInt8](repeating: 0, count: chunkFrames * format.bytesPerFrame)
        var meter = PeakMeter(format: format.sampleFormat)
        while true {
            let frames = try chunk.withUnsafeMutableBytes { raw in
                try reader.read(into: raw, as: format.sampleFormat)
            }
            if frames.value == 0 { break }
            let bytes = frames.value * format.bytesPerFrame
            let peak = try chunk.withUnsafeBytes { raw in
                let block = UnsafeRawBufferPointer(rebasing: raw[..<bytes])
                try connection.writeAll(block, to: stream, wakeFrames: wakeFrames)
                return meter.peak(of: block)
            }
            display?.update(status: stream.status, deviceRate: deviceRate, peak: peak)
        }
        try connection.drain(stream)
        display?.update(status: stream.status, deviceRate: deviceRate, peak: 0)
        display?.finish()
        // Said even with --quiet or off a terminal: a glitch in the playback must not go unnoticed.
        let underruns = stream.status.underruns
        if underruns > 0 {
            fputs("pcmplay: \(underruns) underrun\(underruns == 1 ? "" : "s"): the daemon played silence where audio came late\n", stderr)
        }
        try connection.close(stream)
    }

    /// Opens the file or standard input, headerless if --raw was given.
    func openInput() throws -> AudioFileReader {
        var raw: RawAudioFormat?
        if let rawFormat, let format = SampleFormat(name: rawFormat), let rate, let channels {
            guard channels >= 1 else { throw ToolFailure("--channels must be at least 1") }
            raw = RawAudioFormat(layout: FrameLayout(format: format, channels: channels), rate: rate)
        }
        if file == "-" {
            return try AudioFileReader(fileDescriptor: STDIN_FILENO, name: "<stdin>", raw: raw)
        }
        if let raw { return try AudioFileReader(path: file, raw: raw) }
        return try AudioFileReader(path: file)
    }
}

/// A failure the tool reports in one sentence.
struct ToolFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
