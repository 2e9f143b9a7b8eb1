// The one error type of the AudioFile module. Every case names the file it concerns, because
// the tools and the daemon's diagnostics print these straight to a user who may have passed
// several files, and "unsupported format" without a name is useless there.

/// What went wrong with an audio file. Every case carries the file's name (its path, or a
/// label such as `<stdin>` for a descriptor) and, where libsndfile gave one, its message.
public enum AudioFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened: it does not exist, is not readable, or libsndfile does
    /// not recognise its contents. `reason` is libsndfile's message.
    case cannotOpen(file: String, reason: String)
    /// The parameters given for the file make no sense: a rate or channel count out of range,
    /// or an encoding the container cannot hold (for example float in FLAC).
    case invalidParameters(file: String, reason: String)
    /// The caller's buffer does not hold a whole number of frames in the requested layout.
    case partialFrame(file: String, bytes: Int, bytesPerFrame: Int)
    /// Reading failed in the middle of the file (a truncated or corrupt file, an I/O error).
    case readFailed(file: String, reason: String)
    /// Writing failed (disk full, closed pipe, I/O error). Some frames may have been written.
    case writeFailed(file: String, reason: String)
    /// Seeking failed: the file is a pipe, or the frame lies beyond its end.
    case seekFailed(file: String, frame: Int, reason: String)
    /// Closing the file failed, so its header or its last data may not be on disk.
    case closeFailed(file: String, reason: String)

    /// The file the error concerns.
    public var file: String {
        switch self {
        case .cannotOpen(let file, _), .invalidParameters(let file, _), .partialFrame(let file, _, _),
             .readFailed(let file, _), .writeFailed(let file, _), .seekFailed(let file, _, _),
             .closeFailed(let file, _):
            file
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let file, let reason):
            "\(file): cannot open: \(reason)"
        case .invalidParameters(let file, let reason):
            "\(file): invalid parameters: \(reason)"
        case .partialFrame(let file, let bytes, let bytesPerFrame):
            "\(file): a buffer of \(bytes) bytes is not a whole number of \(bytesPerFrame)-byte frames"
        case .readFailed(let file, let reason):
            "\(file): read failed: \(reason)"
        case .writeFailed(let file, let reason):
            "\(file): write failed: \(reason)"
        case .seekFailed(let file, let frame, let reason):
            "\(file): cannot seek to frame \(frame): \(reason)"
        case .closeFailed(let file, let reason):
            "\(file): close failed: \(reason)"
        }
    }
}
