// pcmrec: records from the pcmd daemon into a WAV, FLAC or raw file, or raw samples to standard
// output, until a duration is reached or Ctrl-C. The daemon converts the device's input to the
// format, rate and channels asked for; the samples reach the file unchanged.

import AudioFile
import ArgumentParser
import PCMBufferCore
import PCMClientCore
import PCMProtocol
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Set by SIGINT/SIGTERM: stop recording and finish the file properly.
let stopRequested = Atomic<Bool>(false)

@main
struct PCMRec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcmrec",
        abstract: "Record audio from the pcmd sound server.",
        discussion: """
            Writes a WAV file (or FLAC or raw, by --container or the file's extension), or raw \
            little-endian samples to standard output ("-"): WAV and FLAC headers need a seekable \
            file. Recording stops after --duration, or on Ctrl-C (a second Ctrl-C quits at once); \
            the file is always closed properly.

            Examples:
              pcmrec take1.wav
              pcmrec --format s24_3 --rate 96000 --duration 10 take2.flac
              pcmrec --format f32 - | sox -t raw -e float -b 32 -r 48000 -c 2 - out.ogg
            """
    )

    @Argument(help: "The file to write, or - for raw samples on standard output.")
    var file: String

    @Option(help: "Sample format: s16, s24, s24_3, s32 or f32.")
    var format: String = "s16"

    @Option(help: "Sample rate in Hz.")
    var rate: Int = 48_000

    @Option(help: "Channels.")
    var channels: Int = 2

    @Option(help: "Container: wav, flac or raw (default: from the extension, else wav).")
    var container: String?

    @Option(help: "Stop after this many seconds (default: until Ctrl-C).")
    var duration: Double?

    @Option(help: "The pcmd socket (default: $PCMD_SOCKET, then the user daemon, then the system daemon).")
    var socket: String?

    @Option(help: "The device to record from: its number or name (see `pcmctl devices`); 0 is the daemon's default.")
    var device = "0"

    @Option(help: "Wanted latency in milliseconds (0: the daemon's default).")
    var latency: UInt32 = 0

    @Option(help: "The stream's name in `pcmctl streams`.")
    var name: String = "pcmrec"

    mutating func validate() throws {
        guard SampleFormat(name: format) != nil else {
            throw ValidationError("unknown sample format \"\(format)\"; use s16, s24, s24_3, s32 or f32")
        }
        guard WireLimits.sampleRates.contains(UInt32(clamping: rate)) else {
            throw ValidationError("--rate must be 1000 to 768000")
        }
        guard (1...WireLimits.maxChannels).contains(channels) else {
            throw ValidationError("--channels must be 1 to \(WireLimits.maxChannels)")
        }
        if let container, AudioContainer(rawValue: container) == nil || container == "other" {
            throw ValidationError("--container must be wav, flac or raw")
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if file == "-", let container, container != "raw" {
            throw ValidationError("standard output takes raw samples only (WAV and FLAC headers need to seek)")
        }
    }

    /// The container to write: stdout is raw; otherwise the option, else the extension, else WAV.
    var chosenContainer: AudioContainer {
        if file == "-" { return .raw }
        if let container, let chosen = AudioContainer(rawValue: container) { return chosen }
        let lowered = file.lowercased()
        if lowered.hasSuffix(".flac") { return .flac }
        if lowered.hasSuffix(".raw") || lowered.hasSuffix(".pcm") { return .raw }
        return .wav
    }

    func run() throws {
        // A reader of standard output that goes away makes the write fail with EPIPE, which is
        // reported, and the file so far is closed properly; no signal kills the recorder.
        signal(SIGPIPE, SIG_IGN)
        guard let sampleFormat = SampleFormat(name: format) else { return }
        let streamFormat = StreamFormat(sampleFormat, rate: rate, channels: channels)
        signal(SIGINT) { _ in
            stopRequested.store(true, ordering: .relaxed)
            signal(SIGINT, SIG_DFL)  // a second Ctrl-C ends the process at once
        }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }

        let connection = try BlockingConnection.connect(path: socket, clientName: "pcmrec")
        let stream = try connection.open(OpenStream(
            direction: .capture, format: streamFormat, latencyMicroseconds: latency * 1000, device: try connection.resolveDevice(device),
            name: name
        ))
        // The file is created only once the daemon has accepted the stream, so a failed start
        // leaves no empty file behind.
        var writer = file == "-"
            ? try AudioFileWriter(fileDescriptor: STDOUT_FILENO, name: "<stdout>", container: .raw,
                                  encoding: sampleFormat, rate: rate, channels: channels)
            : try AudioFileWriter(path: file, container: chosenContainer, encoding: sampleFormat, rate: rate, channels: channels)
        let limit = duration.map { Int(($0 * Double(rate)).rounded()) }
        // Wake when half the ring is filled; read up to a ring's worth (at the client's rate)
        // each time.
        let deviceRate = stream.opened.deviceFormat.rate
        let wakeFrames = max(1, stream.ringFrames / 2)
        let chunkFrames = max(256, stream.ringFrames * rate / max(deviceRate, 1) + 64)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkFrames * streamFormat.bytesPerFrame, alignment: 16)
        defer { chunk.deallocate() }
        var recorded = 0
        while !stopRequested.load(ordering: .relaxed) {
            let frames = try stream.read(into: chunk)
            if frames == 0 {
                // Wake at least every 100 ms to notice Ctrl-C.
                if try !waitForAudio(connection, stream, frames: wakeFrames) { continue }
                continue
            }
            let keep = limit.map { min(frames, $0 - recorded) } ?? frames
            try writer.write(UnsafeRawBufferPointer(rebasing: chunk[..<(keep * streamFormat.bytesPerFrame)]), as: sampleFormat)
            recorded += keep
            if let limit, recorded >= limit { break }
        }
        let overruns = stream.status.overruns
        try connection.close(stream)
        try writer.close()
        if overruns > 0 {
            fputs("pcmrec: \(overruns) overrun\(overruns == 1 ? "" : "s"): the ring was full and the daemon dropped captured audio\n", stderr)
        }
    }

    /// Sleeps until `frames` device frames were captured, at most 100 ms (so Ctrl-C is seen).
    /// Returns false when the 100 ms passed first.
    private func waitForAudio(_ connection: BlockingConnection, _ stream: ClientStream, frames: Int) throws(ClientCoreError) -> Bool {
        do throws(ClientCoreError) {
            try connection.waitFor(stream, frames: frames, timeoutMilliseconds: 100)
            return true
        } catch .timedOut {
            return false
        }
    }
}
