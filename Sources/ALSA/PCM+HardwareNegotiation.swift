// hw_params negotiation in the careful order alsa-lib itself uses (snd_pcm_set_params,
// test/pcm.c): any, no resampling, mmap access, format, channels, exact rate, read the size
// limits, then buffer first (capped by the caller's allocation) and period, falling back to
// period first from a saved copy; install; read back what the device chose.

import CALSA
import Glibc
import PCMBufferCore

extension PCM {
    /// What the device allows for buffer and period sizes at this format, channel count and
    /// rate, without committing anything. Use it to size the buffer allocation before calling
    /// `configureHardware`.
    /// - Throws: the same errors as the first steps of `configureHardware`: no mmap access,
    ///   unsupported format or channels, a rate the device would round.
    ///
    /// The corresponding ALSA functions are `snd_pcm_hw_params_any` and the `set_*` and
    /// `get_buffer_size_min/max` calls of the negotiation.
    public func hardwareLimits(
        format: SampleFormat, channels: Int, rate: Int, access: AccessChoice = .interleavedFirst
    ) throws(ALSAError) -> HardwareLimits {
        let params = try HardwareParameters()
        let access = try narrowToStream(params, format: format, channels: channels, rate: rate, accessChoice: access)
        return HardwareLimits(
            access: access,
            bufferFrames: try params.bufferFramesRange(),
            periodFrames: try params.periodFramesRange()
        )
    }

    /// Negotiates and installs hw_params, then reads back what the device chose.
    ///
    /// The buffer never exceeds `request.maxBufferFrames`. After this call the PCM is PREPARED
    /// (alsa-lib prepares automatically) with alsa-lib's default sw_params; call
    /// `configureSoftware` next.
    /// - Throws: `ALSAError` whose `reason` names the step that failed: `.noMMapAccess`,
    ///   `.formatUnsupported`, `.channelsUnsupported`, `.rateNotExact`,
    ///   `.bufferCapBelowDeviceMinimum`, `.bufferAndPeriodRejected`, `.invalidRequest`, and
    ///   `.accessUnsupported` when `request.access` insists on one access the device lacks.
    ///
    /// The corresponding ALSA function is `snd_pcm_hw_params`.
    @discardableResult
    public mutating func configureHardware(_ request: HardwareRequest) throws(ALSAError) -> HardwareConfiguration {
        try Self.validate(request)
        let params = try HardwareParameters()
        _ = try narrowToStream(
            params, format: request.format, channels: request.channels, rate: request.rate, accessChoice: request.access
        )
        if request.integerPeriods {
            try check(alsa_hw_params_set_periods_integer(handle, params.raw), "snd_pcm_hw_params_set_periods_integer")
        }

        let deviceBuffer = try params.bufferFramesRange()
        let cap = min(request.maxBufferFrames, deviceBuffer.upperBound)
        guard cap >= deviceBuffer.lowerBound else {
            throw ALSAError(
                code: -EINVAL, function: "snd_pcm_hw_params_set_buffer_size_max",
                reason: .bufferCapBelowDeviceMinimum(cap: request.maxBufferFrames.value, deviceMinimum: deviceBuffer.lowerBound.value)
            )
        }
        let wantedBuffer = min(request.bufferFrames ?? cap, cap)
        let wantedPeriod = request.periodFrames ?? FrameCount(max(1, wantedBuffer.value / request.periods))

        let saved = try HardwareParameters()
        saved.restore(from: params)
        do {
            try chooseBufferThenPeriod(params, cap: cap, buffer: wantedBuffer, period: wantedPeriod)
        } catch {
            // Some devices refuse a buffer chosen before the period (their period limits leave
            // no period that divides it); snd_pcm_set_params then retries period first.
            params.restore(from: saved)
            do {
                try choosePeriodThenBuffer(params, cap: cap, buffer: wantedBuffer, period: wantedPeriod)
            } catch let fallback {
                throw ALSAError(
                    code: fallback.code, function: fallback.function,
                    reason: .bufferAndPeriodRejected(bufferFrames: wantedBuffer.value, periodFrames: wantedPeriod.value)
                )
            }
        }

        let installed = alsa_hw_params_install(handle, params.raw)
        guard installed >= 0 else {
            // alsa-lib frees the old setup before installing, so a failure leaves no
            // configuration behind: the mmap code must not describe areas from the old one.
            hardware = nil
            throw ALSAError(code: installed, function: "snd_pcm_hw_params")
        }
        let current = try HardwareParameters()
        try check(alsa_hw_params_current(handle, current.raw), "snd_pcm_hw_params_current")
        let chosen = try current.chosenConfiguration(deviceBufferFrames: deviceBuffer)
        hardware = chosen
        return chosen
    }

    /// Steps 1-5: the full space, no resampling, mmap access, format, channels, exact rate.
    /// Returns the access that was set.
    func narrowToStream(
        _ params: borrowing HardwareParameters, format: SampleFormat, channels: Int, rate: Int, accessChoice: AccessChoice
    ) throws(ALSAError) -> PCMAccess {
        guard channels >= 1, channels <= Int(UInt32.max) else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_hw_params_set_channels", reason: .invalidRequest(field: "channels", value: channels))
        }
        guard rate >= 1, rate <= Int(UInt32.max) else {
            throw ALSAError(code: -EINVAL, function: "snd_pcm_hw_params_set_rate_near", reason: .invalidRequest(field: "rate", value: rate))
        }
        try check(alsa_hw_params_any(handle, params.raw), "snd_pcm_hw_params_any")
        // Resampling in a plug layer would hide a rate mismatch; pcmd wants to see it.
        try check(alsa_hw_params_set_rate_resample(handle, params.raw, 0), "snd_pcm_hw_params_set_rate_resample")

