// The mixer's integer inner loops, for the case that dominates a desktop: s16 streams at unity
// gain. Their sum is an exact integer, and an Int32 holds the sum of 65536 full-scale s16
// streams, so it needs no Double: widening s16 to Int32 and adding vectorises twice as wide as
// converting to Double, and on an emulated CPU (qemu's TCG, where the VM tier and bench-vm run)
// every floating-point operation is a call into a software FPU. The results are bit-for-bit those
// of the Double path (`MixKernels`): the same exact sum, saturated at the same limits.

/// Mixer inner loops on an Int32 accumulator, s16 only.
enum WholeMixKernels {
    /// Adds the first `adding` s16 samples at `source` into `accumulator`, then stores the next
    /// `storing` samples (the part no stream has touched yet this period).
    static func accumulate(from source: UnsafeRawPointer, into accumulator: UnsafeMutablePointer<Int32>, adding: Int, storing: Int) {
        for i in 0..<adding { accumulator[i] &+= S16Codec.load(source + i * 2) }
        let tailSource = source + adding * 2
        let tail = accumulator + adding
        for i in 0..<storing { tail[i] = S16Codec.load(tailSource + i * 2) }
    }

    /// Saturates `samples` accumulated samples to s16 and stores them.
    static func store(from accumulator: UnsafeMutablePointer<Int32>, into destination: UnsafeMutableRawPointer, samples: Int) {
        for i in 0..<samples {
            S16Codec.store(min(max(accumulator[i], S16Codec.minimum), S16Codec.maximum), to: destination + i * 2)
        }
    }

    /// Copies `samples` integer sums into the Double accumulator, for a period that stops being
    /// all unity (a stream with a volume, or a master volume): the sums are exact in a Double.
    static func widen(_ accumulator: UnsafeMutablePointer<Int32>, into doubles: UnsafeMutablePointer<Double>, samples: Int) {
        for i in 0..<samples { doubles[i] = Double(accumulator[i]) }
    }
}
