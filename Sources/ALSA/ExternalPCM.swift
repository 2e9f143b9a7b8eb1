// The bridge between alsa-lib's external-PCM API (ioplug, alsa/pcm_ioplug.h) and a Swift
// ExternalPCMDriver: it owns the snd_pcm_ioplug_t, declares what the plugin accepts, and turns
// each C callback into a call on the driver, wrapping positions at alsa-lib's boundary and
// turning thrown errors into negative errnos.
//
// Two choices follow from what applications do with ioplug PCMs (alsa-plugin.md §1-2):
// - SND_PCM_IOPLUG_FLAG_BOUNDARY_WA: the pointer counts to the boundary, not the buffer size, so
//   a jump of a whole buffer stays visible;
// - no SND_PCM_IOPLUG_FLAG_MONOTONIC: ioplug never advertises monotonic timestamps, and an
//   application (aplay) that mixes its trigger stamp with gettimeofday prints absurd underrun
//   lengths when the flag is set.
// mmap_rw is 0: alsa-lib hands every write (RW or MMAP access) to `transfer`, which the driver
// copies straight into its own ring, so the plugin needs no copy thread. Interleaved frames go to
// the driver in place; non-interleaved ones (one area per channel) pass through a small
// interleaving chunk, since drivers take interleaved frames only.

import CALSA
import Glibc
import PCMBufferCore

/// What an external PCM accepts; alsa-lib refines every application's hw_params within it.
public struct ExternalPCMCapabilities: Sendable {
    public var formats: [SampleFormat]
    public var channels: ClosedRange<Int>
    public var rates: ClosedRange<Int>
    public var periodBytes: ClosedRange<Int>
    public var bufferBytes: ClosedRange<Int>
    public var periods: ClosedRange<Int>

    public init(formats: [SampleFormat], channels: ClosedRange<Int>, rates: ClosedRange<Int>, periodBytes: ClosedRange<Int>,
                bufferBytes: ClosedRange<Int>, periods: ClosedRange<Int>) {
        self.formats = formats
        self.channels = channels
        self.rates = rates
        self.periodBytes = periodBytes
        self.bufferBytes = bufferBytes
        self.periods = periods
    }
}

/// One open external PCM. alsa-lib owns the handle; this object lives until its close callback.
final class ExternalPCM {
    let io: UnsafeMutablePointer<snd_pcm_ioplug_t>
    let driver: any ExternalPCMDriver
    let direction: ExternalPCMDirection
    private let name: UnsafeMutablePointer<CChar>
    /// The last position given to alsa-lib, already wrapped at the boundary.
    private var lastPosition: UInt = 0
    private var boundary: UInt64 = .max
    private var bytesPerFrame = 0
    private var bytesPerSample = 0
    private var channels = 0
    /// Non-interleaved access: frames are gathered here (playback) or scattered from here
    /// (capture) in chunks, since the driver's ring is interleaved. Allocated at hw_params.
    private var interleaveScratch: UnsafeMutableRawBufferPointer?
    static let interleaveChunkFrames = 1024

    private init(driver: any ExternalPCMDriver, direction: ExternalPCMDirection, name: String) {
        self.driver = driver
        self.direction = direction
        self.name = strdup(name)
        io = .allocate(capacity: 1)
        io.initialize(to: snd_pcm_ioplug_t())
    }

    deinit {
        interleaveScratch?.deallocate()
        io.deinitialize(count: 1)
        io.deallocate()
        free(name)
    }

    /// Creates the ioplug PCM for `driver` and stores its handle in `handle`.
    static func create(name: String, direction: ExternalPCMDirection, mode: Int32, driver: any ExternalPCMDriver,
                       capabilities: ExternalPCMCapabilities, handle: UnsafeMutablePointer<OpaquePointer?>) throws(ExternalPCMError) {
        let pcm = ExternalPCM(driver: driver, direction: direction, name: name)
        let io = pcm.io
        io.pointee.version = 0x010002  // SND_PCM_IOPLUG_VERSION: 1.0.2 (delay, chmaps)
        io.pointee.name = UnsafePointer(pcm.name)
        io.pointee.flags = UInt32(SND_PCM_IOPLUG_FLAG_BOUNDARY_WA)
        io.pointee.poll_fd = driver.pollDescriptor
        io.pointee.poll_events = UInt32(POLLIN)
        io.pointee.mmap_rw = 0
        io.pointee.callback = UnsafePointer(externalPCMCallbacks)
        // Retained until the close callback, which alsa-lib calls exactly once.
        io.pointee.private_data = Unmanaged.passRetained(pcm).toOpaque()
        let stream = direction == .playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE
        let created = snd_pcm_ioplug_create(io, pcm.name, stream, mode)
        guard created >= 0 else {
            Unmanaged<ExternalPCM>.fromOpaque(io.pointee.private_data).release()
            throw ExternalPCMError(-created)
        }
        do throws(ExternalPCMError) {
            try pcm.declare(capabilities)
        } catch {
            _ = snd_pcm_ioplug_delete(io)  // calls close, which releases `pcm`
            throw error
        }
        handle.pointee = io.pointee.pcm
    }

