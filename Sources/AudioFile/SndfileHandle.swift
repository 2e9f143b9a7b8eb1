// The owned libsndfile handle shared by the reader and the writer: it opens, closes exactly once
// (in deinit, or in close() when the caller wants to see the error), and carries the scratch
// memory both sides use to repack 24-bit samples, which libsndfile only exchanges as 32-bit ints.

import CSndfile
import Glibc
import PCMBufferCore

#if _endian(big)
#error("AudioFile moves little-endian samples through libsndfile's native-endian calls; big-endian hosts are not supported")
#endif

/// An open SNDFILE* plus its scratch buffer. Noncopyable so the handle is closed exactly once.
struct SndfileHandle: ~Copyable {
    /// Frames the scratch buffer holds; reads and writes through it go in chunks of this size.
    static let scratchFrames = 2048

    let raw: OpaquePointer
    let sfInfo: SF_INFO
    /// `scratchFrames × channels` 32-bit words, for the 24-bit repacking.
    let scratch: UnsafeMutablePointer<Int32>

    /// Opens `path` (or, when `descriptor` is given, that descriptor, which stays the caller's
    /// to close) in `mode`, with `info` holding what the caller knows (everything for raw and
    /// for writing, nothing for reading a file with a header).
    init(path: String, descriptor: Int32?, mode: Int32, info: SF_INFO) throws(AudioFileError) {
        var info = info
        let opened: OpaquePointer? =
            if let descriptor {
                // libsndfile closes the descriptor when an open fails, even when told not to
                // close it, so it gets a duplicate it owns and the caller's stays open.
                try Self.openDuplicate(of: descriptor, path: path, mode: mode, info: &info)
            } else {
                sf_open(path, mode, &info)
            }
        guard let opened else {
            // With a NULL handle, sf_strerror reports why the last open failed.
            throw .cannotOpen(file: path, reason: String(cString: sf_strerror(nil)))
        }
        guard info.channels >= 1, info.samplerate >= 1 else {
            sf_close(opened)
            throw .cannotOpen(file: path, reason: "the file reports \(info.channels) channels at \(info.samplerate) Hz")
        }
        // Float to integer conversions clamp instead of wrapping around. Integers written to a
        // float file are scaled so integer full scale becomes 1.0. (Reading float files as
        // integers is done by the reader itself: libsndfile either does not scale at all or
        // scales to the file's peak, and neither is what a player wants.)
        sf_command(opened, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
        sf_command(opened, Int32(SFC_SET_SCALE_INT_FLOAT_WRITE), nil, Int32(SF_TRUE))
        raw = opened
        sfInfo = info
        scratch = .allocate(capacity: Self.scratchFrames * Int(info.channels))
    }

    private static func openDuplicate(
        of descriptor: Int32, path: String, mode: Int32, info: inout SF_INFO
    ) throws(AudioFileError) -> OpaquePointer? {
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else {
            throw .cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        return sf_open_fd(duplicate, mode, &info, Int32(SF_TRUE))
    }

    var channels: Int { Int(sfInfo.channels) }

    /// libsndfile's message for the last error on this handle.
    var lastError: String { String(cString: sf_strerror(raw)) }

    /// Whether libsndfile recorded an error on this handle.
    var hasError: Bool { sf_error(raw) != 0 }

    /// Closes the handle and returns libsndfile's status (0 on success).
    consuming func close() -> Int32 {
        let status = sf_close(raw)
        scratch.deallocate()
        discard self
        return status
    }

    deinit {
        // The caller chose not to look at the status by not calling close(); there is nowhere
        // to report it from a deinit.
        sf_close(raw)
        scratch.deallocate()
    }
}

/// Repacking between pcmd's 24-bit layouts and libsndfile's left-justified 32-bit ints.
enum TwentyFourBit {
    /// Left-justified int (24-bit value << 8) → s24 in 4 bytes, sign-extended.
    static func storeS24(_ value: Int32, to destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: (value >> 8).littleEndian, as: Int32.self)
    }

    /// Left-justified int → 3 packed little-endian bytes.
    static func storeS24Packed(_ value: Int32, to destination: UnsafeMutableRawPointer) {
        let bits = UInt32(bitPattern: value)
        destination.storeBytes(of: UInt8(truncatingIfNeeded: bits >> 8), as: UInt8.self)
        destination.storeBytes(of: UInt8(truncatingIfNeeded: bits >> 16), toByteOffset: 1, as: UInt8.self)
        destination.storeBytes(of: UInt8(truncatingIfNeeded: bits >> 24), toByteOffset: 2, as: UInt8.self)
    }

    /// s24 in 4 bytes → left-justified int. The container's top byte is ignored, as ALSA does.
    static func loadS24(from source: UnsafeRawPointer) -> Int32 {
        let bits = UInt32(littleEndian: source.loadUnaligned(as: UInt32.self))
        return Int32(bitPattern: bits << 8)
    }

    /// 3 packed little-endian bytes → left-justified int.
    static func loadS24Packed(from source: UnsafeRawPointer) -> Int32 {
        let b0 = UInt32(source.load(as: UInt8.self))
        let b1 = UInt32(source.load(fromByteOffset: 1, as: UInt8.self))
        let b2 = UInt32(source.load(fromByteOffset: 2, as: UInt8.self))
        return Int32(bitPattern: b0 << 8 | b1 << 16 | b2 << 24)
    }
}
