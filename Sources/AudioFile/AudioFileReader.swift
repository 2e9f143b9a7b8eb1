// Reading WAV, FLAC, raw (and whatever else libsndfile knows) into caller-owned buffers in any of
// pcmd's sample formats. Used by pcmplay and by the daemon's built-in file source. Not for the
// real-time thread: it does file I/O.

import CSndfile
import PCMBufferCore
import PCMDSP

/// An open audio file being read. Closes the file when it goes away.
///
/// Samples come from libsndfile without loss (16-bit files as short, 24/32-bit as int, the rest
/// as float) and are converted to the requested format with PCMDSP's rules, the same as client
/// streams: widening is exact, integer narrowing rounds to nearest and saturates, float →
/// integer scales 1.0 to full scale, rounds and clamps (NaN reads as 0). So reading a file in
/// `info.losslessLayout` returns exactly what it holds.
public struct AudioFileReader: ~Copyable, @unchecked Sendable {
    // Safety: the reader is noncopyable and every method that touches the libsndfile handle is
    // `mutating`, so exclusivity guarantees one thread at a time uses it; libsndfile handles
    // are not tied to the thread that opened them.

    /// The path, or the label given for a descriptor; used in errors.
    public let name: String
    /// What the file holds.
    public let info: AudioFileInfo
    private let handle: SndfileHandle

    /// Opens a file with a header (WAV, FLAC, ...), detecting its format.
    /// - Throws: `.cannotOpen` naming `path` when it is missing, unreadable or not audio.
    public init(path: String) throws(AudioFileError) {
        try self.init(name: path, descriptor: nil, raw: nil)
    }

    /// Opens a headerless file whose format, rate and channels the caller supplies.
    public init(path: String, raw: RawAudioFormat) throws(AudioFileError) {
        try self.init(name: path, descriptor: nil, raw: raw)
    }

    /// Reads from an open descriptor (for example standard input). The descriptor stays the
    /// caller's: it is not closed with the reader. Pass `raw` for headerless data.
    public init(fileDescriptor: Int32, name: String, raw: RawAudioFormat? = nil) throws(AudioFileError) {
        try self.init(name: name, descriptor: fileDescriptor, raw: raw)
    }

    private init(name: String, descriptor: Int32?, raw: RawAudioFormat?) throws(AudioFileError) {
        var sfInfo = SF_INFO()
        if let raw {
            try SndfileLimits.check(rate: raw.rate, channels: raw.layout.channels, file: name)
            sfInfo.samplerate = Int32(raw.rate)
            sfInfo.channels = Int32(raw.layout.channels)
            sfInfo.format = Int32(SF_FORMAT_RAW) | raw.layout.format.sndfileSubtype | Int32(SF_ENDIAN_LITTLE)
        }
        let handle = try SndfileHandle(path: name, descriptor: descriptor, mode: Int32(SFM_READ), info: sfInfo)
        self.info = AudioFileInfo(handle.sfInfo, seekable: handle.sfInfo.seekable != 0)
        self.name = name
        self.handle = handle
    }

    /// Reads as many whole frames as fit in `buffer`, converting them to `format` (interleaved,
    /// `info.channels` channels). Returns the frames read: fewer than fit only at the end of
    /// the file, and zero once it is reached.
    /// - Throws: `.partialFrame` if `buffer` is not a whole number of frames; `.readFailed`
    ///   naming the file if libsndfile reports an error (a truncated FLAC stream, an I/O error).
    public mutating func read(
        into buffer: UnsafeMutableRawBufferPointer, as format: SampleFormat
    ) throws(AudioFileError) -> FrameCount {
        let channels = info.channels
        let bytesPerFrame = format.bytesPerSample * channels
        guard buffer.count % bytesPerFrame == 0 else {
            throw .partialFrame(file: name, bytes: buffer.count, bytesPerFrame: bytesPerFrame)
        }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .zero }
        let wanted = buffer.count / bytesPerFrame
        var done = 0
        while done < wanted {
            let chunk = min(wanted - done, SndfileHandle.scratchFrames)
            let destination = base + done * bytesPerFrame
            let got = readChunk(frames: chunk, format: format, into: destination)
            done += got
            if got < chunk { break }
        }
        if handle.hasError { throw .readFailed(file: name, reason: handle.lastError) }
        return FrameCount(done)
    }

    /// Reads up to `frames` (at most `scratchFrames`) through the scratch buffer and converts
    /// them into `destination` with PCMDSP's rules.
    private func readChunk(frames: Int, format: SampleFormat, into destination: UnsafeMutableRawPointer) -> Int {
        let got = handle.readIntoScratch(frames: frames)
        let samples = got * info.channels
        SampleConversion.convert(
            UnsafeRawBufferPointer(handle.scratchBytes(samples: samples, format: handle.transfer)), from: handle.transfer,
            into: UnsafeMutableRawBufferPointer(start: destination, count: samples * format.bytesPerSample), as: format,
            samples: samples)
        return got
    }

    /// Moves the read position to `frame` (0 is the first frame), for looping a file source.
    /// - Throws: `.seekFailed` when the input is a pipe or `frame` lies outside the file.
    public mutating func seek(to frame: FrameCount) throws(AudioFileError) {
        guard frame.value >= 0, info.frames.map({ frame <= $0 }) ?? true else {
            throw .seekFailed(file: name, frame: frame.value, reason: "outside the file")
        }
        guard handle.seek(toFrame: Int64(frame.value)) else {
            throw .seekFailed(file: name, frame: frame.value, reason: handle.lastError)
        }
    }
}
