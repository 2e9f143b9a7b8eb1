// Write-then-read tests for AudioFile: every sample format through WAV bit-exactly, FLAC and raw,
// conversions on read against hand-computed values, chunking, misaligned buffers, descriptors.

import AudioFile
import Foundation
import PCMBufferCore
import Testing

/// A fresh temporary directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "pcmd-audiofile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Interleaved test samples with the edge values of each format and a deterministic sweep.
enum SampleBytes {
    static func make(_ format: SampleFormat, frames: Int, channels: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        let edges: [Int64]
        switch format {
        case .s16: edges = [0, 1, -1, 32767, -32768, 12345, -12345]
        case .s24, .s24Packed: edges = [0, 1, -1, 8_388_607, -8_388_608, 1_234_567, -7_654_321]
        case .s32: edges = [0, 1, -1, 2_147_483_647, -2_147_483_648, 123_456_789, -987_654_321]
        case .float32: edges = []
        }
        var state: UInt32 = 0x1234_5678
        for i in 0..<(frames * channels) {
            // A small LCG gives every test the same pseudo-random fill.
            state = state &* 1_664_525 &+ 1_013_904_223
            switch format {
            case .float32:
                let floats: [Float] = [0, 1, -1, 0.5, -0.25, 1.0 / 3.0]
                let value = i < floats.count ? floats[i] : Float(Int32(bitPattern: state)) / 2_147_483_648
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
            default:
                let bits = format.significantBits
                let random = Int64(Int32(bitPattern: state)) >> (32 - bits)
                let value = i < edges.count ? edges[i] : random
                for b in 0..<format.bytesPerSample {
                    // 4-byte s24 keeps its sign extension in the top byte, as reading produces.
                    bytes.append(UInt8(truncatingIfNeeded: value >> (8 * b)))
                }
            }
        }
        return bytes
    }
}

@Suite("AudioFile round trips")
struct AudioFileRoundTripTests {
    static let formats: [SampleFormat] = SampleFormat.allCases

