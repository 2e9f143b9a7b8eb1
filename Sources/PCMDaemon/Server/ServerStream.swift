// One client stream on the socket side: its legs (playback, capture or both), its state machine
// as the protocol describes it, and what it reports each tick (credits, clock, xruns, drained).

import PCMBufferCore
import PCMDSP
import PCMProtocol

/// A client's stream as the server sees it. Confined to the server thread.
final class ServerStream {
    let id: StreamID
    let mode: PCMProtocol.StreamMode
    let format: PCMProtocol.StreamFormat
    let name: String
    let playback: PlaybackLeg?
    let capture: CaptureLeg?
    /// The device's buffer in device frames: audio mixed but not yet heard.
    let deviceBufferFrames: Int
    /// Where the stream is in the protocol's life cycle (see `PCMProtocol.StreamState`):
    /// prefilling → running (buffer full or resume) ⇄ paused; running → draining (drain) →
    /// prefilling (the ring ran dry: `drained` is sent).
    private(set) var state: StreamState
    /// The tag of the `drain` to answer once the ring runs dry.
    private var drainTag: UInt32?
    var volume = Volume.unity
    private var underrunsSeen = 0
    private var overrunsSeen = 0
    private var xruns: UInt32 = 0
    private var lastReportedFrames: UInt64?

    init(id: StreamID, request: OpenStream, playback: PlaybackLeg?, capture: CaptureLeg?, deviceBufferFrames: Int) {
        self.id = id
        mode = request.direction
        format = request.format
        name = request.name
        self.playback = playback
        self.capture = capture
        self.deviceBufferFrames = deviceBufferFrames
        state = playback != nil ? .prefilling : .running
    }

    /// Gives both slots back.
    func release() {
        playback?.release()
        capture?.release()
    }

    /// The granted client buffer (and period) for `streamOpened` and listings.
    var buffer: BufferGeometry {
        if let playback { return BufferGeometry(bufferFrames: playback.bufferFrames, periodFrames: playback.periodFrames) }
        let frames = capture?.bufferFrames ?? 1
        return BufferGeometry(bufferFrames: frames, periodFrames: max(1, min(frames, capture.map { $0.ratio.clientFrames(fromDevice: $0.ring.periodFrames.value) } ?? 1)))
    }

    // MARK: - Requests

    /// Client frames arrived; returns an error code if they break the rules.
    func receive(_ samples: UnsafeRawBufferPointer) -> ErrorCode? {
        guard let playback else { return .unexpectedMessage }
        // The protocol asks for at least one byte, and a whole number of frames: an empty
        // message is no whole frame either (§3 "Credits").
        guard !samples.isEmpty, samples.count % format.bytesPerFrame == 0 else { return .misalignedData }
        guard state != .draining else { return .unexpectedMessage }
        guard playback.accept(samples) else { return .creditExceeded }
        if state == .prefilling, playback.receivedSincePrefill >= playback.bufferFrames { start() }
        return nil
    }

    func pause() {
        guard state != .paused else { return }
        playback?.slot.setState(.paused)
        capture?.slot.setState(.paused)
        state = .paused
    }

    /// Runs the stream (after pause, or before a playback buffer is full).
    func resume() {
        guard state == .paused || state == .prefilling else { return }
        start()
    }

    /// Starts playing out; answers `drained` with `tag` once the ring is empty.
    func drain(tag: UInt32) -> Bool {
        guard let playback, drainTag == nil else { return false }
        playback.flushConverter()
        playback.flushSpill()
        playback.slot.setState(.draining)
        capture?.slot.setState(.active)
        state = .draining
        drainTag = tag
        return true
    }

    private func start() {
        playback?.slot.setState(.active)
        capture?.slot.setState(.active)
        state = .running
    }

    func setVolume(_ newVolume: Volume) {
        volume = newVolume
        let engineVolume = StreamVolume(gain: newVolume.level, muted: newVolume.muted)
        playback?.slot.volume = engineVolume
        capture?.slot.volume = engineVolume
    }

    // MARK: - Each tick

    /// Reports what changed since the last tick and moves capture audio.
    /// - Parameters:
    ///   - send: Queues an event for the client.
    ///   - audioRoom: Whether the client's output queue has room for more capture audio.
    ///   - sendAudio: Queues captured client-format bytes.
    func tick(send: (Message) -> Void, audioRoom: () -> Bool, sendAudio: (UnsafeRawBufferPointer) -> Void) -> UInt32? {
        var answeredDrain: UInt32?
        if let playback {
            playback.flushSpill()
            if state == .draining, playback.slot.state == .drained {
                playback.slot.setState(.paused)
                playback.restart()
                state = .prefilling
                answeredDrain = drainTag
                drainTag = nil
            }
            let underruns = playback.slot.underruns
            if underruns > underrunsSeen {
                let count = underruns - underrunsSeen
                underrunsSeen = underruns
                xruns &+= UInt32(clamping: count)
                let lost = playback.ratio.clientFrames(fromDevice: playback.ring.periodFrames.value * count)
                send(.xrun(Xrun(kind: .underrun, lostFrames: UInt32(clamping: lost), count: xruns, atFrame: frames)))
            }
            let grant = playback.takeGrant()
            if grant > 0 { send(.credits(Credits(frames: UInt32(clamping: grant)))) }
        }
        if let capture {
            while audioRoom(), capture.pump(sendAudio) {}
            let overruns = capture.slot.overruns
            if overruns > overrunsSeen {
                let count = overruns - overrunsSeen
                overrunsSeen = overruns
                xruns &+= UInt32(clamping: count)
                let lost = capture.ratio.clientFrames(fromDevice: capture.ring.periodFrames.value * count)
                send(.xrun(Xrun(kind: .overrun, lostFrames: UInt32(clamping: lost), count: xruns, atFrame: frames)))
            }
        }
        let now = frames
        if now != lastReportedFrames || answeredDrain != nil {
            lastReportedFrames = now
            send(.position(position))
        }
        return answeredDrain
    }

    /// Client frames played out (playback: mixed minus the device buffer) or recorded (capture).
    var frames: UInt64 {
        if let playback {
            let heard = max(0, Int(playback.slot.position) - deviceBufferFrames)
            return UInt64(playback.ratio.clientFrames(fromDevice: heard))
        }
        if let capture { return UInt64(capture.ratio.clientFrames(fromDevice: Int(capture.slot.position))) }
        return 0
    }

    var position: Position {
        let slot = playback?.slot ?? capture?.slot
        let queued: Int
        if let playback {
            queued = playback.queuedClientFrames + playback.ratio.clientFrames(fromDevice: min(deviceBufferFrames, Int(playback.slot.position)))
        } else {
            queued = capture?.queuedClientFrames ?? 0
        }
        return Position(frames: frames, queuedFrames: UInt32(clamping: queued),
                        timestampNanoseconds: slot?.positionTime ?? 0, state: state)
    }

    var xrunCount: UInt32 { xruns }

    /// The present latency: what the daemon holds for the stream, in microseconds.
    var latencyMicroseconds: UInt32 {
        UInt32(clamping: Int(position.queuedFrames) * 1_000_000 / max(format.rate, 1))
    }
}
