// The config target's seeds: the config file pcmd installs (packaging/pcmd.conf, read from the
// working directory, which scripts/fuzz makes the repository), the same with every setting
// uncommented, and a few files a user would write.

#if canImport(Glibc)
import Glibc
#endif

func configSeeds() -> [(name: String, bytes: [UInt8])] {
    guard let installed = readFile("packaging/pcmd.conf") else {
        fatalError("packaging/pcmd.conf not found: run from the repository (scripts/fuzz seeds)")
    }
    // `#key = value` lines are the defaults, commented out.
    let uncommented = installed.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
        line.hasPrefix("#") && line.dropFirst().first?.isLetter == true && line.contains(" = ") ? line.dropFirst() : line
    }.joined(separator: "\n")
    let examples: [(String, String)] = [
        ("low-latency", "period = 128\nperiods = 2\nrt-priority = 80\n"),
        ("duplex", "mode = duplex\ndevice = hw:0,0\ncapture-device = hw:1,0\nsink = file:/tmp/in.wav\nformat = s24_3\nchannels = 6\n"),
        ("sine", "source = sine:1000:0.25   # a test tone\n\tbuffer = 4096\r\nprealloc = 131072\n"),
        ("limits", "max-streams = 1024\nmax-streams-per-client = 1\nmax-clients = 4096\nmax-clients-per-user = 4096\n"),
        ("access", "allow-users = root, 0\nallow-groups = root,0\nsocket = /run/pcmd/socket\n"),
        ("loop", "source = loop:/usr/share/sounds/alsa/Front_Center.wav\nrate = 44100\nformat = f32\n"),
    ]
    return [("installed", Array(installed.utf8)), ("uncommented", Array(uncommented.utf8))]
        + examples.map { ($0.0, Array($0.1.utf8)) }
}

private func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
