// The owned libsndfile handle shared by the reader and the writer: it opens, closes exactly once
// (in deinit, or in close() when the caller wants to see the error), and carries the scratch
// memory through which samples pass between libsndfile and the caller's format.

import CSndfile
import Glibc
import PCMBufferCore
import PCMDSP

#if _endian(big)
#error("AudioFile moves little-endian samples through libsndfile's native-endian calls; big-endian hosts are not supported")
#endif

/// An open SNDFILE* plus its scratch buffer. Noncopyable so the handle is closed exactly once.
struct SndfileHandle: ~Copyable {
    /// Frames the scratch buffer holds; reads and writes through it go in chunks of this size.
    static let scratchFrames = 2048

    let raw: OpaquePointer
    let sfInfo: SF_INFO
    /// Where its calls come from.
    let library: SndfileLibrary
    /// `scratchFrames × channels` samples of up to 4 bytes, in `transfer` format.
    let scratch: UnsafeMutableRawPointer
    /// How samples are exchanged with libsndfile for this file: the one of its three calls
    /// (short, int, float) that carries the file's encoding without loss. pcmd's own conversion
    /// rules (PCMDSP) do every other step, so files follow the same rounding as streams.
    let transfer: SampleFormat

    /// Opens `path` (or, when `descriptor` is given, that descriptor, which stays the caller's
    /// to close) in `mode`, with `info` holding what the caller knows (everything for raw and
    /// for writing, nothing for reading a file with a header).
    init(path: String, descriptor: Int32?, mode: Int32, info: SF_INFO) throws(AudioFileError) {
        let library = try SndfileLibrary.load(for: path)
        var info = info
        let opened: OpaquePointer? =
            if let descriptor {
                // libsndfile closes the descriptor when an open fails, even when told not to
                // close it, so it gets a duplicate it owns and the caller's stays open.
                try Self.openDuplicate(of: descriptor, path: path, mode: mode, info: &info, library: library)
            } else {
                library.calls.open?(path, mode, &info) ?? nil
            }
        guard let opened else {
            // With a NULL handle, sf_strerror reports why the last open failed.
            throw .cannotOpen(file: path, reason: library.message(for: nil))
        }
        guard info.channels >= 1, info.samplerate >= 1 else {
            _ = library.calls.close?(opened)
            throw .cannotOpen(file: path, reason: "the file reports \(info.channels) channels at \(info.samplerate) Hz")
        }
        // Compressed encodings decoded to float, and doubles narrowed to float, clamp rather
        // than wrap if libsndfile ever converts them to integers itself.
        _ = library.calls.command?(opened, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
        raw = opened
        sfInfo = info
        self.library = library
        transfer = Self.transferFormat(for: AudioEncoding(sndfileFormat: info.format))
        scratch = .allocate(byteCount: Self.scratchFrames * Int(info.channels) * 4, alignment: 16)
    }

    private static func openDuplicate(
        of descriptor: Int32, path: String, mode: Int32, info: inout SF_INFO, library: SndfileLibrary
    ) throws(AudioFileError) -> OpaquePointer? {
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else {
            throw .cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        return library.calls.open_fd?(duplicate, mode, &info, Int32(SF_TRUE)) ?? nil
    }

    var channels: Int { Int(sfInfo.channels) }

    /// 8- and 16-bit files go through `short`, 24- and 32-bit through `int` (left-justified,
    /// so 24-bit samples arrive as s32 values with the low byte zero), everything else
    /// through `float`.
    static func transferFormat(for encoding: AudioEncoding) -> SampleFormat {
        switch encoding {
        case .pcm8, .pcm(.s16): .s16
        case .pcm(.s24), .pcm(.s24Packed), .pcm(.s32): .s32
        case .pcm(.float32), .float64, .other: .float32
        }
    }

    /// Reads up to `frames` frames into the scratch buffer; returns the frames read.
    func readIntoScratch(frames: Int) -> Int {
        let count = Int64(frames)
        let samples = frames * channels
        let got: Int64
        switch transfer {
        case .s16: got = library.calls.readf_short?(raw, scratch.bindMemory(to: Int16.self, capacity: samples), count) ?? 0
        case .s32: got = library.calls.readf_int?(raw, scratch.bindMemory(to: Int32.self, capacity: samples), count) ?? 0
        default: got = library.calls.readf_float?(raw, scratch.bindMemory(to: Float.self, capacity: samples), count) ?? 0
        }
        return Int(max(got, 0))
    }

    /// Writes `frames` frames from the scratch buffer; returns the frames written.
    func writeFromScratch(frames: Int) -> Int {
        let count = Int64(frames)
        let samples = frames * channels
        let written: Int64
        switch transfer {
        case .s16: written = library.calls.writef_short?(raw, scratch.bindMemory(to: Int16.self, capacity: samples), count) ?? 0
        case .s32: written = library.calls.writef_int?(raw, scratch.bindMemory(to: Int32.self, capacity: samples), count) ?? 0
        default: written = library.calls.writef_float?(raw, scratch.bindMemory(to: Float.self, capacity: samples), count) ?? 0
        }
        return Int(max(written, 0))
    }

    /// The scratch buffer as raw bytes holding `samples` samples of `format`.
    func scratchBytes(samples: Int, format: SampleFormat) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: scratch, count: samples * format.bytesPerSample)
    }

    /// libsndfile's message for the last error on this handle.
    var lastError: String { library.message(for: raw) }

    /// Whether libsndfile recorded an error on this handle.
    var hasError: Bool { (library.calls.error?(raw) ?? 0) != 0 }

    /// Moves to `frame` (whence SEEK_SET); false when libsndfile refuses.
    func seek(toFrame frame: Int64) -> Bool {
        (library.calls.seek?(raw, frame, Int32(SEEK_SET)) ?? -1) >= 0
    }

    /// Rewrites the header for what was written and pushes the data to the kernel.
    func sync() {
        library.calls.write_sync?(raw)
    }

    /// Closes the handle; returns nil, or libsndfile's message for why closing failed.
    consuming func close() -> String? {
        let library = self.library
        let status = library.calls.close?(raw) ?? 0
        scratch.deallocate()
        discard self
        return status == 0 ? nil : library.message(forErrorNumber: status)
    }

    deinit {
        // The caller chose not to look at the status by not calling close(); there is nowhere
        // to report it from a deinit.
        _ = library.calls.close?(raw)
        scratch.deallocate()
    }
}