    @Test("WAV keeps every sample bit-exactly, for every format", arguments: formats)
    func wavRoundTrip(format: SampleFormat) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.wav")
        let frames = 5000  // more than one scratch chunk
        let input = SampleBytes.make(format, frames: frames, channels: 2)
        var writer = try AudioFileWriter(path: path, encoding: format, rate: 48000, channels: 2)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: format) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        #expect(reader.info.container == .wav)
        #expect(reader.info.rate == 48000)
        #expect(reader.info.channels == 2)
        #expect(reader.info.frames == FrameCount(frames))
        let fileFormat: SampleFormat = format == .s24 ? .s24Packed : format
        #expect(reader.info.encoding == .pcm(fileFormat))

        var output = [UInt8](repeating: 0xAA, count: input.count)
        let got = try output.withUnsafeMutableBytes { buffer in
            try reader.read(into: buffer, as: format)
        }
        #expect(got == FrameCount(frames))
        #expect(output == input)
        // At the end, a read returns zero frames and no error.
        var more = [UInt8](repeating: 0, count: 4 * format.bytesPerSample)
        let after = try more.withUnsafeMutableBytes { buffer in
            try reader.read(into: buffer, as: format)
        }
        #expect(after == .zero)
    }

    @Test("FLAC keeps 16- and 24-bit samples bit-exactly", arguments: [SampleFormat.s16, .s24, .s24Packed])
    func flacRoundTrip(format: SampleFormat) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.flac")
        let input = SampleBytes.make(format, frames: 3000, channels: 3)
        var writer = try AudioFileWriter(path: path, container: .flac, encoding: format, rate: 44100, channels: 3)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: format) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        #expect(reader.info.container == .flac)
        #expect(reader.info.rate == 44100)
        #expect(reader.info.channels == 3)
        var output = [UInt8](repeating: 0, count: input.count)
        let got = try output.withUnsafeMutableBytes { buffer in
            try reader.read(into: buffer, as: format)
        }
        #expect(got == 3000)
        #expect(output == input)
    }

    @Test("raw files read back with the format the caller gives", arguments: formats)
    func rawRoundTrip(format: SampleFormat) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.raw")
        let input = SampleBytes.make(format, frames: 777, channels: 1)
        var writer = try AudioFileWriter(path: path, container: .raw, encoding: format, rate: 8000, channels: 1)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: format) }
        try writer.close()
        // A raw file is the samples and nothing else (24-bit is always packed on disk).
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(onDisk.count == 777 * (format == .s24 ? 3 : format.bytesPerSample))

        let raw = RawAudioFormat(layout: FrameLayout(format: format, channels: 1), rate: 8000)
        var reader = try AudioFileReader(path: path, raw: raw)
        #expect(reader.info.container == .raw)
        #expect(reader.info.frames == 777)
        var output = [UInt8](repeating: 0, count: input.count)
        _ = try output.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: format) }
        #expect(output == input)
    }

    @Test("reading s16 into wider formats is exact")
    func widenOnRead() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("w.wav")
        let samples: [Int16] = [0, 1, -1, 32767, -32768, 1000]
        var writer = try AudioFileWriter(path: path, encoding: .s16, rate: 48000, channels: 1)
        try samples.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        var s32 = [Int32](repeating: 0, count: samples.count)
        _ = try s32.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s32) }
        #expect(s32 == samples.map { Int32($0) << 16 })

        try reader.seek(to: 0)
        var s24 = [Int32](repeating: 0, count: samples.count)
        _ = try s24.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s24) }
        #expect(s24 == samples.map { Int32($0) << 8 })

        try reader.seek(to: 0)
        var floats = [Float](repeating: 9, count: samples.count)
        _ = try floats.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .float32) }
        #expect(floats == samples.map { Float($0) / 32768 })
    }

    @Test("float files clamp at full scale when read as integers")
    func floatClampsOnRead() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("f.wav")
        let samples: [Float] = [0, 2.0, -2.0, 1.0, -1.0, 0.5, .nan, 100.4 / 32768, -100.5 / 32768, 0.9999]
        var writer = try AudioFileWriter(path: path, encoding: .float32, rate: 48000, channels: 1)
        try samples.withUnsafeBytes { buffer in try writer.write(buffer, as: .float32) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        var s16 = [Int16](repeating: 0, count: samples.count)
        _ = try s16.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s16) }
        #expect(s16 == [0, 32767, -32768, 32767, -32768, 16384, 0, 100, -100, 32765])  // 0.9999 × 32768 = 32764.7; -100.5 ties to even

        try reader.seek(to: 0)
        var s24 = [UInt8](repeating: 0, count: samples.count * 3)
        _ = try s24.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s24Packed) }
        #expect(Array(s24[3..<6]) == [0xFF, 0xFF, 0x7F])
        #expect(Array(s24[6..<9]) == [0x00, 0x00, 0x80])
        #expect(Array(s24[15..<18]) == [0x00, 0x00, 0x40])

        try reader.seek(to: 0)
        var s32 = [Int32](repeating: 0, count: samples.count)
        _ = try s32.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s32) }
        #expect(s32[1] == .max)
        #expect(s32[2] == .min)
        #expect(s32[3] == .max)
        #expect(s32[4] == .min)
        #expect(s32[5] == 1 << 30)
    }

    @Test("integers written to a float file become ±1.0 full scale")
    func integersIntoFloatFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("i2f.wav")
        let samples: [Int16] = [0, 16384, -32768, 32767]
        var writer = try AudioFileWriter(path: path, encoding: .float32, rate: 48000, channels: 1)
        try samples.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        try writer.close()
        var reader = try AudioFileReader(path: path)
        #expect(reader.info.encoding == .pcm(.float32))
        var floats = [Float](repeating: 9, count: samples.count)
        _ = try floats.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .float32) }
        #expect(floats == samples.map { Float($0) / 32768 })
    }

    @Test("narrowing on read and write rounds like PCMDSP (not libsndfile's truncation)")
    func narrowingRounds() throws {
        let dir = try TemporaryDirectory()
        // 24-bit file read as s16: 0x80 is half an s16 step and rounds up; 0x7F rounds down.
        let path24 = dir.file("r24.wav")
        let values: [Int32] = [0x80, 0x7F, -0x81, 0x7F_FFFF, 0x17F]
        var writer = try AudioFileWriter(path: path24, encoding: .s24, rate: 48000, channels: 1)
        try values.withUnsafeBytes { buffer in try writer.write(buffer, as: .s24) }
        try writer.close()
        var reader = try AudioFileReader(path: path24)
        var s16 = [Int16](repeating: 0, count: values.count)
        _ = try s16.withUnsafeMutableBytes { buffer in try reader.read(into: buffer, as: .s16) }
        #expect(s16 == [1, 0, -1, 32767, 1])

        // s32 written to a 24-bit file: the dropped byte rounds (0x180 → 2, not 1).
        let path32 = dir.file("w24.wav")
        let wide: [Int32] = [0x180, 0x17F, .max, .min]
        var writer32 = try AudioFileWriter(path: path32, encoding: .s24Packed, rate: 48000, channels: 1)
        try wide.withUnsafeBytes { buffer in try writer32.write(buffer, as: .s32) }
        try writer32.close()
        var reader32 = try AudioFileReader(path: path32)
        var s24 = [Int32](repeating: 0, count: wide.count)
        _ = try s24.withUnsafeMutableBytes { buffer in try reader32.read(into: buffer, as: .s24) }
        #expect(s24 == [2, 1, 0x7F_FFFF, -0x80_0000])

        // Floats written to a 16-bit file clamp and round half to even.
        let pathF = dir.file("f16.wav")
        let floats: [Float] = [1.5, -2, 0.5 / 32768, 1.5 / 32768, .nan]
        var writerF = try AudioFileWriter(path: pathF, encoding: .s16, rate: 48000, channels: 1)
        try floats.withUnsafeBytes { buffer in try writerF.write(buffer, as: .float32) }
        try writerF.close()
        var readerF = try AudioFileReader(path: pathF)
        var back = [Int16](repeating: 9, count: floats.count)
        _ = try back.withUnsafeMutableBytes { buffer in try readerF.read(into: buffer, as: .s16) }
        #expect(back == [32767, -32768, 0, 2, 0])
    }

    @Test("reads into a misaligned buffer, in small pieces, give the same bytes")
    func misalignedAndPiecewise() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("m.wav")
        let input = SampleBytes.make(.s32, frames: 2500, channels: 2)
        var writer = try AudioFileWriter(path: path, encoding: .s32, rate: 96000, channels: 2)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: .s32) }
        try writer.close()

        var reader = try AudioFileReader(path: path)
        var output = [UInt8](repeating: 0, count: input.count + 1)
        var offset = 1
        try output.withUnsafeMutableBytes { (all: UnsafeMutableRawBufferPointer) in
            while true {
                let piece = min(8 * 7 * 13, all.count - offset)  // 91 frames, never a scratch multiple
                let slice = UnsafeMutableRawBufferPointer(rebasing: all[offset..<(offset + piece)])
                let got = try reader.read(into: slice, as: .s32)
                if got == .zero { break }
                offset += got.value * 8
            }
        }
        #expect(offset == input.count + 1)
        #expect(Array(output[1...]) == input)
    }

    @Test("flush leaves a complete file another reader can open")
    func flushUpdatesHeader() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("live.wav")
        let input = SampleBytes.make(.s16, frames: 480, channels: 2)
        var writer = try AudioFileWriter(path: path, encoding: .s16, rate: 48000, channels: 2)
        try input.withUnsafeBytes { buffer in try writer.write(buffer, as: .s16) }
        writer.flush()
        let reader = try AudioFileReader(path: path)
        #expect(reader.info.frames == 480)
        try writer.close()
    }

    @Test("raw data from a pipe descriptor reads until the writer closes it")
    func readsFromPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let input = SampleBytes.make(.s16, frames: 100, channels: 2)
        let wrote = input.withUnsafeBytes { Foundation.write(fds[1], $0.baseAddress, $0.count) }
        #expect(wrote == input.count)
        close(fds[1])
        defer { close(fds[0]) }

        let raw = RawAudioFormat(layout: FrameLayout(format: .s16, channels: 2), rate: 48000)
        var reader = try AudioFileReader(fileDescriptor: fds[0], name: "<pipe>", raw: raw)
        #expect(reader.info.frames == nil)
        var output = [UInt8](repeating: 0, count: input.count + 40)
        let got = try output.withUnsafeMutableBytes { buffer in
            try reader.read(into: buffer, as: .s16)
        }
        #expect(got == 100)
        #expect(Array(output[..<input.count]) == input)
    }
}
