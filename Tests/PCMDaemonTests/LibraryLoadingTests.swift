// What a running pcmd maps: the libraries of features it does not use stay out of its memory.
// libsndfile (and the codec libraries it links) is loaded when a file source or sink opens its
// file; libsoxr (and OpenMP's runtime) belongs to the clients, which convert (PCMResample).
import Foundation
import Testing

@Suite("the libraries a daemon loads", .serialized, .timeLimit(.minutes(1)))
struct LibraryLoadingTests {
    @Test("a serving pcmd maps neither libsndfile nor libsoxr; a file source loads libsndfile when it opens the file")
    func loadsWhatItUses() async throws {
        let plain = try await ServedDaemon.start(["--device", "playout"], directory: try temporaryDirectory())
        let plainMaps = try mappedFiles(of: plain.pid)
        #expect(plainMaps.contains("libasound"), "the maps were not read: \(plainMaps.prefix(300))")
        for unused in ["libsndfile", "libFLAC", "libvorbis", "libsoxr", "libgomp"] {
            #expect(!plainMaps.contains(unused), "\(unused) is mapped by a daemon that plays no file")
        }
        #expect(try plain.stop().status == 0)

        let dir = try temporaryDirectory()
        let source = dir.appendingPathComponent("source.wav")
        try wavData(samples: testFrames(count: 48_000)).write(to: source)
        let playing = try await ServedDaemon.start(["--device", "playout", "--source", "file:\(source.path)"], directory: dir)
        let playingMaps = try mappedFiles(of: playing.pid)
        #expect(playingMaps.contains("libsndfile.so.1"), "a file source did not load libsndfile")
        let stopped = try playing.stop()
        #expect(stopped.status == 0, "\(stopped.log)")
    }

    @Test("a libsndfile that cannot be loaded is a clear error naming the file and what to install, not a crash")
    func unloadableLibrary() throws {
        // A library that is not libsndfile, found first under its name: dlopen succeeds, the
        // calls are missing.
        let dir = try temporaryDirectory()
        let impostor = dir.appendingPathComponent("libsndfile.so.1")
        let alsaLib = URL(fileURLWithPath: "/usr/lib/x86_64-linux-gnu/libasound.so.2").resolvingSymlinksInPath()
        try FileManager.default.copyItem(at: alsaLib, to: impostor)
        let music = dir.appendingPathComponent("music.wav")
        try wavData(samples: testFrames(count: 4_800)).write(to: music)
        let result = try ToolProcess.run("pcmplay", ["--socket", dir.path + "/no-daemon", music.path],
                                         environment: ["LD_LIBRARY_PATH": dir.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("music.wav") && result.stderr.contains("libsndfile could not be loaded")
                && result.stderr.contains("install libsndfile1"), "\(result.stderr)")
    }
}

/// `/proc/PID/maps` whole: procfs files report a size of 0, so they are read to their end.
private func mappedFiles(of pid: Int32) throws -> String {
    let handle = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/maps"))
    defer { try? handle.close() }
    return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
}