    private func declare(_ capabilities: ExternalPCMCapabilities) throws(ExternalPCMError) {
        func check(_ result: Int32) throws(ExternalPCMError) {
            if result < 0 { throw ExternalPCMError(-result) }
        }
        var access = [SND_PCM_ACCESS_RW_INTERLEAVED, SND_PCM_ACCESS_MMAP_INTERLEAVED, SND_PCM_ACCESS_RW_NONINTERLEAVED,
                      SND_PCM_ACCESS_MMAP_NONINTERLEAVED].map { UInt32($0.rawValue) }
        try check(snd_pcm_ioplug_set_param_list(io, Int32(SND_PCM_IOPLUG_HW_ACCESS), UInt32(access.count), &access))
        var formats = capabilities.formats.map { UInt32(bitPattern: $0.alsaFormat.rawValue) }
        try check(snd_pcm_ioplug_set_param_list(io, Int32(SND_PCM_IOPLUG_HW_FORMAT), UInt32(formats.count), &formats))
        for (parameter, range) in [(SND_PCM_IOPLUG_HW_CHANNELS, capabilities.channels), (SND_PCM_IOPLUG_HW_RATE, capabilities.rates),
                                   (SND_PCM_IOPLUG_HW_PERIOD_BYTES, capabilities.periodBytes),
                                   (SND_PCM_IOPLUG_HW_BUFFER_BYTES, capabilities.bufferBytes), (SND_PCM_IOPLUG_HW_PERIODS, capabilities.periods)] {
            try check(snd_pcm_ioplug_set_param_minmax(io, Int32(parameter), UInt32(range.lowerBound), UInt32(range.upperBound)))
        }
    }

    static func from(_ io: UnsafeMutablePointer<snd_pcm_ioplug_t>?) -> ExternalPCM {
        Unmanaged<ExternalPCM>.fromOpaque(io!.pointee.private_data).takeUnretainedValue()
    }

    // MARK: - Callbacks, as methods

    func hardwareParameters() -> Int32 {
        let value = io.pointee
        guard let format = SampleFormat(alsaFormat: value.format) else { return -EINVAL }
        let setup = ExternalPCMSetup(format: format, channels: Int(value.channels), rate: Int(value.rate),
                                     periodFrames: Int(value.period_size), bufferFrames: Int(value.buffer_size),
                                     mmapAccess: value.access == SND_PCM_ACCESS_MMAP_INTERLEAVED
                                         || value.access == SND_PCM_ACCESS_MMAP_NONINTERLEAVED)
        bytesPerFrame = setup.bytesPerFrame
        bytesPerSample = format.bytesPerSample
        channels = setup.channels
        interleaveScratch?.deallocate()
        interleaveScratch = nil
        if value.access == SND_PCM_ACCESS_RW_NONINTERLEAVED || value.access == SND_PCM_ACCESS_MMAP_NONINTERLEAVED {
            interleaveScratch = .allocate(byteCount: Self.interleaveChunkFrames * bytesPerFrame, alignment: 16)
        }
        // alsa-lib's own rule (snd_pcm_hw_params): the largest buffer-size multiple of a power of
        // two that stays below LONG_MAX. sw_params reports the same value again.
        var wrap = UInt64(max(setup.bufferFrames, 1))
        while wrap * 2 <= UInt64(Int.max) - UInt64(setup.bufferFrames) { wrap *= 2 }
        boundary = wrap
        return run { () throws(ExternalPCMError) in try driver.hardwareParametersChosen(setup) }
    }

