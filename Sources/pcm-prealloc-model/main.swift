// pcm-prealloc-model: feeds a sequence of PCM memory operations to PCMBufferCore and prints,
// one JSON object per line, what it predicts the kernel shows: prealloc and prealloc_max
// (KiB) and the hw: device's buffer-size maximum in frames. The hardware tier runs the same
// operations against the real kernel and compares (tests/hardware/test_prealloc.py).
//
// usage: pcm-prealloc-model [OPTIONS] OPERATION...
//   --playback N / --capture N        substreams of the PCM (card 0 device 0; default 1 / 0)
//   --card-limit BYTES                max_alloc_per_card (default 33554432; 0 = none)
//   --format NAME --channels N         the frame layout of the hw_params query (default s16, 2)
//   --hw-buffer-bytes-max BYTES        the driver's snd_pcm_hardware.buffer_bytes_max
//   --hw-buffer-bytes-step BYTES       the driver's BUFFER_BYTES step constraint (default 1)
//   --hw-buffer-time-max-us US --rate HZ   the driver's BUFFER_TIME maximum at this rate
// operations (substream S is p0, p1, c0, ...):
//   preallocate-all:TYPE:SIZE:MAX      snd_pcm_set_managed_buffer_all (TYPE continuous|sg|vmalloc)
//   preallocate:S:TYPE:SIZE:MAX        the same for one substream
//   write:S:TEXT                       echo TEXT > prealloc (TEXT is usually KiB)
//   read:S                             prints prealloc, prealloc_max, buffer_size_max
//   free-all                           snd_pcm_lib_preallocate_free_for_all
//   open:S / close:S                   open or close the substream (an open one is busy for writes)

import PCMBufferCore

#if canImport(Glibc)
import Glibc
#endif

/// A command-line mistake: printed to stderr, exit status 2.
struct UsageError: Error {
    var message: String
}

/// The driver's own hw_params limits, which apply on top of the substream's buffer_bytes_max.
struct DriverLimits {
    var bufferBytesMax: Int?
    var bufferBytesStep = 1
    var bufferTimeMaxMicroseconds: Int?
    var rate: Int?

    /// The BUFFER_SIZE maximum hw_params reports for `layout` under `substreamLimit`.
    func bufferSizeMax(substreamLimit: ByteCount?, layout: FrameLayout) -> Int? {
        var bytes = [substreamLimit?.value, bufferBytesMax].compactMap { $0 }.min()
        if let limit = bytes, bufferBytesStep > 1 { bytes = limit / bufferBytesStep * bufferBytesStep }
        var frames = bytes.map { $0 / layout.bytesPerFrame }
        if let time = bufferTimeMaxMicroseconds, let rate {
            let timeFrames = time * rate / 1_000_000
            frames = min(frames ?? timeFrames, timeFrames)
        }
        return frames
    }
}

/// Escapes a string for a JSON string literal.
func json(_ text: String) -> String {
    var escaped = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        default: escaped += scalar.value < 0x20 ? "\\u00\(scalar.value < 0x10 ? "0" : "")\(String(scalar.value, radix: 16))" : String(scalar)
        }
    }
    return escaped + "\""
}

func parseInt(_ text: String, _ what: String) throws(UsageError) -> Int {
    guard let value = Int(text) else { throw UsageError(message: "\(what): not a number: \(text)") }
    return value
}

func parseSubstream(_ text: String) throws(UsageError) -> SubstreamID {
    guard let letter = text.first, letter == "p" || letter == "c", let number = Int(text.dropFirst()) else {
        throw UsageError(message: "substream must be p<N> or c<N>, not \(text)")
    }
    return SubstreamID(card: 0, device: 0, direction: letter == "p" ? .playback : .capture, subdevice: number)
}

func parseType(_ text: String) throws(UsageError) -> BufferType {
    switch text {
    case "continuous": return .continuous
    case "sg", "scatter-gather": return .scatterGather
    case "vmalloc", "virtually-contiguous": return .virtuallyContiguous
    default: throw UsageError(message: "unknown buffer type \(text)")
    }
}

func errorFields(_ error: PCMMemoryError) -> String {
    "\"result\":\"error\",\"errno\":\(error.kernelErrno),\"error\":\(json(error.description))"
}

