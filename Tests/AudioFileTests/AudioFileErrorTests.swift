// Bad input to AudioFile: every case must come back as a typed error naming the file, without
// crashing and without disturbing a reader or writer that is still usable afterwards.

import AudioFile
import Foundation
import PCMBufferCore
import Testing

@Suite("AudioFile errors")
struct AudioFileErrorTests {
    @Test("a missing file is .cannotOpen naming it")
    func missingFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("nope.wav")
        #expect(throws: AudioFileError.self) { _ = try AudioFileReader(path: path) }
        do {
            _ = try AudioFileReader(path: path)
            Issue.record("opening a missing file succeeded")
        } catch {
            guard case .cannotOpen(let file, let reason) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(file == path)
            #expect(!reason.isEmpty)
            #expect(error.description.contains(path))
        }
    }

    @Test("a file that is not audio is .cannotOpen")
    func garbageFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("garbage.wav")
        try Data("this is not a RIFF file at all, just text".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: AudioFileError.cannotOpen(file: path, reason: expectedReason(path))) {
            _ = try AudioFileReader(path: path)
        }
    }

    /// The reason libsndfile gives for `path`, obtained the same way the reader does.
    private func expectedReason(_ path: String) -> String {
        do {
            _ = try AudioFileReader(path: path)
            return ""
        } catch {
            if case .cannotOpen(_, let reason) = error { return reason }
            return ""
        }
    }

    @Test("a WAV header promising more data than the file holds reads what is there")
    func truncatedWav() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("cut.wav")
        let input = SampleBytes.make(.s16, frames: 1000, channels: 2)
        var writer = try AudioFileWriter(path: path, encoding: .s16, rate: 48000, channels: 2)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        try writer.close()
        // Cut the file in the middle of a frame: 44-byte header, then 400.5 frames of data.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 44 + 400 * 4 + 2)
        try handle.close()

        var reader = try AudioFileReader(path: path)
        var output = [UInt8](repeating: 0, count: input.count)
        let got = try output.withUnsafeMutableBytes { buffer in
            try reader.read(into: buffer, as: .s16)
        }
        #expect(got == 400)
        #expect(Array(output[..<1600]) == Array(input[..<1600]))
    }

    @Test("a buffer that is not whole frames is .partialFrame, and the reader still works")
    func partialFrameBuffer() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("p.wav")
        let input = SampleBytes.make(.s16, frames: 10, channels: 2)
        var writer = try AudioFileWriter(path: path, encoding: .s16, rate: 48000, channels: 2)
        #expect(throws: AudioFileError.partialFrame(file: path, bytes: 6, bytesPerFrame: 4)) {
            try input.withUnsafeBytes { buffer in
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<6]), as: .s16)
            }
        }
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        var output = [UInt8](repeating: 0, count: input.count)
        #expect(throws: AudioFileError.partialFrame(file: path, bytes: 7, bytesPerFrame: 4)) {
            try output.withUnsafeMutableBytes { buffer in
                _ = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<7]), as: .s16)
            }
        }
        let got = try output.withUnsafeMutableBytes { buffer in
            try reader.read(into: buffer, as: .s16)
        }
        #expect(got == 10)
        #expect(output == input)
    }

    @Test("impossible writer parameters are .invalidParameters and create no file")
    func invalidWriterParameters() throws {
        let dir = try TemporaryDirectory()
        let flac = dir.file("float.flac")
        #expect(throws: AudioFileError.invalidParameters(file: flac, reason: "flac cannot hold f32 samples")) {
            _ = try AudioFileWriter(path: flac, container: .flac, encoding: .float32, rate: 48000, channels: 2)
        }
        #expect(!FileManager.default.fileExists(atPath: flac))

        let other = dir.file("x.aiff")
        #expect(throws: AudioFileError.self) {
            _ = try AudioFileWriter(path: other, container: .other, encoding: .s16, rate: 48000, channels: 2)
        }
        let zeroRate = dir.file("zero.wav")
        #expect(throws: AudioFileError.invalidParameters(file: zeroRate, reason: "rate 0 Hz is outside 1...1536000")) {
            _ = try AudioFileWriter(path: zeroRate, encoding: .s16, rate: 0, channels: 2)
        }
        let noChannels = dir.file("none.wav")
        #expect(throws: AudioFileError.invalidParameters(file: noChannels, reason: "0 channels is outside 1...1024")) {
            _ = try AudioFileWriter(path: noChannels, encoding: .s16, rate: 48000, channels: 0)
        }
        #expect(!FileManager.default.fileExists(atPath: zeroRate))
        #expect(!FileManager.default.fileExists(atPath: noChannels))
    }

    @Test("a raw file with an impossible rate is .invalidParameters")
    func invalidRawParameters() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("r.raw")
        try Data([0, 0, 0, 0]).write(to: URL(fileURLWithPath: path))
        let raw = RawAudioFormat(layout: FrameLayout(format: .s16, channels: 2), rate: -5)
        #expect(throws: AudioFileError.invalidParameters(file: path, reason: "rate -5 Hz is outside 1...1536000")) {
            _ = try AudioFileReader(path: path, raw: raw)
        }
    }

    @Test("a directory that does not exist cannot be written into")
    func unwritablePath() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("missing/dir/out.wav")
        #expect(throws: AudioFileError.self) {
            _ = try AudioFileWriter(path: path, encoding: .s16, rate: 48000, channels: 2)
        }
    }

    @Test("seeking outside the file is .seekFailed and leaves the position alone")
    func seekOutside() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("s.wav")
        let input = SampleBytes.make(.s16, frames: 50, channels: 1)
        var writer = try AudioFileWriter(path: path, encoding: .s16, rate: 48000, channels: 1)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        #expect(throws: AudioFileError.seekFailed(file: path, frame: 51, reason: "outside the file")) {
            try reader.seek(to: 51)
        }
        #expect(throws: AudioFileError.seekFailed(file: path, frame: -1, reason: "outside the file")) {
            try reader.seek(to: FrameCount(-1))
        }
        var output = [UInt8](repeating: 0, count: input.count)
        _ = try output.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s16) }
        #expect(output == input)
    }

    @Test("WAV to a pipe is refused with a typed error (use raw for pipes)")
    func wavToPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(throws: AudioFileError.self) {
            _ = try AudioFileWriter(
                fileDescriptor: fds[1], name: "<stdout>", container: .wav, encoding: .s16, rate: 48000, channels: 2)
        }
        // Raw to the same pipe works, and the bytes come out unchanged.
        var writer = try AudioFileWriter(
            fileDescriptor: fds[1], name: "<stdout>", container: .raw, encoding: .s16, rate: 48000, channels: 2)
        let input = SampleBytes.make(.s16, frames: 16, channels: 2)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        try writer.close()
        var output = [UInt8](repeating: 0, count: input.count)
        let got = output.withUnsafeMutableBytes { Foundation.read(fds[0], $0.baseAddress, $0.count) }
        #expect(got == input.count)
        #expect(output == input)
    }
}
