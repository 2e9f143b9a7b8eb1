// A daemon that hangs up while the application is busy must never take the application down.
// 1000 times: a scripted daemon consumes the streams' shared rings every millisecond (waking
// writers that wait for space through their eventfds) and then, after a random amount of
// audio, shuts its socket down (as a killed daemon's socket is closed), or the application
// closes the connection itself; meanwhile several tasks write to two streams, change volumes,
// close a stream and close the connection. The test process is the application: a SIGPIPE from
// any write to a closed peer would kill it (the old wakeup socketpair did exactly that, seen as
// pcmctl exiting with status 13). Every call must end, and end in one of the typed errors that
// mean "the connection or stream is over".

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import PCMBufferCore
import PCMClient
import PCMProtocol
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(3)))
struct HangUpStressTests {
    /// A daemon that answers like the standard script but numbers streams 1, 2, ..., consumes
    /// the rings every millisecond, and shuts its end down once it has consumed `hangUpAfter`
    /// chunks' worth of frames (a chunk is 40 frames; the rings hold 1024, so a writer both
    /// writes without waiting and waits for space before the end comes).
    static func daemon(hangUpAfter: Int) -> ScriptedDaemon {
        let streamsOpened = Atomic<UInt32>(0)
        return ScriptedDaemon(respond: { envelope, daemon in
            if case .openStream(let open) = envelope.message {
                let id = StreamID(streamsOpened.add(1, ordering: .relaxed).newValue)
                let (opened, stream) = daemon.makeStream(id, direction: open.direction, device: ScriptedDaemon.deviceFormat, frames: 1024)
                daemon.sendOpened(opened, stream, tag: envelope.tag)
                return
            }
            ScriptedDaemon.standard(envelope, daemon)
        }, autoConsume: true, onConsumed: { total, daemon in
            if total >= hangUpAfter * 40 { daemon.hangUp() }
        })
    }

    @Test func daemonHangingUpMidStream_neverKillsTheApplication_andEveryCallEndsTyped() async throws {
        let format = StreamFormat(.s16, rate: 48_000, channels: 2)
        let chunk = [UInt8](repeating: 0x5A, count: 40 * 4)
        var generator = SystemRandomNumberGenerator()
        var unexpected: [String] = []
        for iteration in 0..<1000 {
            let daemon = Self.daemon(hangUpAfter: Int.random(in: 0...60, using: &generator))
            let connection: PCMConnection
            do {
                connection = try await PCMConnection.connect(adopting: daemon.clientFD, clientName: "stress")
            } catch {
                Issue.record("iteration \(iteration): the handshake failed before any hang-up: \(error)")
                continue
            }
            let first: PCMStream
            let second: PCMStream
            do {
                first = try await connection.openPlayback(format: format)
                second = try await connection.openPlayback(format: format)
            } catch {
                // hangUpAfter counts consumed audio only, so opening always succeeds.
                Issue.record("iteration \(iteration): open failed: \(error)")
                connection.close()
                continue
            }
            let appClosesFirst = Bool.random(using: &generator)
            let closeDelay = UInt64.random(in: 0...400_000, using: &generator)
            let failures = await withTaskGroup(of: [String].self) { group in
                for stream in [first, second] {
                    group.addTask {
                        // Writes until the connection ends; it must end with a typed end-of-connection error.
                        for _ in 0..<10_000 {
                            do throws(PCMClientError) {
                                try await stream.write(chunk)
                            } catch {
                                return error.endsConnection ? [] : ["write ended with \(error)"]
                            }
                        }
                        return ["write never saw the hang-up"]
                    }
                }
                group.addTask {
                    var seen: [String] = []
                    for step in 0..<50 {
                        do throws(PCMClientError) {
                            try await first.setVolume(Volume(level: Float(step % 10) / 10))
                        } catch {
                            if !error.endsConnection { seen.append("setVolume ended with \(error)") }
                            break
                        }
                    }
                    return seen
                }
                group.addTask {
                    do throws(PCMClientError) {
                        try await second.close()
                    } catch {
                        if !error.endsConnection { return ["close ended with \(error)"] }
                    }
                    return []
                }
                group.addTask {
                    try? await Task.sleep(nanoseconds: closeDelay)
                    if appClosesFirst { connection.close() } else { daemon.hangUp() }
                    return []
                }
                var all: [String] = []
                for await result in group { all += result }
                return all
            }
            connection.close()
            unexpected += failures.map { "iteration \(iteration): \($0)" }
            #expect(connection.closedReason != nil, "iteration \(iteration): the connection must know it is over")
        }
        let firstFew = Array(unexpected.prefix(5))
        #expect(unexpected.count == 0, "the first of them: \(firstFew)")
    }
}
