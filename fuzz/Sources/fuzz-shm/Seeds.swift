// The shared-memory target's seeds: what real clients do (a player that keeps its ring full and
// sleeps until half of it is free, a recorder that reads everything, a drain, a pause), what a
// hostile one does (a W a whole ring ahead, an R behind the daemon's W), and the client's
// mapping of a real stream header at its real size, sealed as the daemon seals it, and
// truncated.

/// Operation bytes of the audio thread's half (see FuzzShm.swift): slot index in bits 3 and up.
private enum Op {
    static func client(_ slot: UInt8) -> UInt8 { slot << 3 }  // position near the daemon's
    static func state(_ slot: UInt8) -> UInt8 { slot << 3 | 2 }
    static let playbackPeriod: UInt8 = 4
    static let capturePeriod: UInt8 = 6
}

private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// One playback slot and one capture slot (flags 0), or two of each (flags 3); ring sizes and
/// start thresholds as `(ring - 1, threshold)` pairs.
private func claims(_ flags: UInt8, _ rings: [(UInt16, UInt16)]) -> [UInt8] {
    [flags] + rings.flatMap { le($0.0) + le($0.1) }
}

/// The client's words: position `delta` frames past the daemon's, threshold, waiting.
private func client(_ slot: UInt8, delta: Int32, threshold: UInt32, waiting: UInt8) -> [UInt8] {
    [Op.client(slot)] + le(UInt32(bitPattern: delta)) + le(threshold) + [waiting]
}

func shmSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    // Slot 0 is playback (1024-frame ring), slot 1 capture (1024 frames).
    let pair = claims(4, [(1023, 1024), (1023, 1)])
    seeds.append(("player-and-recorder", pair
        + client(0, delta: 1024, threshold: 512, waiting: 1) + [Op.playbackPeriod, 63, Op.playbackPeriod, 127]
        + client(0, delta: 700, threshold: 512, waiting: 1) + [Op.playbackPeriod, 255]
        + client(1, delta: 0, threshold: 128, waiting: 1) + [Op.capturePeriod, 63, Op.capturePeriod, 63]
        + client(1, delta: -128, threshold: 128, waiting: 0) + [Op.capturePeriod, 255]))
    seeds.append(("prefill-drain-pause", claims(0, [(4095, 2048), (255, 1)])
        + client(0, delta: 1000, threshold: 4096, waiting: 1) + [Op.playbackPeriod, 63]
        + client(0, delta: 3000, threshold: 4096, waiting: 1) + [Op.playbackPeriod, 63]
        + [Op.state(0), 3, Op.playbackPeriod, 255, Op.playbackPeriod, 255, Op.playbackPeriod, 255]
        + [Op.state(0), 2, Op.playbackPeriod, 63, Op.state(0), 1, Op.playbackPeriod, 63]))
    seeds.append(("two-players-mixed", claims(5, [(1023, 1), (511, 1), (1023, 1), (1023, 1)])
        + client(0, delta: 900, threshold: 0, waiting: 1) + client(1 << 0 | 0, delta: 900, threshold: 0, waiting: 1)
        + client(1, delta: 400, threshold: 100, waiting: 1) + [3 | 1 << 3, 1] + [Op.playbackPeriod, 127, Op.playbackPeriod, 127]))
    seeds.append(("hostile-positions", pair
        + client(0, delta: 1025, threshold: .max, waiting: 2) + [Op.playbackPeriod, 63]
        + client(1, delta: -1025, threshold: .max, waiting: 1) + [Op.capturePeriod, 63]
        + [1 | 0 << 3] + le(UInt64.max) + le(UInt32(0)) + [1] + [Op.playbackPeriod, 63]))
    // The client's half: a real header at its real size (3 pages for a 1024-frame s16 stereo
    // ring), sealed as the daemon seals it; then truncated, and unsealed.
    let real: [UInt8] = le(UInt32(3 * 4096)) + [0] + le(UInt64(0)) + le(UInt64(0)) + le(UInt16(0)) + le(UInt16(1000)) + le(UInt64(0))
    seeds.append(("mapping-real", [0x87] + real))
    seeds.append(("mapping-truncated", [0x87] + le(UInt32(2 * 4096 + 100)) + [1] + le(UInt16(72)) + [1] + le(UInt64(1 << 40))))
    seeds.append(("mapping-unsealed", [0x80] + real))
    return seeds
}
