// The `file` PCM writes every committed frame to a file: frames written through mmap must
// appear there bit-exactly, in order, and nothing else. This is the no-hardware proof that the
// mmap region offsets and strides pcmd uses address the real ring buffer.

import ALSA
import Glibc
import PCMBufferCore
import Testing

@Suite struct FilePCMTests {
    /// A fresh path under /tmp, removed by the caller.
    private func temporaryPath(_ tag: String) -> String {
        "/tmp/pcmd-alsa-test-\(getpid())-\(tag)-\(UInt32.random(in: 0...UInt32.max)).raw"
    }

    private func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// Plays `totalFrames` pattern frames through mmap in `chunk`-frame steps, like the
    /// daemon's period loop: prefill, start, then refill whatever avail allows.
    private func play(_ pcm: borrowing PCM, totalFrames: Int, chunk: Int) -> [UInt8] {
        var expected: [UInt8] = []
        var written = 0
        var started = false
        while written < totalFrames {
            guard case .ok(let avail) = pcm.availUpdate() else {
                Issue.record("avail_update failed")
                return expected
            }
            if avail.value < chunk && !started {
                try? pcm.start()
                started = true
                continue
            }
            let want = min(chunk, totalFrames - written, avail.value)
            let result = pcm.mmapTransfer(maxFrames: FrameCount(want)) { region in
                for frame in 0..<region.frames.value {
                    for channel in 0..<2 {
                        let sample = patternSample(frame: written + frame, channel: channel)
                        region.channel(channel).sample(at: frame).storeBytes(of: sample, as: Int16.self)
                        withUnsafeBytes(of: sample.littleEndian) { expected.append(contentsOf: $0) }
                    }
                }
                return region.frames
            }
            guard case .ok(let moved) = result else {
                Issue.record("mmap commit failed: \(String(describing: result.interruption))")
                return expected
            }
            written += moved.value
        }
        return expected
    }

    @Test func playbackThroughMMap_appearsBitExactInTheFile() throws {
        let path = temporaryPath("play")
        defer { unlink(path) }
        var pcm = try PCM(device: "file:'\(path)',raw", direction: .playback)
        #expect(pcm.typeName == "FILE")
        try pcm.configureHardware(standardRequest)
        try pcm.configureSoftware()
        // 5 buffers and a bit, in period-sized chunks: wraps the ring several times.
        let expected = play(pcm, totalFrames: 4800 * 5 + 700, chunk: 1200)
        #expect(expected.count == (4800 * 5 + 700) * 4)
        try pcm.drain()
        try pcm.close()
        let contents = try #require(readFile(path))
        #expect(contents.count == expected.count)
        #expect(contents == expected)
    }

    @Test func oddChunksAcrossTheWrap_stillBitExact() throws {
        let path = temporaryPath("odd")
        defer { unlink(path) }
        var pcm = try PCM(device: "file:'\(path)',raw", direction: .playback)
        try pcm.configureHardware(
            HardwareRequest(format: .s16, channels: 2, rate: 44100, maxBufferFrames: 1000, bufferFrames: 1000, periodFrames: 250)
        )
        try pcm.configureSoftware()
        let expected = play(pcm, totalFrames: 3333, chunk: 333)
        #expect(expected.count == 3333 * 4)
        try pcm.drain()
        try pcm.close()
        #expect(readFile(path) == expected)
    }

    @Test func fileDefinedThroughConfigurationText_writesTheSameBytes() throws {
        let path = temporaryPath("conf")
        defer { unlink(path) }
        let configuration = """
            pcm.capturefile {
                type file
                slave { pcm { type null } }
                file "\(path)"
                format raw
            }
            """
        var pcm = try PCM(configuration: configuration, name: "capturefile", direction: .playback)
        try pcm.configureHardware(standardRequest)
        try pcm.configureSoftware()
        let expected = play(pcm, totalFrames: 2400, chunk: 1200)
        try pcm.drain()
        try pcm.close()
        #expect(readFile(path) == expected)
    }

    @Test func configurationTextThatDoesNotParse_throwsFromConfigLoad() {
        let error = #expect(throws: ALSAError.self) {
            _ = try PCM(configuration: "pcm.broken { type null", name: "broken", direction: .playback)
        }
        #expect(error?.functionName == "snd_config_load")
    }

    @Test func configurationWithoutTheName_throwsCannotOpen() {
        let error = #expect(throws: ALSAError.self) {
            _ = try PCM(configuration: "pcm.other { type null }", name: "missing", direction: .capture)
        }
        #expect(error?.reason == .cannotOpen(device: "missing"))
    }
}
