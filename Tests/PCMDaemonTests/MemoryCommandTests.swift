// `pcmctl memory` and `pcmctl prealloc` against a real pcmd: the listing shows the device's
// preallocated substream as /proc/asound would (64 KiB, open, its buffer in use) and an open
// client stream on the clients' virtual card with its ring's bytes; a prealloc write gets the
// kernel's answers (EBUSY for an open substream, ENODEV for one without prealloc files or none
// at all), and a size that is not whole KiB or not a substream name is refused before asking.
import Foundation
import PCMBufferCore
import PCMClient
import PCMDaemon
import PCMProtocol
import Testing

@Suite("pcmctl memory and prealloc against a real daemon", .serialized, .timeLimit(.minutes(2)))
struct MemoryCommandTests {
    @Test("memory lists the device substream and an open client stream; prealloc gets the kernel's refusals")
    func memoryAndPrealloc() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let owner = try await PCMConnection.connect(path: daemon.socket, clientName: "owner")
        let stream = try await owner.openPlayback(format: PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2), name: "music")
        let socket = ["--socket", daemon.socket]

        let listing = try await owner.memory()
        let device = try #require(listing.substreams.first { $0.substream == SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0) })
        #expect(device.status.isOpen && device.status.hasProcEntry && device.status.bufferType == .continuous)
        #expect(device.status.preallocatedBytes == ByteCount(64 * 1024))
        let client = try #require(listing.substreams.first { $0.substream.card == 100 && $0.status.isOpen }, "\(listing.substreams)")
        #expect(client.status.bufferType == .sealedShared)
        #expect((client.status.runtimeBytes?.value ?? 0) >= stream.granted.ring.bufferFrames * 4, "the ring's bytes are in use")
        #expect(listing.cards.contains { $0.card == 100 && $0.bytesInUse.value >= (client.status.runtimeBytes?.value ?? 0) })

        let memory = try ToolProcess.run("pcmctl", ["memory"] + socket)
        #expect(memory.status == 0, "\(memory.stderr)")
        let table = String(decoding: memory.stdout, as: UTF8.self)
        let row = try #require(table.split(separator: "\n").first { $0.hasPrefix("card0/pcm0p/sub0 ") }, "\(table)")
        #expect(row.contains("continuous") && row.contains("64 KiB") && row.contains("open"), "\(row)")
        #expect(table.contains("card100/pcm0p/sub") && table.contains("sealed shared"), "\(table)")
        #expect(table.contains("card 0: 64 KiB in use of 32768 KiB"), "\(table)")

        for (arguments, expected) in [
            (["card0/pcm0p/sub0", "128K"], "is open (EBUSY)"),
            (["/proc/asound/card100/pcm0p/sub0", "64K"], "has no prealloc proc file (ENODEV)"),
            (["card9/pcm0c/sub0", "64K"], "no substream card 9 device 0 capture subdevice 0 (ENODEV)"),
        ] {
            let result = try ToolProcess.run("pcmctl", ["prealloc"] + arguments + socket)
            let stderr = result.stderr
            #expect(result.status == 1 && stderr.contains(expected), "\(arguments): status \(result.status), \(stderr)")
        }
        for (arguments, expected) in [
            (["card0/pcm0p/sub0", "1000"], "not a whole number of KiB"),
            (["hw:0,0", "64K"], "is not a substream"),
            (["card0/pcm0x/sub0", "64K"], "is not a substream"),
            (["card0/pcm0p/sub0", "lots"], "is not a size"),
        ] {
            let result = try ToolProcess.run("pcmctl", ["prealloc"] + arguments + socket)
            let stderr = result.stderr
            #expect(result.status == 64 && stderr.contains(expected), "\(arguments): status \(result.status), \(stderr)")
        }
        // Nothing was changed by the refusals.
        #expect(try await owner.memory().substreams.first { $0.substream == device.substream }?.status.preallocatedBytes == ByteCount(64 * 1024))
        try await stream.close()
        owner.close()
        _ = try daemon.stop()
    }

    @Test("prealloc from another user is refused with accessDenied and changes nothing",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
                   && AccessPolicy.groupID(named: "audio") != nil, "needs root, setpriv and an audio group"))
    func preallocFromAnotherUser() async throws {
        let dir = try temporaryDirectory()
        let daemon = try await ServedDaemon.start(["--device", "playout", "--period", "256"], directory: dir)
        let audio = try #require(AccessPolicy.groupID(named: "audio"))
        let substream = SubstreamID(card: 0, device: 0, direction: .playback, subdevice: 0)
        // A member of the audio group may play and list, but not change the daemon's memory.
        let listed = try ToolProcess.run("/usr/bin/setpriv", arguments: [
            "--reuid", "65534", "--regid", "\(audio)", "--clear-groups",
            ToolProcess.executable("pcmctl").path, "memory", "--socket", daemon.socket,
        ])
        #expect(listed.status == 0, "listing as uid 65534: \(listed.stderr)")
        let changed = try ToolProcess.run("/usr/bin/setpriv", arguments: [
            "--reuid", "65534", "--regid", "\(audio)", "--clear-groups",
            ToolProcess.executable("pcmctl").path, "prealloc", "card0/pcm0p/sub0", "32K", "--socket", daemon.socket,
        ])
        #expect(changed.status == 1 && changed.stderr.contains("only root or the daemon's own user may change a preallocation"),
                "status \(changed.status): \(changed.stderr)")
        let owner = try await PCMConnection.connect(path: daemon.socket, clientName: "owner")
        let device = try await owner.memory().substreams.first { $0.substream == substream }
        #expect(device?.status.preallocatedBytes == ByteCount(64 * 1024), "the refused request changed the preallocation")
        owner.close()
        let result = try daemon.stop()
        #expect(result.status == 0, "\(result.log)")
    }
}
