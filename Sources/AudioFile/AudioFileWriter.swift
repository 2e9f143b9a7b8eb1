// Writing WAV (and FLAC or raw) from caller buffers in any of pcmd's sample formats. Used by
// pcmrec and by the daemon's built-in file sink. Not for the real-time thread: it does file I/O.

import CSndfile
import PCMBufferCore
import PCMDSP

/// An audio file being written. Closes the file (finishing its header) when it goes away; call
/// `close()` instead to learn whether that worked.
///
/// Samples whose format matches the file's encoding are stored bit-exactly (both 24-bit layouts
/// count as matching a 24-bit file). Other combinations are converted with PCMDSP's rules, as
/// client streams are: widening is exact, integer narrowing rounds to nearest and saturates,
/// float → integer rounds and clamps at full scale, integer → float maps full scale to ±1.0.
public struct AudioFileWriter: ~Copyable, @unchecked Sendable {
    // Safety: noncopyable, and every method touching the handle is `mutating` or `consuming`,
    // so exclusivity keeps it to one thread at a time; libsndfile handles are not thread-bound.

    /// The path, or the label given for a descriptor; used in errors.
    public let name: String
    /// The container, encoding, rate and channels being written.
    public let info: AudioFileInfo
    private var handle: SndfileHandle

    /// Creates (or truncates) `path` and writes a header for `container` with samples stored
    /// as `encoding`.
    /// - Throws: `.invalidParameters` for an impossible combination (float in FLAC, a
    ///   container of `.other`, a rate or channel count out of range); `.cannotOpen` naming
    ///   the file when it cannot be created.
    public init(
        path: String, container: AudioContainer = .wav, encoding: SampleFormat, rate: Int, channels: Int
    ) throws(AudioFileError) {
        try self.init(name: path, descriptor: nil, container: container, encoding: encoding, rate: rate, channels: channels)
    }

    /// Writes to an open descriptor (for example standard output), which stays the caller's.
    /// Use `.raw` for a pipe: WAV and FLAC need to seek back to finish their headers, and
    /// libsndfile refuses to write them to a pipe (the error says so).
    public init(
        fileDescriptor: Int32, name: String, container: AudioContainer, encoding: SampleFormat, rate: Int, channels: Int
    ) throws(AudioFileError) {
        try self.init(
            name: name, descriptor: fileDescriptor, container: container, encoding: encoding, rate: rate,
            channels: channels)
    }

    private init(
        name: String, descriptor: Int32?, container: AudioContainer, encoding: SampleFormat, rate: Int, channels: Int
    ) throws(AudioFileError) {
        try SndfileLimits.check(rate: rate, channels: channels, file: name)
        guard let major = container.sndfileMajor else {
            throw .invalidParameters(file: name, reason: "cannot write this container; use wav, flac or raw")
        }
        var sfInfo = SF_INFO()
        sfInfo.samplerate = Int32(rate)
        sfInfo.channels = Int32(channels)
        sfInfo.format = major | encoding.sndfileSubtype
        if container == .raw { sfInfo.format |= Int32(SF_ENDIAN_LITTLE) }
        let library = try SndfileLibrary.load(for: name)
        guard (library.calls.format_check?(&sfInfo) ?? 0) != 0 else {
            throw .invalidParameters(file: name, reason: "\(container.rawValue) cannot hold \(encoding.name) samples")
        }
        let handle = try SndfileHandle(path: name, descriptor: descriptor, mode: Int32(SFM_WRITE), info: sfInfo)
        self.info = AudioFileInfo(handle.sfInfo, seekable: false)
        self.name = name
        self.handle = handle
    }

    /// Appends every frame in `buffer`, whose samples are in `format` (interleaved,
    /// `info.channels` channels).
    /// - Throws: `.partialFrame` if `buffer` is not a whole number of frames; `.writeFailed`
    ///   naming the file when libsndfile could not write all of them (disk full, pipe closed).
    public mutating func write(_ buffer: UnsafeRawBufferPointer, as format: SampleFormat) throws(AudioFileError) {
        let channels = info.channels
        let bytesPerFrame = format.bytesPerSample * channels
        guard buffer.count % bytesPerFrame == 0 else {
            throw .partialFrame(file: name, bytes: buffer.count, bytesPerFrame: bytesPerFrame)
        }
        guard let base = buffer.baseAddress else { return }
        let total = buffer.count / bytesPerFrame
        var done = 0
        while done < total {
            let chunk = min(total - done, SndfileHandle.scratchFrames)
            let written = writeChunk(frames: chunk, format: format, from: base + done * bytesPerFrame)
            guard written == chunk else {
                throw .writeFailed(file: name, reason: handle.hasError ? handle.lastError : "short write")
            }
            done += chunk
        }
    }

    /// Converts `frames` frames into the scratch buffer in the file's transfer format (via the
    /// file's own sample width, so narrowing rounds once, by PCMDSP's rules) and writes them.
    private func writeChunk(frames: Int, format: SampleFormat, from source: UnsafeRawPointer) -> Int {
        let samples = frames * info.channels
        let input = UnsafeRawBufferPointer(start: source, count: samples * format.bytesPerSample)
        let transfer = handle.transfer
        if case .pcm(let fileFormat) = info.encoding, fileFormat == .s24Packed, transfer == .s32 {
            // A 24-bit file: round to 24 bits first (libsndfile would truncate the low byte of
            // an int), then widen in place to the left-justified int libsndfile expects.
            let s24 = handle.scratchBytes(samples: samples, format: .s24)
            SampleConversion.convert(input, from: format, into: s24, as: .s24, samples: samples)
            SampleConversion.convert(UnsafeRawBufferPointer(s24), from: .s24, into: s24, as: .s32, samples: samples)
        } else {
            SampleConversion.convert(
                input, from: format, into: handle.scratchBytes(samples: samples, format: transfer), as: transfer,
                samples: samples)
        }
        return handle.writeFromScratch(frames: frames)
    }

    /// Rewrites the header for the frames written so far and pushes them to the kernel, so a
    /// reader (or a crash) sees a valid file of everything written up to now.
    public mutating func flush() {
        handle.sync()
    }

    /// Finishes the header and closes the file, reporting a failure that `deinit` would hide.
    /// - Throws: `.closeFailed` naming the file.
    public consuming func close() throws(AudioFileError) {
        let name = self.name
        if let failure = handle.close() {
            throw .closeFailed(file: name, reason: failure)
        }
    }
}
