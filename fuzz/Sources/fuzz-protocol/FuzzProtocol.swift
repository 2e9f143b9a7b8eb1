// libFuzzer target: the wire protocol as a peer's bytes reach it. The first input byte is a
// control byte (which payload decoder to aim at, how to cut the stream into reads); the rest is
// the byte stream. Each input goes through three paths:
//
// - the whole stream as one message (`Envelope.decode`): a value or a ProtocolError, never a
//   trap, and anything that decodes re-encodes to exactly the bytes it came from (the encoding
//   is canonical);
// - the stream as the payload of a valid header of the chosen type, so every payload decoder
//   sees every input, magic or not, with the same round-trip rule;
// - the stream fed to a `MessageFramer` in reads of varying size: the framer must hand out
//   exactly the messages a direct walk over the bytes finds, stop at the same bad header with the
//   same error (and keep throwing it), and hold back only the bytes of an unfinished message.
//
// Every error any path produces must also make an error reply the daemon can encode, since
// that is what a misbehaving client is sent.

import FuzzSupport
import PCMBufferCore
import PCMProtocol

/// One input (libFuzzer calls it through `runFuzzer`).
func fuzzProtocol(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let control = input.byte()
    let stream = input.rest()
    checkWholeMessage(stream)
    checkPayload(stream, type: MessageType.allCases[Int(control) % MessageType.allCases.count])
    checkFramer(stream, seed: control)
    return 0
}

/// A decoded envelope must re-encode to `original`, byte for byte.
func checkCanonical(_ envelope: Envelope, original: UnsafeRawBufferPointer) {
    let again: [UInt8]
    do {
        again = try envelope.encoded()
    } catch {
        invariant(false, "decoded \(envelope) does not encode: \(error)")
        return
    }
    invariant(again.elementsEqual(original), "\(envelope) re-encodes to other bytes (\(again.count) vs \(original.count))")
    // Peer-supplied names are shown through DisplayText: the escaped form is one printable line.
    switch envelope.message {
    case .hello(let hello): checkEscaping(hello.clientName)
    case .openStream(let request): checkEscaping(request.name)
    case .streamList(let streams): for info in streams { checkEscaping(info.clientName); checkEscaping(info.name) }
    default: break
    }
    _ = envelope.description
}

/// The daemon answers any protocol error with an error reply built from it: that reply must encode.
func checkErrorReply(_ error: ProtocolError) {
    let reply = Envelope(.error(ErrorReply(error)))
    do {
        _ = try reply.encoded()
    } catch {
        invariant(false, "the reply to \(error) does not encode: \(error)")
    }
}

func checkEscaping(_ text: String) {
    let escaped = DisplayText.escaped(text)
    invariant(!escaped.unicodeScalars.contains { DisplayText.isUnsafe($0) && $0 != "\\" },
              "escaped text still has a control character")
    invariant(DisplayText.needsEscaping(text) || escaped == text, "text that needs no escaping was changed")
}

func checkWholeMessage(_ bytes: UnsafeRawBufferPointer) {
    do throws(ProtocolError) {
        let envelope = try Envelope.decode(bytes)
        checkCanonical(envelope, original: bytes)
    } catch {
        checkErrorReply(error)
    }
}

func checkPayload(_ payload: UnsafeRawBufferPointer, type: MessageType) {
    guard payload.count <= WireLimits.maxPayloadBytes else { return }
    let stream: StreamID = type.streamField.allows(StreamID(7)) ? StreamID(7) : .connection
    let header = MessageHeader(type: type, length: payload.count, stream: stream, tag: 0x0102_0304)
    do throws(ProtocolError) {
        let envelope = try Envelope.decode(header: header, payload: payload)
        invariant(envelope.message.type == type && envelope.stream == stream && envelope.tag == header.tag,
                  "decoding changed the header's fields")
        var original: [UInt8] = []
        header.encode(appendingTo: &original)
        original.append(contentsOf: payload)
        original.withUnsafeBytes { checkCanonical(envelope, original: $0) }
    } catch {
        checkErrorReply(error)
    }
}

/// What the framer must find: the messages a direct walk over the bytes finds, then either the
/// first bad header's error or the count of bytes of an unfinished message.
struct Walk {
    var messages: [(MessageHeader, Range<Int>)] = []
    var failure: ProtocolError?
    var leftover = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while true {
            let remaining = bytes.count - offset
            guard remaining >= WireLimits.headerBytes else {
                leftover = remaining
                return
            }
            let header: MessageHeader
            do throws(ProtocolError) {
                header = try MessageHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                failure = error
                return
            }
            guard remaining - WireLimits.headerBytes >= header.length else {
                leftover = remaining
                return
            }
            let end = offset + WireLimits.headerBytes + header.length
            messages.append((header, offset..<end))
            offset = end
        }
    }
}

func checkFramer(_ bytes: UnsafeRawBufferPointer, seed: UInt8) {
    let walk = Walk(bytes)
    var framer = MessageFramer()
    var found = 0
    var failure: ProtocolError?
    var fed = 0
    // Read sizes from a small generator seeded by the control byte: from single bytes (every
    // header split) to everything at once.
    var state = UInt32(seed) &* 2_654_435_761 | 1
    while fed < bytes.count, failure == nil {
        state = state &* 1_103_515_245 &+ 12_345
        let chunk = seed & 0x80 != 0 ? bytes.count : 1 + Int((state >> 16) % (seed & 0x40 != 0 ? 8 : 300))
        let count = framer.receive(UnsafeRawBufferPointer(rebasing: bytes[fed..<min(bytes.count, fed + chunk)]))
        invariant(count > 0, "the framer took no bytes with every whole message taken out")
        fed += count
        while true {
            do throws(ProtocolError) {
                let taken: Bool? = try framer.nextMessage { header, payload in
                    invariant(found < walk.messages.count, "the framer found more messages than the bytes hold")
                    let (expectedHeader, range) = walk.messages[found]
                    invariant(header == expectedHeader, "message \(found): header \(header), expected \(expectedHeader)")
                    let original = UnsafeRawBufferPointer(rebasing: bytes[range])
                    invariant(payload.elementsEqual(original[WireLimits.headerBytes...]), "message \(found): payload differs")
                    do throws(ProtocolError) {
                        checkCanonical(try Envelope.decode(header: header, payload: payload), original: original)
                    } catch {
                        checkErrorReply(error)
                    }
                    found += 1
                    return true
                }
                if taken == nil { break }
            } catch {
                failure = error
                break
            }
        }
        invariant(framer.bufferedBytes >= 0 && framer.bufferedBytes <= WireLimits.maxMessageBytes, "buffered bytes out of range")
    }
    invariant(found == walk.messages.count, "the framer found \(found) messages, the bytes hold \(walk.messages.count)")
    invariant(failure == walk.failure, "the framer failed with \(String(describing: failure)), expected \(String(describing: walk.failure))")
    if let failure {
        invariant(framer.hasFailed, "a failed framer does not say so")
        do throws(ProtocolError) {
            _ = try framer.next()
            invariant(false, "a failed framer handed out another message")
        } catch {
            invariant(error == failure, "a failed framer changed its error")
        }
        checkErrorReply(failure)
    } else {
        invariant(!framer.hasFailed && framer.bufferedBytes == walk.leftover,
                  "the framer holds \(framer.bufferedBytes) bytes, an unfinished message has \(walk.leftover)")
    }
}
