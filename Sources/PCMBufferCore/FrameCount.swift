// Frames and bytes as distinct types, and the layout that converts between them.
// ALSA code mixes the two units constantly; keeping them apart in the type system means a
// byte count can never be passed where a frame count is expected.

/// A number of audio frames (one sample for every channel).
public struct FrameCount: Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var value: Int

    @inlinable public init(_ value: Int) { self.value = value }
    @inlinable public init(integerLiteral value: Int) { self.value = value }

    public static let zero = FrameCount(0)
    public var description: String { "\(value) frames" }

    @inlinable public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
    @inlinable public static func + (a: Self, b: Self) -> Self { Self(a.value + b.value) }
    @inlinable public static func - (a: Self, b: Self) -> Self { Self(a.value - b.value) }
    @inlinable public static func += (a: inout Self, b: Self) { a.value += b.value }
    @inlinable public static func -= (a: inout Self, b: Self) { a.value -= b.value }
    @inlinable public static func * (a: Self, n: Int) -> Self { Self(a.value * n) }
    @inlinable public static func / (a: Self, n: Int) -> Self { Self(a.value / n) }
    @inlinable public static func % (a: Self, b: Self) -> Self { Self(a.value % b.value) }
}

/// A number of bytes of audio memory.
public struct ByteCount: Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var value: Int

    @inlinable public init(_ value: Int) { self.value = value }
    @inlinable public init(integerLiteral value: Int) { self.value = value }

    public static let zero = ByteCount(0)
    @inlinable public static func kibibytes(_ n: Int) -> Self { Self(n * 1024) }
    @inlinable public static func mebibytes(_ n: Int) -> Self { Self(n * 1024 * 1024) }
    public var description: String { "\(value) bytes" }

    @inlinable public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
    @inlinable public static func + (a: Self, b: Self) -> Self { Self(a.value + b.value) }
    @inlinable public static func - (a: Self, b: Self) -> Self { Self(a.value - b.value) }
    @inlinable public static func += (a: inout Self, b: Self) { a.value += b.value }
    @inlinable public static func -= (a: inout Self, b: Self) { a.value -= b.value }
    @inlinable public static func * (a: Self, n: Int) -> Self { Self(a.value * n) }
    @inlinable public static func / (a: Self, n: Int) -> Self { Self(a.value / n) }
}

/// How frames are laid out in interleaved memory: a sample format times a channel count.
public struct FrameLayout: Hashable, Sendable, CustomStringConvertible {
    public let format: SampleFormat
    public let channels: Int

    /// - Precondition: `channels >= 1`.
    @inlinable public init(format: SampleFormat, channels: Int) {
        precondition(channels >= 1, "a frame has at least one channel")
        self.format = format
        self.channels = channels
    }

    @inlinable public var bytesPerFrame: Int { format.bytesPerSample * channels }

    /// The bytes that `frames` frames occupy.
    @inlinable public func bytes(for frames: FrameCount) -> ByteCount { ByteCount(frames.value * bytesPerFrame) }

    /// The whole frames that fit in `bytes` (rounded down).
    @inlinable public func frames(in bytes: ByteCount) -> FrameCount { FrameCount(bytes.value / bytesPerFrame) }

    public var description: String { "\(format.name) × \(channels)" }
}
