// How N input channels become M output channels: a matrix of gains, the standard matrices pcmd
// uses when a client's channel count differs from the device's, and the recognition of
// matrices that are pure routing (each output a copy of one input, or silence), which the
// converter then runs as bit-exact copies instead of arithmetic.

/// Where a channel is meant to be heard. pcmd's wire protocol carries only a channel count, so
/// positions come from the count by ALSA's conventional order (the order of its `surround40`,
/// `surround51` and `surround71` devices): FL FR RL RR FC LFE SL SR.
public enum ChannelPosition: Hashable, Sendable {
    case mono, frontLeft, frontRight, rearLeft, rearRight, frontCenter, lowFrequency, sideLeft, sideRight
    /// A channel with no conventional position (beyond the eighth, or in counts ALSA leaves open).
    case auxiliary(Int)

    /// The conventional positions for `channels` channels.
    ///
    /// 1: mono. 2: FL FR. 3: FL FR FC. 4: FL FR RL RR. 5: FL FR RL RR FC. 6: FL FR RL RR FC LFE.
    /// 7: FL FR RL RR FC SL SR. 8: FL FR RL RR FC LFE SL SR. More: the first eight as for 8,
    /// then auxiliary channels.
    public static func standardOrder(channels: Int) -> [ChannelPosition] {
        precondition(channels >= 1, "at least one channel")
        let surround: [ChannelPosition] = [
            .frontLeft, .frontRight, .rearLeft, .rearRight, .frontCenter, .lowFrequency, .sideLeft, .sideRight,
        ]
        switch channels {
        case 1: return [.mono]
        case 2: return [.frontLeft, .frontRight]
        case 3: return [.frontLeft, .frontRight, .frontCenter]
        case 4, 5, 6, 8: return Array(surround.prefix(channels))
        case 7: return [.frontLeft, .frontRight, .rearLeft, .rearRight, .frontCenter, .sideLeft, .sideRight]
        default: return surround + (8..<channels).map { .auxiliary($0) }
        }
    }
}

/// A gain from every input channel to every output channel: output[o] = Σ gain[o][i] · input[i].
public struct ChannelMatrix: Hashable, Sendable, CustomStringConvertible {
    /// Channels read from.
    public let inputs: Int
    /// Channels written to.
    public let outputs: Int
    /// Gains in output-major order: `coefficients[o * inputs + i]` is input i's share of output o.
    public let coefficients: [Float]

    /// A matrix from explicit gains in output-major order.
    /// - Precondition: `coefficients.count == inputs * outputs`, and every gain is finite.
    public init(inputs: Int, outputs: Int, coefficients: [Float]) {
        precondition(inputs >= 1 && outputs >= 1, "a matrix needs at least one input and one output")
        precondition(coefficients.count == inputs * outputs, "need inputs × outputs coefficients")
        precondition(coefficients.allSatisfy(\.isFinite), "gains must be finite")
        self.inputs = inputs
        self.outputs = outputs
        self.coefficients = coefficients
    }

    /// Input `input`'s gain into output `output`.
    public subscript(output output: Int, input input: Int) -> Float {
        coefficients[output * inputs + input]
    }

    /// Each channel to itself.
    public static func identity(channels: Int) -> ChannelMatrix {
        standard(from: channels, to: channels)
    }

