import EdgeIR

/// Per-output-channel arithmetic on the weights of Conv, ConvTranspose and Gemm, shared by the
/// fusions that fold a following affine map into them.
public enum ChannelLayout: Sendable {
    /// Conv: W is [C_out, C_in/group, k…]; output channel o is W[o].
    case conv
    /// ConvTranspose: W is [C_in, C_out/group, k…]; input channel i of group g = i / (C_in/group)
    /// feeds output channel g·(C_out/group) + j through W[i, j].
    case convTranspose(group: Int)
    /// Gemm right operand: op(B) is K×N, output channel n; B is N×K when `transB`, else K×N.
    case gemm(transB: Bool)

    /// Number of output channels the weight `w` produces.
    public func outputChannels(_ w: Tensor) -> Int? {
        switch self {
        case .conv: return w.rank >= 1 ? w.shape[0] : nil
        case .convTranspose(let group): return w.rank >= 2 ? w.shape[1] * group : nil
        case .gemm(let transB): return w.rank == 2 ? (transB ? w.shape[0] : w.shape[1]) : nil
        }
    }

    /// `w` with every weight feeding output channel `o` multiplied by `scales[o]` (computed in
    /// Double, stored in w's type). Nil for unsupported element types or mismatched lengths.
    public func scaled(_ w: Tensor, by scales: [Double]) -> Tensor? {
        guard w.dtype.isFloatingPoint, let channels = outputChannels(w), channels == scales.count else { return nil }
        var values = w.doubleValues()
        guard values.count == w.elementCount else { return nil }
        switch self {
        case .conv:
            let inner = w.elementCount / max(1, channels)
            for o in 0..<channels { for k in 0..<inner { values[o * inner + k] *= scales[o] } }
        case .convTranspose(let group):
            let cIn = w.shape[0], perGroupOut = w.shape[1], inner = w.elementCount / max(1, cIn * perGroupOut)
            let perGroupIn = cIn / max(1, group)
            for i in 0..<cIn {
                let g = i / max(1, perGroupIn)
                for j in 0..<perGroupOut {
                    let s = scales[g * perGroupOut + j]
                    let base = (i * perGroupOut + j) * inner
                    for k in 0..<inner { values[base + k] *= s }
                }
            }
        case .gemm(let transB):
            let rows = w.shape[0], cols = w.shape[1]
            for r in 0..<rows { for c in 0..<cols { values[r * cols + c] *= scales[transB ? r : c] } }
        }
        return Tensor.make(w.dtype, shape: w.shape, values: values)
    }
}

/// Reading a constant as one value per output channel.
enum ChannelVector {
    /// The values of `t` broadcast along `channels` output channels when `t` varies at most along
    /// the channel axis of an output of rank `outputRank` whose channel axis is `axis`
    /// (shapes like [C], [C,1,1], [1,C,1,1], [1] or scalar). Nil if `t` varies along another axis
    /// or would broadcast the output to a larger shape.
    static func perChannel(_ t: Tensor, channels: Int, axis: Int, outputRank: Int) -> [Double]? {
        guard t.dtype.isFloatingPoint, t.rank <= outputRank else { return nil }
        let values = t.doubleValues()
        if t.elementCount == 1 { return Array(repeating: values[0], count: channels) }
        // Right-align t's shape with the output's.
        let offset = outputRank - t.rank
        for (k, d) in t.shape.enumerated() where k + offset != axis && d != 1 { return nil }
        let channelDim = axis - offset >= 0 ? t.shape[axis - offset] : 1
        guard channelDim == channels else { return nil }
        return values
    }
}
