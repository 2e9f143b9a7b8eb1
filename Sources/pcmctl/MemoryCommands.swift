// `pcmctl memory` and `pcmctl prealloc`: the daemon's allocator as /proc/asound shows the
// kernel's. Substreams are named as in /proc: `card0/pcm0p/sub0` (card, device, p or c,
// subdevice), with or without the leading /proc/asound/. Client streams live on pcmd's own
// virtual cards (100 for playback, 101 for capture), one substream per stream slot.

import ArgumentParser
import PCMBufferCore
import PCMClient
import PCMProtocol

struct Memory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Show the daemon's buffer memory: every substream's prealloc, max and use, every card against its limit.",
        discussion: """
            One row per device substream and per open client stream, as /proc/asound/cardN/pcmDx/subS shows \
            the kernel's: TYPE is the buffer type, PREALLOC and MAX what `prealloc` and `prealloc_max` show \
            (KiB), IN USE the buffer the open substream uses (bytes). The n-th device served (from 0) is \
            card n; its client streams are on pcmd's virtual cards 100 + 2n (playback) and 101 + 2n \
            (capture); their memory is never preallocated, so they have no prealloc files.
            """)

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let pcm = try await connection.connect()
        let listing = try await pcm.memory()
        pcm.close()
        var table = Table(["SUBSTREAM", "TYPE", "PREALLOC", "MAX", "IN USE", "STATE"])
        for entry in listing.substreams {
            let status = entry.status
            table.add([
                SubstreamArgument.name(entry.substream), status.bufferType?.description ?? "-",
                status.hasProcEntry ? "\(status.preallocatedBytes.value / 1024) KiB" : "-",
                status.hasProcEntry ? "\(status.preallocationMax.value / 1024) KiB" : "-",
                status.runtimeBytes.map { "\($0.value)" } ?? "-",
                status.isOpen ? "open" : "closed",
            ])
        }
        print(listing.substreams.isEmpty ? "no substreams" : table.render())
        let limit = listing.cardLimit.map { "\($0.value / 1024) KiB" } ?? "no limit"
        for card in listing.cards {
            print("card \(card.card): \(card.bytesInUse.value / 1024) KiB in use of \(limit)")
        }
    }
}

struct Prealloc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prealloc",
        abstract: "Change a substream's preallocation, with the kernel's rules.",
        discussion: """
            Like `echo KIB > /proc/asound/cardN/pcmDx/subS/prealloc`: refused while the substream is open \
            (EBUSY: stop what uses it first), below 8 KiB except 0 (EINVAL), above prealloc_max (EINVAL), or \
            beyond the card's limit (ENOMEM, the old buffer kept). 0 frees the preallocation. Only the \
            daemon's own user and root may.

            Examples:
              pcmctl prealloc card0/pcm0c/sub0 128K
              pcmctl prealloc /proc/asound/card0/pcm0p/sub0 65536
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The substream, as in /proc/asound: card0/pcm0p/sub0 (see `pcmctl memory`).")
    var substream: String

    @Argument(help: "The new size in bytes, a whole number of KiB; K or M suffixes are KiB and MiB.")
    var bytes: String

    mutating func validate() throws {
        guard SubstreamArgument.parse(substream) != nil else {
            throw ValidationError("\"\(substream)\" is not a substream; write it as /proc/asound names it, e.g. card0/pcm0p/sub0")
        }
        guard let size = SubstreamArgument.bytes(bytes) else {
            throw ValidationError("\"\(bytes)\" is not a size: give bytes, or a number with K or M")
        }
        guard size % 1024 == 0 else {
            throw ValidationError("\(size) bytes is not a whole number of KiB (the kernel's prealloc file takes KiB)")
        }
    }

    func run() async throws {
        let id = SubstreamArgument.parse(substream)!
        let size = SubstreamArgument.bytes(bytes)!
        let pcm = try await connection.connect()
        defer { pcm.close() }
        try await pcm.setPreallocation(id, kibibytes: size / 1024)
        print("\(SubstreamArgument.name(id)): prealloc \(size / 1024) KiB")
    }
}

/// Substream names and sizes as the commands take them.
enum SubstreamArgument {
    /// `card0/pcm0p/sub0`, the /proc/asound form.
    static func name(_ id: SubstreamID) -> String {
        "card\(id.card)/pcm\(id.device)\(id.direction.procLetter)/sub\(id.subdevice)"
    }

    /// Parses `card0/pcm0p/sub0`, also with a leading `/proc/asound/` and a trailing `/prealloc`.
    static func parse(_ text: String) -> SubstreamID? {
        var rest = Substring(text)
        for prefix in ["/proc/asound/", "proc/asound/"] where rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count) }
        if rest.hasSuffix("/prealloc") { rest = rest.dropLast("/prealloc".count) }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].hasPrefix("card"), parts[1].hasPrefix("pcm"), parts[2].hasPrefix("sub"),
              let card = number(parts[0].dropFirst(4)), let subdevice = number(parts[2].dropFirst(3)) else { return nil }
        let pcm = parts[1].dropFirst(3)
        guard let letter = pcm.last, let device = number(pcm.dropLast()) else { return nil }
        let direction: StreamDirection
        switch letter {
        case "p": direction = .playback
        case "c": direction = .capture
        default: return nil
        }
        return SubstreamID(card: card, device: device, direction: direction, subdevice: subdevice)
    }

    /// Parses `65536`, `64K`, `64KiB`, `1M`, `1MiB` into bytes.
    static func bytes(_ text: String) -> UInt64? {
        let units: [(suffix: String, factor: UInt64)] = [("KiB", 1024), ("MiB", 1 << 20), ("K", 1024), ("M", 1 << 20), ("k", 1024)]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = UInt64(text.dropLast(unit.suffix.count)) else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.factor)
            return overflow ? nil : product
        }
        return UInt64(text)
    }

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
