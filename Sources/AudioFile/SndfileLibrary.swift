// libsndfile, loaded when the first file is opened rather than when the program starts
// (Sources/CSndfile/shim.h says why): the one place AudioFile gets its calls from.

import CSndfile
import Glibc

/// libsndfile's calls, resolved from the library loaded once per process.
///
/// Every call is an optional C function pointer that loading has set (a failed load produces no
/// value of this type); the call sites use `?` with the value that means failure, so nothing here
/// can trap.
// Safety: the function pointers are written once, before the value is published through a
// `static let` (initialized once, thread-safely), and only read afterwards.
struct SndfileLibrary: @unchecked Sendable {
    let calls: pcmd_sndfile

    /// The loaded library, or dlerror()'s reason it could not be loaded.
    private static let loaded: Result<SndfileLibrary, LoadFailure> = {
        var calls = pcmd_sndfile()
        guard pcmd_sndfile_load(&calls) == 0 else {
            return .failure(LoadFailure(reason: dlerror().map { String(cString: $0) } ?? "unknown dlopen failure"))
        }
        return .success(SndfileLibrary(calls: calls))
    }()

    /// Why libsndfile could not be loaded.
    struct LoadFailure: Error {
        let reason: String
    }

    /// The library, loading it on the first call; a failure names the file being opened and
    /// says what to install.
    static func load(for file: String) throws(AudioFileError) -> SndfileLibrary {
        switch loaded {
        case .success(let library):
            return library
        case .failure(let failure):
            throw .cannotOpen(file: file, reason: "libsndfile could not be loaded (\(failure.reason)); install libsndfile1")
        }
    }

    /// libsndfile's message for `handle`'s last error (or, with nil, the last failed open).
    func message(for handle: OpaquePointer?) -> String {
        calls.strerror?(handle).map { String(cString: $0) } ?? "unknown libsndfile error"
    }

    /// libsndfile's message for an error number, as `sf_close` returns.
    func message(forErrorNumber number: Int32) -> String {
        calls.error_number?(number).map { String(cString: $0) } ?? "libsndfile error \(number)"
    }
}
