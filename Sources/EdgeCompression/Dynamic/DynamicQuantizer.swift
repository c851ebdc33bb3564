import EdgeIR
import EdgeTransforms
import Foundation

public struct DynamicQuantizationOptions: Sendable {
    /// Weight scales per output column / channel (default) or one per tensor.
    public var perChannel: Bool = true
    /// Also rewrite Conv into ConvInteger (as ONNX Runtime's quantize_dynamic does).
    public var convolutions: Bool = true
    /// Nodes (by name) left in float.
    public var excludedNodes: Set<String> = []
    /// LSTM output: ONNX Runtime's com.microsoft::DynamicQuantizeLSTM (int8 products), or int8
    /// weights behind DequantizeLinear with float compute (standard ONNX only).
    public var lstmFormat: LSTMFormat = .microsoft
    public init() {}

    public enum LSTMFormat: String, Sendable, CaseIterable {
        case microsoft, dq
    }
}

/// What a dynamic quantization did.
public struct DynamicQuantizationSummary: Sendable, Codable, Equatable {
    public var perChannel: Bool
    public var opsetBefore: Int
    public var opsetAfter: Int
    public var quantizedNodes: [String]
    public var skipped: [WeightOnlySummary.Skipped]
    public var weightBytesBefore: Int
    public var weightBytesAfter: Int
    public var totalSeconds: Double
}

/// Dynamic quantization (ONNX Runtime's `quantize_dynamic` form, no calibration data): int8
/// weights quantized ahead of time, activations quantized at run time from their own range.
///
///     Before:  X ─ MatMul(W) ─ Y                         Gemm(X, W, C; alpha, beta, transB)
///     After:   X ─ DynamicQuantizeLinear ─ X_q, s_x, z_x
///              MatMulInteger(X_q, W_q, z_x) ─ Y_int32 ─ Cast(float) ─ Mul(s_x · s_w) ─ Y   (+ Add(beta·C) for Gemm)
///
/// W_q = clamp(roundHalfEven(W / s_w), −127, 127) as int8 [K, N] with s_w = max|W[:, n]| / 127 per
/// output column (or per tensor), zero point 0 — so MatMulInteger's b_zero_point is omitted and
///     Y[m, n] = s_x · s_w[n] · Σ_k (X_q[m, k] − z_x) · W_q[k, n]
/// which is X·W up to the rounding of X (step s_x = range(X)/255) and of W. Gemm's alpha is folded
/// into s_w, transB into W_q's layout, beta into C. DynamicQuantizeLinear is uint8 (the only type
/// it has), so this is the u8 × s8 product ONNX Runtime's CPU kernels take.
///
/// Eligible: MatMul with a constant 2-D float weight; Gemm with transA = 0, a constant 2-D float
/// weight and a C that is absent or constant; Conv with a constant float weight and bias, as
/// ConvInteger (see `convInteger`); LSTM with constant float W and R as ONNX Runtime's
/// com.microsoft::DynamicQuantizeLSTM, GRU and RNN as int8 weights behind DequantizeLinear (see
/// RecurrentQuantization.swift).
/// The opset is raised to 11 when below (DynamicQuantizeLinear appears there), or to 13 when a
/// recurrent weight gets per-channel DequantizeLinear.
public enum DynamicQuantizer {
    public static let minimumOpset = 11

