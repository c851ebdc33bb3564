import EdgeIR

/// Multiply-accumulates and floating-point operations of one node, from its inferred shapes.
///
/// Conventions (one MAC = one multiply + one add; FLOPs count both):
/// - Conv (also ConvInteger, QLinearConv, FusedConv): MACs = output elements × (C_in / group) × ∏kernel;
///   FLOPs add one per output element for the bias and for FusedConv's residual Z.
/// - ConvTranspose: MACs = input elements × (C_out / group) × ∏kernel (each input pixel scatters a kernel).
/// - Gemm: MACs = M × N × K. MatMul (and MatMulInteger, QLinearMatMul): MACs = output elements × K,
///   i.e. batch × M × N × K after broadcasting.
/// - Einsum: MACs = product of the extents of all distinct labels (one multiply-add per point of
///   the iteration space).
/// - RNN/GRU/LSTM: MACs = seq × batch × directions × gates × hidden × (input + hidden), gates 1/3/4.
/// - FLOPs = 2 × MACs for the ops above, plus one add per output element when a bias input is
///   present (Conv/ConvTranspose B, Gemm C).
/// - Other ops have no MACs; their FLOPs are output elements × a per-op factor: 1 for simple
///   arithmetic, comparisons and ReLU-like activations; 4 for Sigmoid, Tanh, Swish/SiLU, HardSwish,
///   Mish, Elu, Softplus, Erf (exp + add + divide + select ≈ 4); 8 for Gelu; 5 for Softmax and
///   LogSoftmax (max, subtract, exp, sum, divide); normalization: BatchNormalization 2 (scale and
///   shift with folded statistics), Instance/Group/LayerNormalization 8 (mean, variance, normalize,
///   scale, shift), LRN size+3; windowed pooling ∏kernel per output element; global pooling and
///   reductions: input elements; Resize: 4 per output element for linear/cubic modes, 0 for
///   nearest; Quantize/DequantizeLinear 2.
/// - Data movement (Reshape, Transpose, Concat, Slice, Gather, Pad, Cast, Shape, …) costs 0.
/// A node whose shapes are unknown has `known == false` and contributes 0.
public struct ComputeCost: Sendable, Equatable {
    public var macs: Int
    public var flops: Int
    public var known: Bool

    public static let zero = ComputeCost(macs: 0, flops: 0, known: true)
    public static let unknown = ComputeCost(macs: 0, flops: 0, known: false)
}

