// hw_params negotiation against the null PCM (which allows almost anything) and against a
// `plug` PCM whose slave is fixed at 48 kHz (which shows the exact-rate check): the buffer
// cap from the caller's allocation, the buffer/period choice, reading back, and bad requests.

import ALSA
import Glibc
import PCMBufferCore
import Testing

/// A PCM that only runs at 48000 Hz once resampling is off: a plug over a null slave whose
/// rate is fixed.
let fixedRateConfiguration = """
    pcm.fixed48k {
        type plug
        slave { pcm { type null } rate 48000 channels 2 format S16_LE }
    }
    """

@Suite struct NegotiationTests {
    @Test func limits_beforeCommit_reportNullRangesAndInterleavedAccess() throws {
        let pcm = try PCM(device: "null", direction: .playback)
        let limits = try pcm.hardwareLimits(format: .s16, channels: 2, rate: 48000)
        #expect(limits.access == .mmapInterleaved)
        // pcm-memory.md §4: after S16_LE/2ch/48000 null allows 1...206158430 frames (UINT_MAX µs).
        #expect(limits.bufferFrames == FrameCount(1)...FrameCount(206_158_430))
        #expect(limits.periodFrames.lowerBound == FrameCount(1))
        // Nothing was committed: the PCM is still unconfigured.
        #expect(pcm.state == .open)
        #expect(pcm.hardware == nil)
    }

