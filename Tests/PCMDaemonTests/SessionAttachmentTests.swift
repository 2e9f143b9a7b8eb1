// The daemon's send queue with descriptors attached (protocol version 2): a `streamOpened`
// queued behind enough output to fill the socket must still arrive with its two descriptors on
// its own first byte, however the sends are cut by EAGAIN, and the descriptors the session
// duplicated must survive the caller closing its own.
import CLinux
import Foundation
import PCMBufferCore
@testable import PCMDaemon
import PCMProtocol
import Testing

@Suite("ClientSession: descriptors attached to queued replies")
struct SessionAttachmentTests {
    @Test("a reply with descriptors behind a full socket arrives whole, its descriptors with its first byte")
    func attachmentsSurviveEAGAIN() throws {
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        let (daemonEnd, clientEnd) = (pair[0], pair[1])
        defer { close(clientEnd) }
        var small: Int32 = 4096
        setsockopt(daemonEnd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(daemonEnd, F_SETFL, fcntl(daemonEnd, F_GETFL) | O_NONBLOCK)
        let session = ClientSession(fd: daemonEnd, peer: PeerCredentials(pid: 1, uid: 0, gid: 0), now: 0)

        // Enough listings to fill the socket several times over, then the reply with descriptors,
        // then more listings.
        let filler = Envelope(.error(ErrorReply(code: .internalError, text: String(repeating: "x", count: 1000))), tag: 1)
        for _ in 0..<40 { session.enqueue(filler) }
        let first = eventfd(0, Int32(EFD_CLOEXEC)), second = eventfd(7, Int32(EFD_CLOEXEC))
        let opened = StreamOpened(
            direction: .playback, ring: BufferGeometry(bufferFrames: 1024, periodFrames: 256), device: AudioDeviceID(1),
            deviceFormat: PCMProtocol.StreamFormat(.s16, rate: 48_000, channels: 2), startThresholdFrames: 1024,
            deviceBuffer: BufferGeometry(bufferFrames: 768, periodFrames: 256), memoryBytes: 12_288)
        session.enqueue(Envelope(.streamOpened(opened), stream: StreamID(3), tag: 2), attaching: [first, second])
        close(first)  // the session keeps its own duplicates
        close(second)
        for _ in 0..<10 { session.enqueue(filler) }
        #expect(session.pendingDescriptors == 2)
        #expect(session.flush(now: 0), "the first flush fills the socket and stops at EAGAIN")
        #expect(session.wantsToWrite, "the socket cannot take it all at once")

        // Read everything on the client side, flushing the daemon side as room appears.
        var framer = MessageFramer()
        var received: [Int32] = []
        var messages: [Envelope] = []
        // Byte ranges of the reads that brought descriptors, and how many each brought.
        var arrivals: [(range: Range<Int>, count: Int)] = []
        var total = 0
        while messages.count < 51 {
            let space = framer.receiveBuffer()
            var chunk = try DescriptorPassing.receive(on: clientEnd, into: UnsafeMutableRawBufferPointer(start: space.baseAddress, count: min(space.count, 1500)))
            var arrived = 0
            while let descriptor = chunk.takeDescriptor() { received.append(descriptor.take()); arrived += 1 }
            if arrived > 0 { arrivals.append((total..<(total + chunk.byteCount), arrived)) }
            total += chunk.byteCount
            framer.didReceive(chunk.byteCount)
            while let envelope = try framer.next() { messages.append(envelope) }
            #expect(session.flush(now: 0))
        }
        defer { for fd in received { close(fd) } }
        #expect(messages.count == 51)
        #expect(messages[40] == Envelope(.streamOpened(opened), stream: StreamID(3), tag: 2))
        let replyStart = 40 * (try filler.encoded().count)
        #expect(arrivals.count == 1 && arrivals[0].count == 2, "both descriptors came together, once: \(arrivals)")
        #expect(arrivals.first?.range.contains(replyStart) == true, "with the reply's first byte: \(arrivals), reply at \(replyStart)")
        #expect(session.pendingDescriptors == 0)
        // They are the eventfds (in order): the second one holds 7.
        var value: UInt64 = 0
        #expect(read(received[1], &value, 8) == 8 && value == 7)
    }
}