    func softwareParameters(_ params: OpaquePointer?) -> Int32 {
        var availMin: snd_pcm_uframes_t = 0, start: snd_pcm_uframes_t = 0, stop: snd_pcm_uframes_t = 0, wrap: snd_pcm_uframes_t = 0
        guard snd_pcm_sw_params_get_avail_min(params, &availMin) >= 0, snd_pcm_sw_params_get_start_threshold(params, &start) >= 0,
              snd_pcm_sw_params_get_stop_threshold(params, &stop) >= 0, snd_pcm_sw_params_get_boundary(params, &wrap) >= 0
        else { return -EINVAL }
        if wrap > 0 { boundary = UInt64(wrap) }
        let setup = ExternalPCMSoftwareSetup(availMin: Int(availMin), startThreshold: Int(clamping: start), stopThreshold: Int(clamping: stop),
                                             boundary: Int(clamping: wrap))
        return run { () throws(ExternalPCMError) in
            let applied = try driver.softwareParametersChosen(setup)
            // alsa-lib copies avail_min out of `params` after this callback returns.
            if applied.availMin != setup.availMin {
                let result = snd_pcm_sw_params_set_avail_min(io.pointee.pcm, params, snd_pcm_uframes_t(max(applied.availMin, 1)))
                if result < 0 { throw ExternalPCMError(-result) }
            }
        }
    }

    func pointer() -> snd_pcm_sframes_t {
        switch driver.pointer() {
        case .queued(let frames):
            // Relative to alsa-lib's own application pointer (always below the boundary).
            let application = UInt64(io.pointee.appl_ptr) % boundary
            let queued = UInt64(max(frames, 0)) % boundary
            lastPosition = UInt(direction == .playback ? (application + boundary - queued) % boundary : (application + queued) % boundary)
            return snd_pcm_sframes_t(lastPosition)
        case .xrun:
            return snd_pcm_sframes_t(-EPIPE)
        case .disconnected:
            // A negative pointer would read as an xrun (pcm_ioplug.c): report the state instead,
            // and let alsa-lib turn it into -ENODEV at the next call.
            _ = snd_pcm_ioplug_set_state(io, SND_PCM_STATE_DISCONNECTED)
            return snd_pcm_sframes_t(lastPosition)
        }
    }

    func transfer(_ areas: UnsafePointer<snd_pcm_channel_area_t>?, offset: snd_pcm_uframes_t, size: snd_pcm_uframes_t) -> snd_pcm_sframes_t {
        guard let areas, bytesPerFrame > 0, channels > 0 else { return snd_pcm_sframes_t(-EINVAL) }
        do throws(ExternalPCMError) {
            // Interleaved (RW or MMAP): the frames are contiguous, hand them over in place.
            let first = areas.pointee
            if interleaveScratch == nil {
                guard let base = first.addr, Int(first.step) == bytesPerFrame * 8, first.first % 8 == 0 else { throw ExternalPCMError(EINVAL) }
                let start = base + Int(first.first / 8) + Int(offset) * bytesPerFrame
                return snd_pcm_sframes_t(try driver.transfer(UnsafeMutableRawBufferPointer(start: start, count: Int(size) * bytesPerFrame),
                                                             frames: Int(size)))
            }
            return snd_pcm_sframes_t(try transferNonInterleaved(areas, offset: Int(offset), frames: Int(size)))
        } catch {
            if error.code == ENODEV { _ = snd_pcm_ioplug_set_state(io, SND_PCM_STATE_DISCONNECTED) }
            return snd_pcm_sframes_t(-error.code)
        }
    }

    /// One area per channel: gathers chunks into the scratch and hands them to the driver
    /// (playback), or takes chunks from the driver and scatters them (capture).
    private func transferNonInterleaved(_ areas: UnsafePointer<snd_pcm_channel_area_t>, offset: Int, frames: Int) throws(ExternalPCMError) -> Int {
        guard let scratch = interleaveScratch else { throw ExternalPCMError(EINVAL) }
        for channel in 0..<channels {
            let area = areas[channel]
            guard area.addr != nil, area.first % 8 == 0, area.step % 8 == 0, Int(area.step) >= bytesPerSample * 8 else { throw ExternalPCMError(EINVAL) }
        }
        var done = 0
        while done < frames {
            let count = min(Self.interleaveChunkFrames, frames - done)
            let chunk = UnsafeMutableRawBufferPointer(rebasing: scratch[..<(count * bytesPerFrame)])
            if direction == .playback { copyChannels(areas, frame: offset + done, count: count, chunk: chunk, gathering: true) }
            let moved = try driver.transfer(chunk, frames: count)
            if direction == .capture { copyChannels(areas, frame: offset + done, count: moved, chunk: chunk, gathering: false) }
            done += moved
            if moved < count { break }
        }
        return done
    }