    @Test func configure_withWantedBufferAndPeriod_getsThemExactlyAndReadsBack() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        let request = HardwareRequest(
            format: .s16, channels: 2, rate: 48000, maxBufferFrames: 16384, bufferFrames: 4800, periodFrames: 1200
        )
        let chosen = try pcm.configureHardware(request)
        #expect(chosen.access == .mmapInterleaved)
        #expect(chosen.format == .s16)
        #expect(chosen.channels == 2)
        #expect(chosen.rate == 48000)
        #expect(chosen.bufferFrames == 4800)
        #expect(chosen.periodFrames == 1200)
        #expect(chosen.periods == 4)
        #expect(chosen.layout.bytesPerFrame == 4)
        #expect(chosen.deviceBufferFrames.upperBound == FrameCount(206_158_430))
        #expect(pcm.hardware == chosen)
        // alsa-lib prepares automatically after hw_params.
        #expect(pcm.state == .prepared)
    }

    @Test func configure_withoutWantedBuffer_takesTheWholeCapAndQuarterPeriods() throws {
        var pcm = try PCM(device: "null", direction: .capture)
        let chosen = try pcm.configureHardware(
            HardwareRequest(format: .s32, channels: 4, rate: 96000, maxBufferFrames: 8192)
        )
        #expect(chosen.bufferFrames == 8192)
        #expect(chosen.periodFrames == 2048)
        #expect(chosen.format == .s32)
        #expect(chosen.channels == 4)
    }

    @Test func configure_wantedBufferAboveCap_isCappedByTheCallersAllocation() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        let chosen = try pcm.configureHardware(
            HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 3000, bufferFrames: 100_000, periods: 3)
        )
        #expect(chosen.bufferFrames == 3000)
        #expect(chosen.periodFrames == 1000)
        #expect(chosen.bufferFrames <= 3000)
    }

    @Test(arguments: SampleFormat.allCases)
    func configure_everySampleFormat_roundTripsThroughALSA(format: SampleFormat) throws {
        var pcm = try PCM(device: "null", direction: .playback)
        let chosen = try pcm.configureHardware(
            HardwareRequest(format: format, channels: 1, rate: 44100, maxBufferFrames: 1024, periodFrames: 256)
        )
        #expect(chosen.format == format)
        #expect(chosen.periodFrames == 256)
    }

    @Test func configure_fixedRateDevice_acceptsItsOwnRate() throws {
        var pcm = try PCM(configuration: fixedRateConfiguration, name: "fixed48k", direction: .playback)
        let chosen = try pcm.configureHardware(
            HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 4096, periodFrames: 1024)
        )
        #expect(chosen.rate == 48000)
        #expect(pcm.typeName == "PLUG")
    }

    @Test func configure_rateTheDeviceWouldRound_throwsNamingWantedAndOffered() throws {
        var pcm = try PCM(configuration: fixedRateConfiguration, name: "fixed48k", direction: .playback)
        let error = #expect(throws: ALSAError.self) {
            try pcm.configureHardware(HardwareRequest(format: .s16, channels: 2, rate: 44100, maxBufferFrames: 4096))
        }
        #expect(error?.reason == .rateNotExact(wanted: 44100, offered: 48000))
        #expect(error?.code == -EINVAL)
        #expect(error?.description.contains("44100") == true)
        #expect(error?.description.contains("48000") == true)
        // The refusal left the PCM unconfigured and usable: a correct request still works.
        #expect(pcm.hardware == nil)
        let chosen = try pcm.configureHardware(HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 4096))
        #expect(chosen.rate == 48000)
    }

    @Test func limits_rateTheDeviceWouldRound_throwsToo() throws {
        let pcm = try PCM(configuration: fixedRateConfiguration, name: "fixed48k", direction: .capture)
        let error = #expect(throws: ALSAError.self) { try pcm.hardwareLimits(format: .s16, channels: 2, rate: 22050) }
        #expect(error?.reason == .rateNotExact(wanted: 22050, offered: 48000))
    }

    @Test func configure_formatTheDeviceLacks_throwsNamingTheFormat() throws {
        // The linear plugin converts between integer formats only, so it refuses float.
        let configuration = "pcm.integers { type linear slave { pcm { type null } format S16_LE } }"
        var pcm = try PCM(configuration: configuration, name: "integers", direction: .playback)
        let error = #expect(throws: ALSAError.self) {
            try pcm.configureHardware(HardwareRequest(format: .float32, channels: 2, rate: 48000, maxBufferFrames: 1024))
        }
        #expect(error?.reason == .formatUnsupported(.float32))
        #expect(error?.functionName == "snd_pcm_hw_params_set_format")
        #expect(error?.description.contains("f32") == true)
        // An integer format still works on the same PCM.
        #expect(try pcm.configureHardware(HardwareRequest(format: .s32, channels: 2, rate: 48000, maxBufferFrames: 1024)).format == .s32)
    }

    @Test func configure_moreChannelsThanTheDeviceHas_throwsWithTheOfferedRange() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        let error = #expect(throws: ALSAError.self) {
            try pcm.configureHardware(HardwareRequest(format: .s16, channels: 2_000_000_000, rate: 48000, maxBufferFrames: 1024))
        }
        #expect(error?.functionName == "snd_pcm_hw_params_set_channels")
        // The range is read after the format is set: with 16-bit samples null's frame-size
        // limit leaves 1...268435455 channels (its unrestricted maximum is 1073741823).
        #expect(error?.reason == .channelsUnsupported(wanted: 2_000_000_000, offered: 1...268_435_455))
    }

    @Test(arguments: [
        (HardwareRequest(format: .s16, channels: 0, rate: 48000, maxBufferFrames: 1024), "channels", 0),
        (HardwareRequest(format: .s16, channels: -3, rate: 48000, maxBufferFrames: 1024), "channels", -3),
        (HardwareRequest(format: .s16, channels: 2, rate: 0, maxBufferFrames: 1024), "rate", 0),
        (HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 0), "maximum buffer frames", 0),
        (HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 1024, bufferFrames: 0), "buffer frames", 0),
        (HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 1024, periodFrames: -1), "period frames", -1),
        (HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 1024, periods: 0), "periods", 0),
    ])
    func configure_invalidRequest_throwsNamingTheFieldAndLeavesThePCMUsable(
        request: HardwareRequest, field: String, value: Int
    ) throws {
        var pcm = try PCM(device: "null", direction: .playback)
        let error = #expect(throws: ALSAError.self) { try pcm.configureHardware(request) }
        #expect(error?.reason == .invalidRequest(field: field, value: value))
        #expect(error?.code == -EINVAL)
        #expect(pcm.state == .open)
        try pcm.configureHardware(HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 1024))
        #expect(pcm.state == .prepared)
    }

    @Test func reconfigure_afterFreeingHardware_takesNewSizes() throws {
        var pcm = try PCM(device: "null", direction: .playback)
        try pcm.configureHardware(HardwareRequest(format: .s16, channels: 2, rate: 48000, maxBufferFrames: 4096, periodFrames: 1024))
        try pcm.freeHardware()
        #expect(pcm.hardware == nil)
        let chosen = try pcm.configureHardware(
            HardwareRequest(format: .float32, channels: 1, rate: 44100, maxBufferFrames: 2048, periodFrames: 512)
        )
        #expect(chosen.bufferFrames == 2048)
        #expect(chosen.periodFrames == 512)
        #expect(chosen.format == .float32)
    }
}