    /// pcmd's matrix from `from` to `to` channels, in the standard channel order:
    /// - Equal counts: identity.
    /// - Mono → more: the mono channel is copied to front left and front right (to every output
    ///   if the output has neither); the rest are silent.
    /// - Upmixing otherwise: every input position present in the output is copied to it; new
    ///   positions are silent (no synthesised surround: what the app sent is what plays).
    /// - Downmixing: positions present in both are copied; missing ones fold in the ITU-R BS.775
    ///   way: centre into left and right at −3 dB (0.7071), rear and side channels into their
    ///   counterpart (side ↔ rear) or else into the same-side front at −3 dB, LFE is dropped, and
    ///   to mono everything folds to stereo first and the two are averaged. Each output row that
    ///   received folded channels is then scaled so its gains sum to 1, so a downmix can never
    ///   clip. Stereo → mono is therefore exactly (L + R) / 2.
    /// - Auxiliary channels go to the output with the same index if there is one, else are dropped.
    public static func standard(from: Int, to: Int) -> ChannelMatrix {
        let inputs = ChannelPosition.standardOrder(channels: from)
        let outputs = ChannelPosition.standardOrder(channels: to)
        var gains = [Float](repeating: 0, count: from * to)
        func set(_ output: Int, _ input: Int, _ gain: Float) { gains[output * from + input] += gain }

        if from == to {
            for channel in 0..<from { set(channel, channel, 1) }
            return ChannelMatrix(inputs: from, outputs: to, coefficients: gains)
        }
        if to == 1 {
            // Fold to stereo, then average left and right.
            let stereo = standard(from: from, to: 2)
            for input in 0..<from {
                gains[input] = (stereo[output: 0, input: input] + stereo[output: 1, input: input]) / 2
            }
            return ChannelMatrix(inputs: from, outputs: 1, coefficients: gains)
        }
        let index = { (position: ChannelPosition) in outputs.firstIndex(of: position) }
        let halfPower: Float = 0.707_106_77
        var folded = Set<Int>()
        for (input, position) in inputs.enumerated() {
            if let output = index(position) {
                set(output, input, 1)
                continue
            }
            switch position {
            case .mono:
                if let left = index(.frontLeft), let right = index(.frontRight) {
                    set(left, input, 1)
                    set(right, input, 1)
                } else {
                    for output in 0..<to { set(output, input, 1) }
                }
            case .frontCenter:
                for side in [ChannelPosition.frontLeft, .frontRight] {
                    if let output = index(side) { set(output, input, halfPower); folded.insert(output) }
                }
            case .rearLeft, .rearRight, .sideLeft, .sideRight:
                let counterpart: ChannelPosition =
                    switch position {
                    case .rearLeft: .sideLeft
                    case .rearRight: .sideRight
                    case .sideLeft: .rearLeft
                    default: .rearRight
                    }
                let front: ChannelPosition = (position == .rearLeft || position == .sideLeft) ? .frontLeft : .frontRight
                if let output = index(counterpart) {
                    set(output, input, 1)
                    folded.insert(output)
                } else if let output = index(front) {
                    set(output, input, halfPower)
                    folded.insert(output)
                }
            case .frontLeft, .frontRight:
                // Only reachable when the output is mono, which is handled above.
                break
            case .lowFrequency:
                break
            case .auxiliary(let number):
                if number < to { set(number, input, 1) }
            }
        }
        for output in folded {
            let row = gains[(output * from)..<(output * from + from)]
            let sum = row.reduce(0, +)
            if sum > 1 {
                for input in 0..<from { gains[output * from + input] /= sum }
            }
        }
        return ChannelMatrix(inputs: from, outputs: to, coefficients: gains)
    }

    /// For a matrix where every output is exactly one input at gain 1, or silent (all gains 0),
    /// the input index each output copies (nil for silent outputs). Nil for any matrix that
    /// mixes or scales; those need arithmetic.
    public var routing: [Int?]? {
        var sources: [Int?] = []
        sources.reserveCapacity(outputs)
        for output in 0..<outputs {
            let row = coefficients[(output * inputs)..<(output * inputs + inputs)]
            let ones = row.indices.filter { row[$0] == 1 }
            let zeros = row.filter { $0 == 0 }.count
            if ones.count == 1 && zeros == inputs - 1 {
                sources.append(ones[0] - output * inputs)
            } else if zeros == inputs {
                sources.append(nil)
            } else {
                return nil
            }
        }
        return sources
    }

    public var description: String {
        (0..<outputs).map { output in
            (0..<inputs).map { input in "\(self[output: output, input: input])" }.joined(separator: " ")
        }.joined(separator: "; ")
    }
}
