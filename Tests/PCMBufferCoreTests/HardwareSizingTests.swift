// Tests of HardwareSizing: the limit in frames and the buffer/period request policy.

import PCMBufferCore
import Testing

@Suite("Hardware sizing")
struct HardwareSizingTests {
    let stereo16 = FrameLayout(format: .s16, channels: 2)

    @Test("the limit is bytes ÷ frame size, rounded down, and the smaller of two limits")
    func limit() {
        #expect(HardwareSizing.bufferSizeMax(bufferBytesMax: .kibibytes(64), layout: stereo16) == 16384)
        #expect(HardwareSizing.bufferSizeMax(bufferBytesMax: ByteCount(9216), layout: FrameLayout(format: .s24Packed, channels: 2)) == 1536)
        #expect(HardwareSizing.bufferSizeMax(bufferBytesMax: ByteCount(9217), layout: FrameLayout(format: .s24Packed, channels: 5)) == 614)
        #expect(HardwareSizing.bufferSizeMax(bufferBytesMax: nil, hardwareBufferBytesMax: .kibibytes(64), layout: stereo16) == 16384)
        #expect(HardwareSizing.bufferSizeMax(bufferBytesMax: .kibibytes(32), hardwareBufferBytesMax: .kibibytes(64), layout: stereo16) == 8192)
        #expect(HardwareSizing.bufferSizeMax(bufferBytesMax: nil, layout: stereo16) == nil)
    }

    @Test("a requested period that fits is kept: buffer = period × periods")
    func periodFits() throws {
        let sizing = try HardwareSizing(bufferBytesMax: .kibibytes(64), layout: stereo16, period: 1024, periods: 4)
        #expect(sizing.bufferSizeMax == 16384)
        #expect(sizing.periodFrames == 1024)
        #expect(sizing.bufferFrames == 4096)
        #expect(sizing.bufferBytes(in: stereo16) == .kibibytes(16))
    }

    @Test("a period too large for the limit shrinks, keeping the period count")
    func periodShrinks() throws {
        let sizing = try HardwareSizing(bufferBytesMax: .kibibytes(16), layout: stereo16, period: 4096, periods: 3)
        #expect(sizing.periodFrames == 1365)  // 4096 frames ÷ 3
        #expect(sizing.bufferFrames == 4095)
        let huge = try HardwareSizing(bufferBytesMax: .kibibytes(16), layout: stereo16, period: FrameCount(Int.max / 2), periods: 4)
        #expect(huge.periodFrames == 1024)
    }

    @Test("without a period the whole limit is used, in whole periods")
    func noPeriod() throws {
        let sizing = try HardwareSizing(bufferBytesMax: ByteCount(9216), layout: stereo16, period: nil, periods: 3)
        #expect(sizing.periodFrames == 768)
        #expect(sizing.bufferFrames == 2304)
    }

    @Test("with nothing limiting, the period is the given one or 1024")
    func unbounded() throws {
        let given = try HardwareSizing(bufferBytesMax: nil, layout: stereo16, period: 480, periods: 2)
        #expect(given.bufferSizeMax == nil)
        #expect(given.bufferFrames == 960)
        let fallback = try HardwareSizing(bufferBytesMax: nil, layout: stereo16, period: nil, periods: 2)
        #expect(fallback.periodFrames == HardwareSizing.defaultUnboundedPeriod)
        #expect(fallback.bufferFrames == 2048)
    }

    @Test("bad inputs are refused with typed errors")
    func bad() {
        #expect(throws: SizingError.invalidPeriodCount(0)) { try HardwareSizing(bufferBytesMax: nil, layout: stereo16, period: nil, periods: 0) }
        #expect(throws: SizingError.invalidPeriod(0)) { try HardwareSizing(bufferBytesMax: nil, layout: stereo16, period: 0, periods: 2) }
        #expect(throws: SizingError.invalidPeriod(-4)) { try HardwareSizing(bufferBytesMax: nil, layout: stereo16, period: -4, periods: 2) }
        #expect(throws: SizingError.bufferTooSmall(bufferSizeMax: 2, periods: 4)) {
            try HardwareSizing(bufferBytesMax: ByteCount(8), layout: stereo16, period: nil, periods: 4)
        }
    }

    @Test("the allocator's convenience reads the substream's limit")
    func fromAllocator() throws {
        let allocator = SubstreamAllocator()
        try allocator.addPCM(card: 0, device: 0, playbackSubstreams: 1, captureSubstreams: 0)
        let id = SubstreamID.playback()
        try allocator.preallocate(substream: id, type: .continuous, size: .kibibytes(64), max: .kibibytes(64))
        let sizing = try allocator.hardwareSizing(substream: id, layout: stereo16, period: nil, periods: 4)
        #expect(sizing.bufferFrames == 16384)
        #expect(throws: HardwareSizingLookupError.substream(.unknownSubstream(.capture()))) {
            try allocator.hardwareSizing(substream: .capture(), layout: stereo16, period: nil, periods: 4)
        }
        #expect(throws: HardwareSizingLookupError.sizing(.invalidPeriodCount(-1))) {
            try allocator.hardwareSizing(substream: id, layout: stereo16, period: nil, periods: -1)
        }
    }
}