        let access: PCMAccess
        switch accessChoice {
        case .interleavedFirst:
            if alsa_hw_params_set_access(handle, params.raw, PCMAccess.mmapInterleaved.raw) >= 0 {
                access = .mmapInterleaved
            } else {
                let result = alsa_hw_params_set_access(handle, params.raw, PCMAccess.mmapNoninterleaved.raw)
                guard result >= 0 else {
                    throw ALSAError(code: result, function: "snd_pcm_hw_params_set_access", reason: .noMMapAccess(device: name))
                }
                access = .mmapNoninterleaved
            }
        case .only(let only):
            let result = alsa_hw_params_set_access(handle, params.raw, only.raw)
            guard result >= 0 else {
                throw ALSAError(
                    code: result, function: "snd_pcm_hw_params_set_access", reason: .accessUnsupported(device: name, access: only)
                )
            }
            access = only
        }

        let formatResult = alsa_hw_params_set_format(handle, params.raw, format.alsaFormat)
        guard formatResult >= 0 else {
            throw ALSAError(code: formatResult, function: "snd_pcm_hw_params_set_format", reason: .formatUnsupported(format))
        }

        let offeredChannels = try params.channelsRange()
        let channelsResult = alsa_hw_params_set_channels(handle, params.raw, CUnsignedInt(channels))
        guard channelsResult >= 0 else {
            throw ALSAError(
                code: channelsResult, function: "snd_pcm_hw_params_set_channels",
                reason: .channelsUnsupported(wanted: channels, offered: offeredChannels)
            )
        }

        var offeredRate = CUnsignedInt(rate)
        var direction: CInt = 0
        let rateResult = alsa_hw_params_set_rate_near(handle, params.raw, &offeredRate, &direction)
        guard rateResult >= 0 else {
            // Only decorates the error being thrown: if even the range cannot be read, 0 says so.
            let offered = (try? params.rateRange())?.lowerBound ?? 0
            throw ALSAError(
                code: rateResult, function: "snd_pcm_hw_params_set_rate_near",
                reason: .rateNotExact(wanted: rate, offered: offered)
            )
        }
        guard Int(offeredRate) == rate, direction == 0 else {
            throw ALSAError(
                code: -EINVAL, function: "snd_pcm_hw_params_set_rate_near",
                reason: .rateNotExact(wanted: rate, offered: Int(offeredRate))
            )
        }
        return access
    }

    /// Step 8, first try: the buffer as large as wanted (never above the cap), then the period.
    private func chooseBufferThenPeriod(
        _ params: borrowing HardwareParameters, cap: FrameCount, buffer: FrameCount, period: FrameCount
    ) throws(ALSAError) {
        var limit = UInt(cap.value)
        try check(alsa_hw_params_set_buffer_size_max(handle, params.raw, &limit), "snd_pcm_hw_params_set_buffer_size_max")
        var frames = UInt(buffer.value)
        try check(alsa_hw_params_set_buffer_size_near(handle, params.raw, &frames), "snd_pcm_hw_params_set_buffer_size_near")
        var periodFrames = UInt(min(period.value, Int(frames)))
        var direction: CInt = 0
        try check(
            alsa_hw_params_set_period_size_near(handle, params.raw, &periodFrames, &direction),
            "snd_pcm_hw_params_set_period_size_near"
        )
    }

    /// Step 8, fallback: the period first, then as many whole periods as fit the wanted buffer.
    private func choosePeriodThenBuffer(
        _ params: borrowing HardwareParameters, cap: FrameCount, buffer: FrameCount, period: FrameCount
    ) throws(ALSAError) {
        var limit = UInt(cap.value)
        try check(alsa_hw_params_set_buffer_size_max(handle, params.raw, &limit), "snd_pcm_hw_params_set_buffer_size_max")
        var periodFrames = UInt(period.value)
        var direction: CInt = 0
        try check(
            alsa_hw_params_set_period_size_near(handle, params.raw, &periodFrames, &direction),
            "snd_pcm_hw_params_set_period_size_near"
        )
        let periods = max(1, buffer.value / max(1, Int(periodFrames)))
        var frames = UInt(min(periods * Int(periodFrames), cap.value))
        try check(alsa_hw_params_set_buffer_size_near(handle, params.raw, &frames), "snd_pcm_hw_params_set_buffer_size_near")
    }

    private static func validate(_ request: HardwareRequest) throws(ALSAError) {
        func invalid(_ field: String, _ value: Int, _ function: StaticString) -> ALSAError {
            ALSAError(code: -EINVAL, function: function, reason: .invalidRequest(field: field, value: value))
        }
        if request.maxBufferFrames.value < 1 {
            throw invalid("maximum buffer frames", request.maxBufferFrames.value, "snd_pcm_hw_params_set_buffer_size_max")
        }
        if let buffer = request.bufferFrames, buffer.value < 1 {
            throw invalid("buffer frames", buffer.value, "snd_pcm_hw_params_set_buffer_size_near")
        }
        if let period = request.periodFrames, period.value < 1 {
            throw invalid("period frames", period.value, "snd_pcm_hw_params_set_period_size_near")
        }
        if request.periodFrames == nil, request.periods < 1 {
            throw invalid("periods", request.periods, "snd_pcm_hw_params_set_period_size_near")
        }
    }
}