public enum ComputeCostModel {
    static let oneFlop: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Abs", "Neg", "Relu", "LeakyRelu",
        "PRelu", "Clip", "Floor", "Ceil", "Round", "Sign", "Reciprocal", "Sqrt", "Exp", "Log", "Equal", "Less",
        "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where", "ThresholdedRelu", "Shrink",
        "HardSigmoid", "Sin", "Cos", "Tan", "Selu", "Celu", "BitShift", "CumSum",
    ]
    static let fourFlops: Set<String> = ["Sigmoid", "Tanh", "Swish", "HardSwish", "Mish", "Elu", "Softplus", "Softsign", "Erf"]
    static let noFlops: Set<String> = [
        "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Gather",
        "GatherElements", "GatherND", "Pad", "Cast", "CastLike", "Shape", "Size", "Identity", "Expand", "Tile",
        "Constant", "ConstantOfShape", "Range", "Dropout", "DepthToSpace", "SpaceToDepth", "ScatterND",
        "ScatterElements", "OneHot", "NonZero", "If", "Loop", "Scan",
    ]

    public static func cost(of node: Node, inputs: [TensorType?], outputs: [TensorType?]) -> ComputeCost {
        func elements(_ t: TensorType?) -> Int? { t?.fixedShape.flatMap { DimMath.product($0) } }
        // Hostile shapes can overflow a product; such a node's cost is unknown, never a crash.
        func checked(_ factors: Int...) -> Int? { DimMath.product(factors) }
        func inputType(_ i: Int) -> TensorType? { i < inputs.count && node.input(i) != nil ? inputs[i] : nil }
        let out = outputs.first ?? nil
        let op = node.opType
        switch op {
        case "Conv", "ConvInteger", "QLinearConv", "FusedConv", "DeformConv":
            let w = op == "QLinearConv" ? 3 : 1
            let biasIndex = op == "QLinearConv" ? 8 : 2
            guard let outN = elements(out), let ws = inputType(w)?.fixedShape, ws.count >= 2 else { return .unknown }
            // (C_in/group) × ∏kernel per output element
            guard let perOutput = DimMath.product(ws.dropFirst()), let macs = checked(outN, perOutput, 2) .map({ $0 / 2 }) else { return .unknown }
            let bias = node.input(biasIndex) != nil && op != "ConvInteger" ? outN : 0
            // FusedConv's optional Z (a fused residual Add) is one more add per output element.
            let residual = op == "FusedConv" && node.input(3) != nil ? outN : 0
            return ComputeCost(macs: macs, flops: 2 * macs + bias + residual, known: true)
        case "ConvTranspose":
            guard let inN = elements(inputType(0)), let ws = inputType(1)?.fixedShape, ws.count >= 2, let outN = elements(out) else { return .unknown }
            // (C_out/group) × ∏kernel per input element
            guard let perInput = DimMath.product(ws.dropFirst()), let macs = checked(inN, perInput, 2).map({ $0 / 2 }) else { return .unknown }
            return ComputeCost(macs: macs, flops: 2 * macs + (node.input(2) != nil ? outN : 0), known: true)
        case "Gemm", "QGemm", "FusedGemm":
            guard let a = inputType(0)?.fixedShape, a.count == 2, let outN = elements(out) else { return .unknown }
            let k = node.int("transA") == 1 ? a[0] : a[1]
            guard let macs = checked(outN, k, 2).map({ $0 / 2 }) else { return .unknown }
            let cIndex = op == "QGemm" ? 6 : 2
            // FusedGemm's optional Z (a fused residual Add) is one more add per output element.
            let residual = op == "FusedGemm" && node.input(3) != nil ? outN : 0
            return ComputeCost(macs: macs, flops: 2 * macs + (node.input(cIndex) != nil ? outN : 0) + residual, known: true)
        case "MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul", "MatMulIntegerToFloat":
            guard let a = inputType(0)?.fixedShape, !a.isEmpty, let outN = elements(out) else { return .unknown }
            var k = a[a.count - 1]
            if op == "FusedMatMul", node.int("transA") == 1, a.count >= 2 { k = a[a.count - 2] }
            guard let macs = checked(outN, k, 2).map({ $0 / 2 }) else { return .unknown }
            return ComputeCost(macs: macs, flops: 2 * macs, known: true)
        case "Einsum":
            return einsum(node, inputs: inputs)
        case "RNN", "GRU", "LSTM", "DynamicQuantizeLSTM":
            guard let x = inputType(0)?.fixedShape, x.count == 3, let hidden = node.int("hidden_size") else { return .unknown }
            let gates = op.hasSuffix("LSTM") ? 4 : op == "GRU" ? 3 : 1
            let dirs = node.string("direction") == "bidirectional" ? 2 : 1
            guard hidden >= 0, let macs = checked(x[0], x[1], dirs, gates, Int(hidden), x[2] + Int(hidden), 2).map({ $0 / 2 }) else { return .unknown }
            return ComputeCost(macs: macs, flops: 2 * macs, known: true)
        default:
            break
        }
        if noFlops.contains(op) { return .zero }
        guard let outN = elements(out) else { return .unknown }
        let factor: Int
        switch op {
        case _ where oneFlop.contains(op): factor = 1
        case _ where fourFlops.contains(op): factor = 4
        case "Gelu", "FastGelu", "BiasGelu", "QuickGelu": factor = 8
        case "Softmax", "LogSoftmax": factor = 5
        case "BatchNormalization": factor = 2
        case "InstanceNormalization", "GroupNormalization", "LayerNormalization", "SkipLayerNormalization",
             "SimplifiedLayerNormalization", "RMSNormalization", "MeanVarianceNormalization", "LpNormalization": factor = 8
        case "LRN": factor = Int(node.int("size") ?? 1) + 3
        case "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearAdd", "QLinearMul",
             "QLinearSigmoid", "QLinearLeakyRelu": factor = 2
        case "MaxPool", "AveragePool", "LpPool", "QLinearAveragePool":
            factor = (node.ints("kernel_shape") ?? []).reduce(1) { $0 * Int($1) }
        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "QLinearGlobalAveragePool",
             "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin":
            guard let inN = elements(inputType(0)) else { return .unknown }
            return ComputeCost(macs: 0, flops: inN, known: true)
        case "Resize", "Upsample":
            factor = (node.string("mode") ?? "nearest") == "nearest" ? 0 : 4
        default:
            // An op outside the table (custom or rare): no estimate.
            return node.isStandardDomain ? ComputeCost(macs: 0, flops: 0, known: false) : .unknown
        }
        guard let flops = checked(outN, max(factor, 0)) else { return .unknown }
        return ComputeCost(macs: 0, flops: flops, known: true)
    }

    static func einsum(_ node: Node, inputs: [TensorType?]) -> ComputeCost {
        guard let equation = node.string("equation") else { return .unknown }
        let lhs = equation.split(separator: "-").first.map(String.init) ?? equation
        let terms = lhs.split(separator: ",", omittingEmptySubsequences: false).map { String($0).filter { $0 != " " } }
        var extents: [Character: Int] = [:]
        var ellipsis = 1
        for (i, term) in terms.enumerated() {
            guard i < inputs.count, let shape = inputs[i]?.fixedShape else { return .unknown }
            let named = Array(term.replacingOccurrences(of: "...", with: ""))
            let extra = shape.count - named.count
            guard extra >= 0 else { return .unknown }
            var axis = 0
            var k = term.startIndex
            while k < term.endIndex {
                if term[k...].hasPrefix("...") {
                    guard let e = DimMath.product(shape[axis..<axis + extra]) else { return .unknown }
                    ellipsis = max(ellipsis, e)
                    axis += extra
                    k = term.index(k, offsetBy: 3)
                    continue
                }
                extents[term[k]] = max(extents[term[k]] ?? 1, shape[axis])
                axis += 1
                k = term.index(after: k)
            }
        }
        guard let macs = DimMath.product([ellipsis] + Array(extents.values) + [2]).map({ $0 / 2 }) else { return .unknown }
        return ComputeCost(macs: macs, flops: 2 * macs, known: true)
    }
}

import Foundation
