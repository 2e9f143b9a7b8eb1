// The sample formats pcmd speaks, shared by the allocator (bytes per frame), the ALSA layer
// (device formats), the DSP code (conversion) and the wire protocol (client formats).
// All are little-endian and signed or IEEE float, the formats real cards and apps use today.

/// The encoding of one sample of one channel.
///
/// The raw values are part of the wire protocol: never renumber a case.
public enum SampleFormat: UInt8, CaseIterable, Hashable, Sendable {
    /// Signed 16-bit integer.
    case s16 = 1
    /// Signed 24-bit integer in the low three bytes of a 4-byte container (ALSA `S24_LE`).
    case s24 = 2
    /// Signed 24-bit integer packed in 3 bytes (ALSA `S24_3LE`).
    case s24Packed = 3
    /// Signed 32-bit integer.
    case s32 = 4
    /// 32-bit IEEE float, full scale at ±1.0.
    case float32 = 5

    /// Bytes one sample occupies in memory.
    public var bytesPerSample: Int {
        switch self {
        case .s16: 2
        case .s24Packed: 3
        case .s24, .s32, .float32: 4
        }
    }

    /// Bits of resolution the format carries (24 for both 24-bit containers).
    public var significantBits: Int {
        switch self {
        case .s16: 16
        case .s24, .s24Packed: 24
        case .s32, .float32: 32
        }
    }

    /// The short name used on command lines, in config files and in logs.
    public var name: String {
        switch self {
        case .s16: "s16"
        case .s24: "s24"
        case .s24Packed: "s24_3"
        case .s32: "s32"
        case .float32: "f32"
        }
    }

    /// Parses a short name (`s16`, `s24`, `s24_3`, `s32`, `f32`); also accepts ALSA's names
    /// (`S16_LE`, `S24_LE`, `S24_3LE`, `S32_LE`, `FLOAT_LE`), case-insensitively.
    public init?(name: String) {
        switch name.lowercased() {
        case "s16", "s16_le": self = .s16
        case "s24", "s24_le", "s24_32": self = .s24
        case "s24_3", "s24_3le", "s24p": self = .s24Packed
        case "s32", "s32_le": self = .s32
        case "f32", "float", "float32", "float_le", "f32_le": self = .float32
        default: return nil
        }
    }
}