    public static func quantize(_ model: Model, options: DynamicQuantizationOptions) throws -> (model: Model, summary: DynamicQuantizationSummary) {
        let start = Date()
        let opsetBefore = Int(model.onnxOpsetVersion ?? 1)
        var working = model
        let hasWeightOnlyRecurrent = model.graph.nodes.contains { node in
            node.isStandardDomain && (["GRU", "RNN"].contains(node.opType)
                || (node.opType == "LSTM" && (options.lstmFormat == .dq || (node.int("layout") ?? 0) != 0)))
        }
        let needed = options.perChannel && hasWeightOnlyRecurrent ? perAxisOpset : minimumOpset
        var passes: [any GraphPass] = [EliminateIdentity(), FoldConstants(), EliminateNoOps(), EliminateDeadNodes(), FoldBatchNormIntoConv()]
        if opsetBefore < needed { passes.insert(ConvertOpset(target: needed), at: 0) }
        _ = try Pipeline(passes: passes, maxIterations: 3, check: nil).run(&working)
        guard Int(working.onnxOpsetVersion ?? 1) >= needed else {
            throw EdgeError.unsupported("the model's opset \(opsetBefore) could not be raised to \(needed), which \(needed == minimumOpset ? "DynamicQuantizeLinear" : "per-channel DequantizeLinear") needs")
        }
        if let v = working.onnxOpsetVersion {
            working.irVersion = max(working.irVersion, ConvertOpset.minimumIRVersion(opset: Int(v)))
        }
        let context = PassContext(model: working)
        var g = working.graph
        var constants: [String: Tensor] = [:]
        for (name, t) in g.initializers { constants[name] = t }
        for node in g.nodes { if let v = node.constantValue, let out = node.outputs.first { constants[out] = v } }
        let runtimeInputs = Set(g.runtimeInputs.map(\.name))

        var rewritten: [Int: [Node]] = [:]
        var quantizedNodes: [String] = []
        var skipped: [WeightOnlySummary.Skipped] = []
        // One DynamicQuantizeLinear per activation, shared by every layer reading it.
        var quantizedActivation: [String: (q: String, scale: String, zero: String)] = [:]
        var weightCache: [String: (q: String, scale: String)] = [:]
        func quantizedInput(_ x: String, into nodes: inout [Node]) -> (q: String, scale: String, zero: String) {
            if let done = quantizedActivation[x] { return done }
            let names = (context.freshName(x + "_quantized"), context.freshName(x + "_scale"), context.freshName(x + "_zero_point"))
            nodes.append(Node(name: context.freshName(x + "_DynamicQuantizeLinear"), opType: "DynamicQuantizeLinear",
                              inputs: [x], outputs: [names.0, names.1, names.2]))
            quantizedActivation[x] = names
            return names
        }
        for (index, node) in g.nodes.enumerated() where node.isStandardDomain && ["MatMul", "Gemm", "Conv", "LSTM", "GRU", "RNN"].contains(node.opType) {
            func skip(_ reason: String) { skipped.append(.init(node: node.displayName, reason: reason)) }
            if ["LSTM", "GRU", "RNN"].contains(node.opType) {
                if options.excludedNodes.contains(node.name) { skip("excluded"); continue }
                func constant(_ i: Int) -> Tensor? { node.input(i).flatMap { runtimeInputs.contains($0) ? nil : constants[$0] } }
                let (w, r) = (constant(1), constant(2))
                if let reason = recurrentIneligibility(node, w: w, r: r) { skip(reason); continue }
                if node.opType == "LSTM", options.lstmFormat == .microsoft, (node.int("layout") ?? 0) == 0 {
                    rewritten[index] = [try dynamicQuantizeLSTM(node, w: w!, r: r!, perChannel: options.perChannel, graph: &g, context: context)]
                    context.requireDomain(microsoftDomain, version: 1)
                    quantizedNodes.append("\(node.displayName) (LSTM → com.microsoft::DynamicQuantizeLSTM, int8 products)")
                } else {
                    rewritten[index] = try weightOnlyRecurrent(node, w: w!, r: r!, perChannel: options.perChannel, graph: &g, context: context)
                    quantizedNodes.append("\(node.displayName) (\(node.opType): int8 weights behind DequantizeLinear, float compute)")
                }
                continue
            }
            guard let wName = node.input(1), !runtimeInputs.contains(wName), let w = constants[wName] else { continue }
            if options.excludedNodes.contains(node.name) { skip("excluded"); continue }
            if node.opType == "Conv" {
                guard options.convolutions else { skip("Conv left in float (--dynamic-conv off)"); continue }
                guard w.dtype == .float, w.rank >= 3 else { skip("weight '\(wName)' is \(w.dtype) \(w.shape), float32 expected"); continue }
                var bias: Tensor? = nil
                if let b = node.input(2) {
                    guard let bt = constants[b], bt.dtype == .float, bt.elementCount == w.shape[0] else { skip("bias is not a constant float [\(w.shape[0])]"); continue }
                    bias = bt
                }
                var nodes: [Node] = []
                let (xq, xs, xz) = quantizedInput(node.inputs[0], into: &nodes)
                nodes.append(contentsOf: try convInteger(node, weight: w, weightName: wName, bias: bias, xq: xq, xs: xs, xz: xz,
                                                     perChannel: options.perChannel, graph: &g, context: context))
                rewritten[index] = nodes
                quantizedNodes.append(node.displayName)
                continue
            }
            guard w.dtype == .float, w.rank == 2 else { skip("weight '\(wName)' is \(w.dtype) \(w.shape), 2-D float32 expected"); continue }
            var transB = false, alpha: Float = 1, beta: Float = 1
            var bias: String? = nil
            if node.opType == "Gemm" {
                guard (node.int("transA") ?? 0) == 0 else { skip("transA = 1"); continue }
                transB = (node.int("transB") ?? 0) != 0
                alpha = node.float("alpha") ?? 1
                beta = node.float("beta") ?? 1
                if let c = node.input(2), beta != 0 {
                    guard let ct = constants[c], ct.dtype == .float else { skip("C is not a constant float tensor"); continue }
                    bias = beta == 1 ? c : g.addInitializer(Tensor(shape: ct.shape, scalars: ct.scalars(as: Float.self).map { $0 * beta }),
                                                            base: c + "_scaled", context: context)
                }
            }
            let key = "\(wName)|\(transB)|\(alpha)"
            if weightCache[key] == nil {
                let kn = transB ? WeightOnlyQuantizer.transposed(w) : w
                let (q, scales) = quantizeColumns(kn, perChannel: options.perChannel)
                let qName = g.addInitializer(q, base: wName + "_quantized", context: context)
                let sName = g.addInitializer(Tensor(shape: [scales.count], scalars: scales.map { $0 * alpha }), base: wName + "_scale", context: context)
                weightCache[key] = (qName, sName)
            }
            let (wq, ws) = weightCache[key]!
            var nodes: [Node] = []
            let (xq, xs, xz) = quantizedInput(node.inputs[0], into: &nodes)
            let base = node.name.isEmpty ? node.outputs[0] : node.name
            let integer = context.freshName(base + "_int32")
            let float = context.freshName(base + "_float")
            let scale = context.freshName(base + "_output_scale")
            let y = node.outputs[0]
            let scaled = bias == nil ? y : context.freshName(base + "_scaled")
            nodes.append(Node(name: context.freshName(base + "_MatMulInteger"), opType: "MatMulInteger", inputs: [xq, wq, xz], outputs: [integer]))
            nodes.append(Node(name: context.freshName(base + "_Cast"), opType: "Cast", inputs: [integer], outputs: [float],
                              attributes: [Attribute("to", .int(Int64(DType.float.rawValue)))]))
            nodes.append(Node(name: context.freshName(base + "_scale_Mul"), opType: "Mul", inputs: [xs, ws], outputs: [scale]))
            nodes.append(Node(name: context.freshName(base + "_Mul"), opType: "Mul", inputs: [float, scale], outputs: [scaled]))
            if let bias {
                nodes.append(Node(name: context.freshName(base + "_bias_Add"), opType: "Add", inputs: [scaled, bias], outputs: [y]))
            }
            rewritten[index] = nodes
            quantizedNodes.append(node.displayName)
        }
        guard !quantizedNodes.isEmpty else {
            let reasons = skipped.map { "\($0.node): \($0.reason)" }.joined(separator: "; ")
            throw EdgeError.unsupported("the model has no MatMul, Gemm, Conv, LSTM, GRU or RNN with constant float weights to quantize dynamically" + (reasons.isEmpty ? "" : " (\(reasons))"))
        }
        var nodes: [Node] = []
        for (i, node) in g.nodes.enumerated() { nodes.append(contentsOf: rewritten[i] ?? [node]) }
        g.nodes = nodes
        try g.removeUnread(opsetImports: context.opsetImports)
        var result = working
        result.graph = g
        result.opsetImports = context.opsetImports
        let summary = DynamicQuantizationSummary(
            perChannel: options.perChannel, opsetBefore: opsetBefore, opsetAfter: Int(result.onnxOpsetVersion ?? 1),
            quantizedNodes: quantizedNodes, skipped: skipped,
            weightBytesBefore: StaticQuantizer.weightBytes(model.graph), weightBytesAfter: StaticQuantizer.weightBytes(result.graph),
            totalSeconds: Date().timeIntervalSince(start))
        return (result, summary)
    }

