// How an application's ALSA buffer maps onto the stream's shared ring: the arithmetic behind
// the plugin's hardware pointer, its wake thresholds and its delay, kept apart from the I/O so
// that tests can pin it.
//
// The application writes into the ring directly (alsa-lib's `transfer`), so "frames the
// application has queued" is the ring's fill, seen in the application's frames. Two sizes can
// differ: the application's buffer (B, what hw_params gave it) and the ring's capacity in
// application frames (C, what the daemon granted, after conversion). The plugin shows the
// application a buffer of exactly B whose fill is the ring's fill shifted by B − C, clamped to
// [0, B]:
// - C = B (the usual case: the plugin asks for a ring of the application's buffer): the fill is
//   the ring's. Applications that pace themselves by avail (GStreamer's ring buffer thread) see
//   their frames leave at the device's pace, never faster.
// - C > B only by the hidden queue the plugin chose: an application buffer smaller than two
//   device periods could never keep the device fed, so its first frames are kept invisible
//   (`latency_ms` asks for the same on purpose); snd_pcm_delay still counts them. The ring's room
//   beyond that is never offered: an application that saw it drain at once would run ahead of
//   the device (a gap-filling player then inserts silence).
// - C < B (a buffer larger than the daemon grants, such as speaker-test's 21 s): the missing
//   B − C frames read as always queued, so alsa-lib never offers more than the ring can take.
//   Right after prepare that puts the hardware pointer B − C frames below zero, which alsa-lib,
//   counting modulo its boundary (SND_PCM_IOPLUG_FLAG_BOUNDARY_WA), takes like any position;
//   and an avail_min above C is lowered in sw_params, or the application would wait for room
//   that never comes.
// Either way alsa-lib's avail (B − fill) is never more than the ring's free space, which is
// what makes a transfer always take everything it is offered.

/// The mapping for one stream between prepare and stop. All positions count from prepare.
struct BufferMapping: Equatable {
    /// The application's rate and the device's (equal unless the plugin resamples).
    let applicationRate: Int
    let deviceRate: Int
    /// The ring, in device frames.
    let ringFrames: Int
    /// The application's buffer (B), in application frames.
    let bufferFrames: Int
    /// Whether the client converts (formats, channels or rates differ).
    let converts: Bool
    /// The ring's capacity in application frames (C) as the mapping uses it: the ring (with
    /// conversion, a few frames less than the exact ratio, for rounding), but never more than the
    /// application's buffer plus the hidden queue.
    let capacity: Int

    /// Frames of rounding slack kept free in a converted ring.
    static let conversionSlack = 16

    /// - Parameter hiddenFrames: application frames the plugin may keep queued out of the
    ///   application's sight (0 but for buffers too small to feed the device, or `latency_ms`).
    init(applicationRate: Int, deviceRate: Int, ringFrames: Int, bufferFrames: Int, converts: Bool, hiddenFrames: Int = 0) {
        self.applicationRate = max(applicationRate, 1)
        self.deviceRate = max(deviceRate, 1)
        self.ringFrames = max(ringFrames, 1)
        self.bufferFrames = max(bufferFrames, 1)
        self.converts = converts
        let ring = converts
            ? max(1, Int(Self.scale(UInt64(self.ringFrames), by: self.applicationRate, over: self.deviceRate)) - Self.conversionSlack)
            : self.ringFrames
        capacity = min(ring, self.bufferFrames + max(hiddenFrames, 0))
    }

    /// `frames × numerator / denominator`, rounded down, without overflow.
    static func scale(_ frames: UInt64, by numerator: Int, over denominator: Int) -> UInt64 {
        let (high, low) = frames.multipliedFullWidth(by: UInt64(numerator))
        guard high < UInt64(denominator) else { return .max }
        return UInt64(denominator).dividingFullWidth((high, low)).quotient
    }

    func applicationFrames(fromDevice frames: UInt64) -> UInt64 {
        converts ? Self.scale(frames, by: applicationRate, over: deviceRate) : frames
    }

    func deviceFrames(fromApplication frames: UInt64) -> UInt64 {
        converts ? Self.scale(frames, by: deviceRate, over: applicationRate) : frames
    }

    // MARK: - Playback

    /// Application frames written and not yet consumed by the daemon: in the ring, or (with
    /// conversion) still inside the converter. `transferred` counts application frames since
    /// prepare, `consumed` the daemon's position in device frames.
    func playbackInFlight(transferred: UInt64, consumed: UInt64) -> Int {
        let played = applicationFrames(fromDevice: consumed)
        return Int(clamping: transferred > played ? transferred - played : 0)
    }

    /// The fill alsa-lib sees (B − avail), in [0, B].
    func playbackVisibleFill(inFlight: Int) -> Int {
        min(max(inFlight + bufferFrames - capacity, 0), bufferFrames)
    }

    /// What the plugin reports as queued: the fill alsa-lib sees now. ExternalPCM puts the
    /// hardware pointer this far behind the application's pointer (below zero right after
    /// prepare when B > C, which alsa-lib takes modulo its boundary).
    func playbackQueued(transferred: UInt64, consumed: UInt64) -> Int {
        playbackVisibleFill(inFlight: playbackInFlight(transferred: transferred, consumed: consumed))
    }

    /// The most frames the application can ever have available (free, or to read): avail_min
    /// above this would never be reached.
    var largestAvailable: Int { min(bufferFrames, capacity) }

    /// Frames the application may write now.
    func playbackAvailable(transferred: UInt64, consumed: UInt64) -> Int {
        bufferFrames - playbackQueued(transferred: transferred, consumed: consumed)
    }

    /// The free device frames at which the daemon should wake the application: the point where
    /// avail reaches `availMin`. avail ≥ availMin exactly when in-flight ≤ C − availMin.
    func playbackWakeThreshold(availMin: Int) -> Int {
        let mostInFlight = max(capacity - min(max(availMin, 1), bufferFrames), 0)
        let filled = Int(clamping: deviceFrames(fromApplication: UInt64(mostInFlight)))
        return min(max(ringFrames - filled, 1), ringFrames)
    }

    // MARK: - Capture

    /// Application frames the application can read now. `produced` is the daemon's position
    /// (device frames captured), `transferred` the application frames read since prepare,
    /// `held` what the converter keeps back (its delay, in application frames).
    func captureReadable(produced: UInt64, transferred: UInt64, held: Int) -> Int {
        let converted = applicationFrames(fromDevice: produced)
        let margin = converts ? UInt64(max(held, 0) + Self.conversionSlack) : 0
        guard converted > transferred + margin else { return 0 }
        return Int(clamping: converted - transferred - margin)
    }

    /// What the plugin reports as readable: at most a buffer (ExternalPCM puts the hardware
    /// pointer this far ahead of the application's pointer).
    func captureQueued(produced: UInt64, transferred: UInt64, held: Int) -> Int {
        min(captureReadable(produced: produced, transferred: transferred, held: held), bufferFrames)
    }

    /// The filled device frames at which the daemon should wake the application.
    func captureWakeThreshold(availMin: Int, held: Int) -> Int {
        let wanted = UInt64(max(availMin, 1) + (converts ? max(held, 0) + Self.conversionSlack : 0))
        let frames = Int(clamping: deviceFrames(fromApplication: wanted)) + (converts ? 1 : 0)
        return min(max(frames, 1), ringFrames)
    }
}
