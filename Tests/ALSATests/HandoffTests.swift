// Moving a configured PCM into a dedicated pthread and streaming there, as the daemon's
// audio thread does, and the one-shot semantics of the Handoff box.

import ALSA
import Glibc
import PCMBufferCore
import Synchronization
import Testing

/// What the audio thread reports back: frames committed, or -1 on failure.
private final class ThreadResult: Sendable {
    let frames = Atomic<Int>(0)
}

/// The context handed through pthread_create's void pointer.
private final class ThreadContext: Sendable {
    let handoff: Handoff<PCM>
    let result: ThreadResult
    init(handoff: Handoff<PCM>, result: ThreadResult) {
        self.handoff = handoff
        self.result = result
    }
}

@Suite(.timeLimit(.minutes(1))) struct HandoffTests {
    @Test func pcmMovedIntoAPthread_streamsThere() throws {
        let pcm = try configuredPCM(.playback)
        let result = ThreadResult()
        let context = ThreadContext(handoff: Handoff(pcm), result: result)
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue()
            guard let pcm = context.handoff.take() else {
                context.result.frames.store(-1, ordering: .releasing)
                return nil
            }
            var total = 0
            for _ in 0..<8 {
                guard case .ok = pcm.availUpdate() else { break }
                guard case .ok(let moved) = pcm.mmapTransfer(maxFrames: 1200, { $0.frames }) else { break }
                total += moved.value
                if pcm.state == .prepared { try? pcm.start() }
            }
            context.result.frames.store(total, ordering: .releasing)
            return nil
        }, Unmanaged.passRetained(context).toOpaque())
        #expect(created == 0)
        #expect(pthread_join(thread, nil) == 0)
        #expect(result.frames.load(ordering: .acquiring) == 8 * 1200)
        // The thread took the PCM; nothing is left to take.
        let leftOver = context.handoff.take() != nil
        #expect(!leftOver)
    }

    @Test func take_givesTheValueOnlyOnce() throws {
        let handoff = Handoff(try PCM(device: "null", direction: .capture))
        let tookFirst = handoff.take() != nil
        let tookSecond = handoff.take() != nil
        #expect(tookFirst)
        #expect(!tookSecond)
    }
}