    /// Copies `count` frames between the application's per-channel areas (from `frame` on) and
    /// the interleaved `chunk`: into the chunk when `gathering`, out of it otherwise.
    private func copyChannels(_ areas: UnsafePointer<snd_pcm_channel_area_t>, frame: Int, count: Int,
                              chunk: UnsafeMutableRawBufferPointer, gathering: Bool) {
        for channel in 0..<channels {
            let area = areas[channel]
            let step = Int(area.step / 8)
            let samples = area.addr! + Int(area.first / 8) + frame * step
            let interleaved = chunk.baseAddress! + channel * bytesPerSample
            for index in 0..<count {
                let (to, from) = gathering
                    ? (interleaved + index * bytesPerFrame, samples + index * step)
                    : (samples + index * step, interleaved + index * bytesPerFrame)
                to.copyMemory(from: UnsafeRawPointer(from), byteCount: bytesPerSample)
            }
        }
    }

    func pollRevents(_ descriptors: UnsafeMutablePointer<pollfd>?, count: UInt32, revents: UnsafeMutablePointer<UInt16>?) -> Int32 {
        guard let descriptors, let revents else { return -EINVAL }
        let own = driver.pollDescriptor
        var readable = false
        var failed = false
        for index in 0..<Int(count) where descriptors[index].fd == own {
            let events = Int32(descriptors[index].revents)
            readable = events & Int32(POLLIN) != 0
            failed = events & Int32(POLLERR | POLLNVAL) != 0
        }
        switch driver.pollReadiness(descriptorReadable: readable) {
        case .ready:
            revents.pointee = UInt16(direction == .playback ? POLLOUT : POLLIN) | (failed ? UInt16(POLLERR) : 0)
        case .notReady:
            revents.pointee = failed ? UInt16(POLLERR) : 0
        case .disconnected:
            _ = snd_pcm_ioplug_set_state(io, SND_PCM_STATE_DISCONNECTED)
            revents.pointee = UInt16(POLLERR)
        }
        return 0
    }

    func delay(_ result: UnsafeMutablePointer<snd_pcm_sframes_t>?) -> Int32 {
        do throws(ExternalPCMError) {
            result?.pointee = snd_pcm_sframes_t(try driver.delay())
            return 0
        } catch {
            return -error.code
        }
    }

    /// Runs a throwing driver call and returns 0 or the negative errno.
    func run(_ body: () throws(ExternalPCMError) -> Void) -> Int32 {
        do throws(ExternalPCMError) {
            try body()
            return 0
        } catch {
            if error.code == ENODEV { _ = snd_pcm_ioplug_set_state(io, SND_PCM_STATE_DISCONNECTED) }
            return -error.code
        }
    }
}

/// The callback table every pcmd external PCM shares: plain C functions that find their
/// ExternalPCM through the ioplug's private_data.
// Safety: written once here, before any PCM exists, and only read afterwards (alsa-lib reads it
// through the const pointer in each snd_pcm_ioplug_t).
nonisolated(unsafe) private let externalPCMCallbacks: UnsafeMutablePointer<snd_pcm_ioplug_callback_t> = {
    var table = snd_pcm_ioplug_callback_t()
    table.start = { io in ExternalPCM.from(io).run { () throws(ExternalPCMError) in try ExternalPCM.from(io).driver.start() } }
    table.stop = { io in
        ExternalPCM.from(io).driver.stop()
        return 0
    }
    table.pointer = { io in ExternalPCM.from(io).pointer() }
    table.transfer = { io, areas, offset, size in ExternalPCM.from(io).transfer(areas, offset: offset, size: size) }
    table.close = { io in
        let pcm = Unmanaged<ExternalPCM>.fromOpaque(io!.pointee.private_data)
        pcm.takeUnretainedValue().driver.close()
        pcm.release()
        return 0
    }
    table.hw_params = { io, _ in ExternalPCM.from(io).hardwareParameters() }
    table.hw_free = { io in
        ExternalPCM.from(io).driver.hardwareParametersFreed()
        return 0
    }
    table.sw_params = { io, params in ExternalPCM.from(io).softwareParameters(params) }
    table.prepare = { io in ExternalPCM.from(io).run { () throws(ExternalPCMError) in try ExternalPCM.from(io).driver.prepare() } }
    table.drain = { io in ExternalPCM.from(io).run { () throws(ExternalPCMError) in try ExternalPCM.from(io).driver.drain() } }
    table.pause = { io, enable in
        ExternalPCM.from(io).run { () throws(ExternalPCMError) in try ExternalPCM.from(io).driver.pause(enable != 0) }
    }
    table.poll_revents = { io, descriptors, count, revents in ExternalPCM.from(io).pollRevents(descriptors, count: count, revents: revents) }
    table.delay = { io, result in ExternalPCM.from(io).delay(result) }
    let pointer = UnsafeMutablePointer<snd_pcm_ioplug_callback_t>.allocate(capacity: 1)
    pointer.initialize(to: table)
    return pointer
}()
