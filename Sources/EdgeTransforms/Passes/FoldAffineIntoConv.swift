import EdgeIR

/// Folds a per-output-channel constant Mul or Add after Conv/ConvTranspose/Gemm into its weights.
///
///     Before:  x ─► Conv(W, b) ─► t ─► Mul(s) ─► u ─► Add(a) ─► y
///     After:   x ─► Conv(W', b') ─► y
///
/// For output channel o:  s_o·(Σ W_o·x + b_o) = Σ (s_o·W_o)·x + s_o·b_o  and
/// (Σ W_o·x + b_o) + a_o = Σ W_o·x + (b_o + a_o). So W' = s·W, b' = s·b (Mul) and b' = b + a (Add).
/// Legal only when the constant is the same for every position of a channel — shapes [C,1,1],
/// [1,C,1,1], [C] for Gemm, or a scalar — and does not broadcast the output to a larger shape;
/// otherwise the map is not per-channel and the pass leaves it. Exporters produce these pairs from
/// decomposed BatchNorm, feature scaling and "x·γ + β" layers.
public struct FoldAffineIntoConv: GraphPass {
    public static let name = "fold-affine-into-conv"
    public static let summary = "fold per-channel constant Mul/Add after Conv/ConvTranspose/Gemm into weights and bias"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var index = GraphIndex(graph)
        var i = 0
        while i < graph.nodes.count {
            defer { i += 1 }
            let op = graph.nodes[i]
            guard op.isOp("Mul", "Add"), op.inputs.count == 2 else { continue }
            for (k, other) in [(0, 1), (1, 0)] {
                let t = op.inputs[k]
                guard let p = index.producerIndex(of: t), index.hasSingleUse(t),
                      let c = index.constant(op.inputs[other]) else { continue }
                let producer = graph.nodes[p]
                guard let (layout, axis, rank) = describe(producer, index: index),
                      let wName = producer.input(1), let w = index.constant(wName), w.dtype == c.dtype,
                      let channels = layout.outputChannels(w),
                      let values = ChannelVector.perChannel(c, channels: channels, axis: axis, outputRank: rank) else { continue }
                var bias = [Double](repeating: 0, count: channels)
                if let bName = producer.input(2) {
                    guard let b = index.constant(bName), b.dtype.isFloatingPoint else { continue }
                    if producer.isOp("Gemm") {
                        // Gemm's C must already be per-output-channel for the fold to stay per-channel.
                        guard let v = ChannelVector.perChannel(b, channels: channels, axis: 1, outputRank: 2) else { continue }
                        let beta = Double(producer.float("beta") ?? 1)
                        bias = v.map { $0 * beta }
                    } else {
                        guard b.elementCount == channels else { continue }
                        bias = b.doubleValues()
                    }
                }
                var fused = producer
                if op.opType == "Mul" {
                    guard let newW = layout.scaled(w, by: values) else { continue }
                    fused.inputs[1] = graph.addInitializer(newW, base: "\(wName)_scaled", context: context)
                    bias = zip(bias, values).map { $0 * $1 }
                } else {
                    bias = zip(bias, values).map { $0 + $1 }
                }
                guard let newB = Tensor.make(w.dtype, shape: [channels], values: bias) else { continue }
                let bName = graph.addInitializer(newB, base: "\(producer.input(2) ?? wName)_affine", context: context)
                if fused.inputs.count < 3 { fused.inputs.append(bName) } else { fused.inputs[2] = bName }
                if producer.isOp("Gemm") { fused.setAttribute("beta", .float(1)) }
                fused.outputs = op.outputs
                graph.nodes[i] = fused
                graph.nodes.remove(at: p)
                i -= 1
                rewrites += 1
                index = GraphIndex(graph)
                break
            }
        }
        return PassResult(rewrites: rewrites)
    }

    /// Channel layout, channel axis and output rank of a foldable producer.
    func describe(_ node: Node, index: GraphIndex) -> (ChannelLayout, Int, Int)? {
        guard node.isStandardDomain, node.outputs.count == 1, let wName = node.input(1), let w = index.constant(wName) else { return nil }
        switch node.opType {
        case "Conv": return (.conv, 1, w.rank)
        case "ConvTranspose": return (.convTranspose(group: Int(node.int("group") ?? 1)), 1, w.rank)
        case "Gemm":
            // alpha scales A·B only; folding keeps it (W' = s·W, C' = s·beta·C with beta reset to 1).
            return (.gemm(transB: node.int("transB") == 1), 1, 2)
        default: return nil
        }
    }
}