    /// Conv(X, W, B) → ConvInteger(X_q, W_q, z_x) ─ Cast(float) ─ Mul(s_x · s_w) ─ Add(B), with
    /// W_q int8 per output channel (symmetric, zero point 0 omitted) and s_w, B shaped [M, 1, …] so
    /// they broadcast over the spatial axes. ConvInteger pads X_q with z_x, i.e. with float zero.
    static func convInteger(_ node: Node, weight w: Tensor, weightName: String, bias: Tensor?, xq: String, xs: String, xz: String,
                            perChannel: Bool, graph g: inout Graph, context: PassContext) throws -> [Node] {
        let m = w.shape[0]
        let quantized = try QuantizedWeight(w, axis: perChannel ? 0 : nil)
        let broadcast = [m] + [Int](repeating: 1, count: w.rank - 2)
        let scales = quantized.scales.count == 1 ? [Float](repeating: quantized.scales[0], count: m) : quantized.scales
        let wq = g.addInitializer(quantized.values, base: weightName + "_quantized", context: context)
        let ws = g.addInitializer(Tensor(shape: broadcast, scalars: scales), base: weightName + "_scale", context: context)
        let base = node.name.isEmpty ? node.outputs[0] : node.name
        let integer = context.freshName(base + "_int32"), float = context.freshName(base + "_float")
        let scale = context.freshName(base + "_output_scale"), y = node.outputs[0]
        let scaled = bias == nil ? y : context.freshName(base + "_scaled")
        let convAttributes = node.attributes.filter { ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"].contains($0.name) }
        var nodes = [
            Node(name: context.freshName(base + "_ConvInteger"), opType: "ConvInteger", inputs: [xq, wq, xz], outputs: [integer], attributes: convAttributes),
            Node(name: context.freshName(base + "_Cast"), opType: "Cast", inputs: [integer], outputs: [float],
                 attributes: [Attribute("to", .int(Int64(DType.float.rawValue)))]),
            Node(name: context.freshName(base + "_scale_Mul"), opType: "Mul", inputs: [xs, ws], outputs: [scale]),
            Node(name: context.freshName(base + "_Mul"), opType: "Mul", inputs: [float, scale], outputs: [scaled]),
        ]
        if let bias {
            let b = g.addInitializer(Tensor(shape: broadcast, scalars: bias.scalars(as: Float.self)), base: (node.input(2) ?? base) + "_broadcast", context: context)
            nodes.append(Node(name: context.freshName(base + "_bias_Add"), opType: "Add", inputs: [scaled, b], outputs: [y]))
        }
        return nodes
    }

    /// int8 [K, N] with one symmetric scale per column n (or one for the tensor): s = max|w| / 127,
    /// q = clamp(roundHalfEven(w / s), −127, 127); an all-zero column gets s = 1.
    static func quantizeColumns(_ w: Tensor, perChannel: Bool) -> (Tensor, [Float]) {
        let (k, n) = (w.shape[0], w.shape[1])
        let v: [Float] = w.scalars()
        var peak = [Float](repeating: 0, count: perChannel ? n : 1)
        for r in 0..<k { for c in 0..<n where v[r * n + c].isFinite {
            let p = perChannel ? c : 0
            peak[p] = Swift.max(peak[p], abs(v[r * n + c]))
        } }
        let scales = peak.map { $0 > 0 ? $0 / 127 : Float(1) }
        var q = [Int8](repeating: 0, count: k * n)
        for r in 0..<k { for c in 0..<n {
            let x = (v[r * n + c] / scales[perChannel ? c : 0]).rounded(.toNearestOrEven)
            q[r * n + c] = Int8(Swift.min(Swift.max(x.isNaN ? 0 : x, -127), 127))
        } }
        return (Tensor(shape: [k, n], scalars: q), perChannel ? scales : [Float](repeating: scales[0], count: n))
    }
}