func run() throws(UsageError) {
    var arguments = Array(CommandLine.arguments.dropFirst())
    var playback = 1
    var capture = 0
    var cardLimit: Int? = SubstreamAllocator.defaultCardLimit.value
    var format = SampleFormat.s16
    var channels = 2
    var limits = DriverLimits()
    var operations: [String] = []
    while !arguments.isEmpty {
        let argument = arguments.removeFirst()
        guard argument.hasPrefix("--") else {
            operations.append(argument)
            continue
        }
        guard !arguments.isEmpty else { throw UsageError(message: "\(argument) needs a value") }
        let value = arguments.removeFirst()
        switch argument {
        case "--playback": playback = try parseInt(value, argument)
        case "--capture": capture = try parseInt(value, argument)
        case "--card-limit":
            let bytes = try parseInt(value, argument)
            cardLimit = bytes == 0 ? nil : bytes
        case "--format":
            guard let parsed = SampleFormat(name: value) else { throw UsageError(message: "unknown format \(value)") }
            format = parsed
        case "--channels": channels = try parseInt(value, argument)
        case "--hw-buffer-bytes-max": limits.bufferBytesMax = try parseInt(value, argument)
        case "--hw-buffer-bytes-step": limits.bufferBytesStep = try parseInt(value, argument)
        case "--hw-buffer-time-max-us": limits.bufferTimeMaxMicroseconds = try parseInt(value, argument)
        case "--rate": limits.rate = try parseInt(value, argument)
        default: throw UsageError(message: "unknown option \(argument)")
        }
    }
    guard channels >= 1 else { throw UsageError(message: "--channels must be at least 1") }
    let layout = FrameLayout(format: format, channels: channels)
    let allocator = SubstreamAllocator(cardLimit: cardLimit.map { ByteCount($0) })
    do {
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: playback, captureSubstreams: capture)
    } catch {
        throw UsageError(message: "cannot create the PCM: \(error)")
    }

    for operation in operations {
        let parts = operation.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        let head = "{\"op\":\(json(operation))"
        switch (parts[0], parts.count) {
        case ("preallocate-all", 4):
            let type = try parseType(parts[1])
            let size = try parseInt(parts[2], "size")
            let max = try parseInt(parts[3], "max")
            do {
                let got = try allocator.preallocateForAll(card: 0, device: 0, type: type, size: ByteCount(size), max: ByteCount(max))
                print(head + ",\"result\":\"ok\",\"bytes\":[\(got.map { String($0.value) }.joined(separator: ","))]}")
            } catch {
                print(head + "," + errorFields(error) + "}")
            }
        case ("preallocate", 5):
            let id = try parseSubstream(parts[1])
            let type = try parseType(parts[2])
            let size = try parseInt(parts[3], "size")
            let max = try parseInt(parts[4], "max")
            do {
                let got = try allocator.preallocate(substream: id, type: type, size: ByteCount(size), max: ByteCount(max))
                print(head + ",\"result\":\"ok\",\"bytes\":\(got.value)}")
            } catch {
                print(head + "," + errorFields(error) + "}")
            }
        case ("write", 3):
            let id = try parseSubstream(parts[1])
            do {
                try allocator.writeProcPrealloc(substream: id, text: parts[2])
                print(head + ",\"result\":\"ok\"}")
            } catch {
                print(head + "," + errorFields(error) + "}")
            }
        case ("read", 2):
            let id = try parseSubstream(parts[1])
            do {
                let entry = try allocator.procEntry(substream: id)
                let limit = try allocator.bufferBytesMax(substream: id)
                let frames = limits.bufferSizeMax(substreamLimit: limit, layout: layout)
                print(
                    head + ",\"result\":\"ok\",\"prealloc\":\(entry.preallocKibibytes),\"prealloc_max\":\(entry.preallocMaxKibibytes)"
                        + ",\"buffer_bytes_max\":\(limit.map { String($0.value) } ?? "null")"
                        + ",\"buffer_size_max\":\(frames.map(String.init) ?? "null")}")
            } catch {
                print(head + "," + errorFields(error) + "}")
            }
        case ("open", 2), ("close", 2):
            let id = try parseSubstream(parts[1])
            do {
                if parts[0] == "open" { try allocator.open(substream: id) } else { try allocator.close(substream: id) }
                print(head + ",\"result\":\"ok\"}")
            } catch {
                print(head + "," + errorFields(error) + "}")
            }
        case ("free-all", 1):
            do {
                try allocator.freeAllPreallocated(card: 0, device: 0)
                print(head + ",\"result\":\"ok\"}")
            } catch {
                print(head + "," + errorFields(error) + "}")
            }
        default:
            throw UsageError(message: "unknown operation \(operation)")
        }
    }
}

do {
    try run()
} catch {
    let message = "pcm-prealloc-model: \(error.message)\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
