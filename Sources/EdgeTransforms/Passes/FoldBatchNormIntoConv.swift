import EdgeIR

/// Folds an inference BatchNormalization into the convolution feeding it.
///
///     Before:  x ─► Conv(W, b) ─► y ─► BatchNormalization(γ, β, μ, σ², ε) ─► z
///     After:   x ─► Conv(W', b') ─► z
///
/// BN computes z = γ·(y − μ)/√(σ² + ε) + β per channel o. With s_o = γ_o/√(σ²_o + ε) and
/// y_o = Σ W_o·x + b_o:
///
///     z_o = Σ (s_o·W_o)·x + (b_o − μ_o)·s_o + β_o,   so   W'_o = s_o·W_o,  b'_o = (b_o − μ_o)·s_o + β_o
///
/// (b = 0 when the Conv has no bias). The same holds for ConvTranspose with its output-channel
/// layout. Conditions: the Conv output is read only by the BN; the BN's statistics, scale and bias
/// are constants; BN is in inference mode (`training_mode` 0, only its first output used); weights
/// are float. The products are computed in Double and rounded once to the weight type, so the only
/// difference from the unfused graph is the order of rounding (≈1 ulp per weight).
public struct FoldBatchNormIntoConv: GraphPass {
    public static let name = "fold-batchnorm-into-conv"
    public static let summary = "fold BatchNormalization into the preceding Conv/ConvTranspose weights and bias"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var index = GraphIndex(graph)
        var i = 0
        while i < graph.nodes.count {
            let bn = graph.nodes[i]
            defer { i += 1 }
            guard bn.isOp("BatchNormalization"), bn.inputs.count >= 5, bn.int("training_mode") ?? 0 == 0,
                  bn.outputs.dropFirst().allSatisfy({ $0.isEmpty || (index.useCount($0) == 0 && !index.graphOutputs.contains($0)) }),
                  let y = bn.input(0), let p = index.producerIndex(of: y), index.hasSingleUse(y) else { continue }
            let conv = graph.nodes[p]
            guard conv.isOp("Conv", "ConvTranspose"), conv.outputs.first == y,
                  let wName = conv.input(1), let w = index.constant(wName) else { continue }
            let layout: ChannelLayout = conv.opType == "Conv" ? .conv : .convTranspose(group: Int(conv.int("group") ?? 1))
            guard let channels = layout.outputChannels(w),
                  let gamma = vector(bn.inputs[1], index, channels), let beta = vector(bn.inputs[2], index, channels),
                  let mean = vector(bn.inputs[3], index, channels), let variance = vector(bn.inputs[4], index, channels)
            else { continue }
            let epsilon = Double(bn.float("epsilon") ?? 1e-5)
            var bias = [Double](repeating: 0, count: channels)
            if let bName = conv.input(2) {
                guard let b = index.constant(bName), b.elementCount == channels, b.dtype.isFloatingPoint else { continue }
                bias = b.doubleValues()
            }
            let scale = (0..<channels).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
            guard scale.allSatisfy(\.isFinite), let newW = layout.scaled(w, by: scale),
                  let newB = Tensor.make(w.dtype, shape: [channels],
                                         values: (0..<channels).map { (bias[$0] - mean[$0]) * scale[$0] + beta[$0] })
            else { continue }
            var fused = conv
            fused.inputs = [conv.inputs[0], graph.addInitializer(newW, base: "\(wName)_bn", context: context),
                            graph.addInitializer(newB, base: "\(conv.input(2) ?? wName)_bn_bias", context: context)]
            fused.outputs = [bn.outputs[0]]
            // The fused node takes BN's place: all Conv inputs are defined before the Conv, which
            // precedes the BN, so the order stays topological.
            graph.nodes[i] = fused
            graph.nodes.remove(at: p)
            i -= 1
            rewrites += 1
            index = GraphIndex(graph)
        }
        return PassResult(rewrites: rewrites)
    }

    private func vector(_ name: String, _ index: GraphIndex, _ channels: Int) -> [Double]? {
        guard let t = index.constant(name), t.dtype.isFloatingPoint, t.elementCount == channels else { return nil }
        return t.doubleValues()
    }
}
