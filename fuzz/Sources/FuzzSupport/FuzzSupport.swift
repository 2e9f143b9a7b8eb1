// What every fuzz target shares: a reader that turns libFuzzer's bytes into the values a harness
// needs (it never fails: past the end it yields zeros, so every input means something), and the
// check that stops the run with a message when an invariant breaks. A failed check traps, which
// libFuzzer reports as a crash and saves the input that caused it.

import CLibFuzzer
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's input, consumed front to back.
public struct FuzzInput {
    /// The whole input; valid only during the call of `LLVMFuzzerTestOneInput`.
    public let bytes: UnsafeRawBufferPointer
    /// Bytes already consumed.
    public private(set) var offset = 0

    /// Wraps the pointer and size libFuzzer passes (the pointer may be nil for an empty input).
    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size > 0 ? size : 0)
    }

    /// Bytes not yet consumed.
    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { remaining == 0 }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next `T.bitWidth / 8` bytes as a little-endian integer; missing bytes count as 0.
    public mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) -> T {
        var value: T = 0
        for index in 0..<(T.bitWidth / 8) { value |= T(byte()) << (8 * index) }
        return value
    }

    /// Up to `count` next bytes (fewer at the end).
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let taken = max(0, min(count, remaining))
        defer { offset += taken }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + taken)])
    }

    /// Everything not yet consumed.
    public mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// Stops the run (a crash libFuzzer keeps the input of) unless `condition` holds.
@inline(__always)
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("invariant violated: \(message())", file: file, line: line) }
}

/// Runs libFuzzer with the process's arguments (`-max_total_time=…`, corpus folders, …) and
/// `body` as the function under test, then exits with libFuzzer's status. Call it from the
/// target's main.swift once its setup is done.
///
/// `--write-seeds DIR` instead writes the target's seed inputs into DIR (one file per seed,
/// named by the seed) and exits: the seed corpus in fuzz/corpus/TARGET is made this way, from
/// messages and files the real encoders produce (scripts/fuzz seeds).
public func runFuzzer(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt,
                      seeds: () -> [(name: String, bytes: [UInt8])]) -> Never {
    let arguments = CommandLine.arguments
    if arguments.count == 3, arguments[1] == "--write-seeds" {
        for seed in seeds() { write(seed.bytes, to: arguments[2] + "/" + seed.name) }
        exit(0)
    }
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, body)
    exit(status)
}

/// Writes `bytes` to a new file at `path`, or stops with a message.
func write(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fatalError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { fatalError("cannot write \(path)") }
}

/// Builds the records of a multi-record input: `[control][length: u16 LE][bytes]`.
public struct RecordWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func record(_ control: UInt8, _ payload: [UInt8]) {
        precondition(payload.count <= Int(UInt16.max), "a record holds at most 65535 bytes")
        bytes.append(control)
        bytes.append(UInt8(payload.count & 0xFF))
        bytes.append(UInt8(payload.count >> 8))
        bytes += payload
    }
}
