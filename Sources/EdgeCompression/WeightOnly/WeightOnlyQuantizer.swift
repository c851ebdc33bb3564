import EdgeIR
import EdgeKernels
import EdgeRuntime
import EdgeTransforms
import Foundation

public struct WeightOnlyOptions: Sendable {
    public enum Algorithm: String, Sendable, Codable, CaseIterable {
        /// Round to nearest, each block from its own range.
        case rtn
        /// GPTQ with a Hessian from calibration activations (MatMul and Gemm; Conv falls back to RTN).
        case gptq
    }

    public enum Format: String, Sendable, Codable, CaseIterable {
        /// Opset-21 DequantizeLinear (blocked, int4/uint4/int8/uint8 weights) feeding the float op.
        case dq
        /// ONNX Runtime's com.microsoft::MatMulNBits for MatMul (and plain Gemm) with 2-D weights;
        /// Conv (and Gemm it cannot express) stay in the `dq` form.
        case matmulnbits
    }

    public var bits: Int = 4
    /// Elements per block along the reduction axis. 32 by default: the finest block ONNX Runtime's
    /// own kernels are tuned for, and the most accurate of 32/64/128; larger blocks shrink the
    /// scales' share of the file (4 bytes per block) at some accuracy cost.
    public var blockSize: Int = 32
    public var symmetric: Bool = true
    public var algorithm: Algorithm = .rtn
    public var format: Format = .dq
    /// GPTQ damping λ = dampingFraction · mean(diag H).
    public var dampingFraction: Double = 0.01
    /// GPTQ: each layer's Hessian comes from inputs computed with the layers before it already
    /// quantized (the reference algorithm's order), so a layer also corrects the error its inputs
    /// carry. Off: every Hessian comes from the float model in one calibration pass.
    public var sequential: Bool = true
    /// GPTQ: process columns in decreasing order of H_ii ("act-order", static block scales).
    public var activationOrder: Bool = false
    /// Weights whose reduction axis is shorter than this stay float (their per-block scales would
    /// cost about as much as the bits saved, e.g. a first Conv over one input channel).
    public var minimumReductionLength: Int = 16
    /// Nodes (by name) left in float.
    public var excludedNodes: Set<String> = []
    public var threads: Int? = nil
    public var progress: (@Sendable (Int, Int) -> Void)?
    public init() {}

    public var grid: BlockGrid { BlockGrid(bits: bits, symmetric: symmetric) }
}

/// What a weight-only quantization did.
public struct WeightOnlySummary: Sendable, Codable, Equatable {
    public var bits: Int
    public var blockSize: Int
    public var symmetric: Bool
    public var algorithm: String
    public var format: String
    public var opsetBefore: Int
    public var opsetAfter: Int
    public var calibrationSamples: Int?
    /// GPTQ: calibration passes run (1 in parallel mode; up to one per layer sequentially).
    public var calibrationPasses: Int?
    /// GPTQ: Hessians from the already-quantized prefix, and act-order.
    public var sequential: Bool?
    public var activationOrder: Bool?
    /// Bytes of all initializer and Constant-node tensors before and after.
    public var weightBytesBefore: Int
    public var weightBytesAfter: Int
    /// Bytes of the quantized weights alone: float before; integers + scales + zero points after.
    public var quantizedBytesBefore: Int
    public var quantizedBytesAfter: Int
    public var calibrationSeconds: Double
    public var totalSeconds: Double
    public var layers: [Layer]
    public var skipped: [Skipped]

    public struct Layer: Sendable, Codable, Equatable {
        public var node: String
        public var opType: String
        public var weight: String
        public var shape: [Int]
        public var axis: Int
        public var algorithm: String
        public var format: String
        /// ‖(W − Ŵ)X‖² / ‖W X‖² on the calibration inputs (GPTQ only), for RTN and for GPTQ.
        public var rtnRelativeOutputError: Double?
        public var gptqRelativeOutputError: Double?
    }

    public struct Skipped: Sendable, Codable, Equatable {
        public var node: String
        public var reason: String
    }
}

/// Weight-only block-wise quantization (INT4 / INT8) of MatMul, Gemm and Conv weights — the library
/// entry point behind `edgeopt quantize --precision int4` and `--precision int8 --weight-only`.
///
/// Steps: (1) cleanup — identity/no-op/dead-code removal, constant folding, BatchNorm folding into
/// Conv (MatMul+Add is *not* fused into Gemm, so MatMuls stay eligible for MatMulNBits); (2) raise
/// the opset to 21 (blocked DequantizeLinear and int4 need it; IR ≥ 10) with `ConvertOpset`, unless
/// every weight goes to MatMulNBits; (3) plan the weights: a constant float weight of MatMul
/// (2-D, blocks along K = axis 0), Gemm (blocks along K: axis 0, or 1 with transB) or Conv
/// (blocks along input channels, axis 1); (4) GPTQ only: stream the calibration set through the
/// engine for each layer input's Hessian (`HessianCollector`); (5) quantize (`BlockQuantizedWeight`
/// RTN or `GPTQ`) and rewrite:
///
///     DQ form:           W_q (int4) ─ DequantizeLinear(W_scale [, W_zero_point], axis, block_size) ─ MatMul/Gemm/Conv
///     MatMulNBits form:  MatMul(A, W)  →  com.microsoft::MatMulNBits(A, B_packed, scales [, zero_points])
///                        Gemm(A, W, C) →  MatMulNBits(A, B_packed, scales, zero_points | "", "", C)   (transA = 0, alpha = beta = 1)
/// Activations stay float. Float weights nothing else reads are dropped.
public enum WeightOnlyQuantizer {
    public static let targetOpset = 21
    public static let microsoftDomain = "com.microsoft"

    static let cleanupPasses: [any GraphPass] = [
        EliminateIdentity(), FoldConstants(), EliminateNoOps(), EliminateDeadNodes(), FoldBatchNormIntoConv(),
    ]

    /// One weight to quantize.
    struct Target {
        var node: Int
        var weight: String
        var tensor: Tensor
        var axis: Int
        /// Activation read by the layer, with Gemm's transA, for GPTQ.
        var activation: HessianCollector.Request?
        var matMulNBits: Bool
        /// `tensor` is the transpose of the node's weight (Gemm transB going to MatMulNBits).
        var transposed = false
    }

    public static func quantize(_ model: Model, data: CalibrationDataSet?, options: WeightOnlyOptions) throws -> (model: Model, summary: WeightOnlySummary) {
        let start = Date()
        guard options.bits == 4 || options.bits == 8 else {
            throw EdgeError.unsupported("weight-only quantization to \(options.bits) bits (4 or 8 are supported)")
        }
        guard [16, 32, 64, 128, 256].contains(options.blockSize) else {
            throw EdgeError.unsupported("block size \(options.blockSize) (16, 32, 64, 128 or 256 are supported)")
        }
        if options.algorithm == .gptq, data == nil {
            throw EdgeError.badInput("GPTQ needs calibration data (--calib) for the layers' input Hessians")
        }
        let opsetBefore = Int(model.onnxOpsetVersion ?? 1)
        var working = model
        _ = try Pipeline(passes: cleanupPasses, maxIterations: 3, check: nil).run(&working)
        var (targets, skipped) = plan(working, options: options)
        guard !targets.isEmpty else {
            let reasons = skipped.map { "\($0.node): \($0.reason)" }.joined(separator: "; ")
            throw EdgeError.unsupported("the model has no MatMul, Gemm or Conv with a constant float weight to quantize" + (reasons.isEmpty ? "" : " (\(reasons))"))
        }
        let needsDQ = targets.contains { !$0.matMulNBits }
        if needsDQ, opsetBefore < targetOpset {
            _ = try Pipeline(passes: [ConvertOpset(target: targetOpset)], maxIterations: 1, check: nil).run(&working)
            guard Int(working.onnxOpsetVersion ?? 1) >= targetOpset else {
                throw EdgeError.unsupported("the model's opset \(opsetBefore) could not be raised to \(targetOpset), which blocked DequantizeLinear needs")
            }
            (targets, skipped) = plan(working, options: options)
        }
        if let v = working.onnxOpsetVersion {
            working.irVersion = max(working.irVersion, ConvertOpset.minimumIRVersion(opset: Int(v)))
        }

        // GPTQ: Hessians of the layers' inputs (see `HessianSchedule`).
        var schedule = options.algorithm == .gptq && data != nil
            ? HessianSchedule(model: working, targets: targets, options: options) : nil
        var calibrationSeconds = 0.0
        // GPTQ's trailing updates are SGEMMs; they share one pool of the requested threads.
        let pool = options.algorithm == .gptq ? ThreadPool(threads: options.threads ?? ThreadPool.defaultThreadCount) : nil
        let context = PassContext(model: working)
        var g = working.graph
        var prefix: [Node] = []
        var replaced: [Int: Node] = [:]
        var layers: [WeightOnlySummary.Layer] = []
        // One quantized copy per (weight, layout), however many layers read it.
        var dqCache: [String: String] = [:]
        var nbitsCache: [String: (inputs: [String], attributes: [Attribute])] = [:]
        var quantizedBefore = 0, quantizedAfter = 0
        var countedWeights = Set<String>()
        var usedNBits = false
        for target in targets {
            let node = g.nodes[target.node]
            let layout = BlockLayout(shape: target.tensor.shape, axis: target.axis, blockSize: options.blockSize)
            let w: [Float] = target.tensor.scalars()
            var quantized: BlockQuantizedWeight
            var layer = WeightOnlySummary.Layer(node: node.displayName, opType: node.opType, weight: target.weight, shape: target.tensor.shape,
                                                axis: target.axis, algorithm: WeightOnlyOptions.Algorithm.rtn.rawValue,
                                                format: target.matMulNBits ? WeightOnlyOptions.Format.matmulnbits.rawValue : WeightOnlyOptions.Format.dq.rawValue)
            let rtn = BlockQuantizedWeight.roundToNearest(w, layout: layout, grid: options.grid)
            quantized = rtn
            if let request = target.activation, let data, let h = try schedule?.hessian(for: request, data: data, seconds: &calibrationSeconds) {
                do {
                    quantized = try GPTQ.quantize(w, layout: layout, grid: options.grid, hessian: h, dampingFraction: options.dampingFraction,
                                                  activationOrder: options.activationOrder, pool: pool)
                } catch let e as EdgeError {
                    throw EdgeError(e.kind, "weight '\(target.weight)' of node '\(node.displayName)': \(e.message)")
                }
                let reference = GPTQ.outputSignal(w, layout: layout, hessian: h, pool: pool)
                if reference > 0 {
                    layer.rtnRelativeOutputError = GPTQ.outputError(w, rtn, hessian: h, pool: pool) / reference
                    layer.gptqRelativeOutputError = GPTQ.outputError(w, quantized, hessian: h, pool: pool) / reference
                }
                layer.algorithm = WeightOnlyOptions.Algorithm.gptq.rawValue
            }
            schedule?.quantized(target, as: quantized)
            layers.append(layer)
            if countedWeights.insert(target.weight).inserted {
                quantizedBefore += target.tensor.dtype.byteCount(elements: target.tensor.elementCount)
            }

            if target.matMulNBits {
                let base = target.weight
                let key = "\(base)|nbits|\(target.tensor.shape)"
                if nbitsCache[key] == nil {
                    let nbits = try MatMulNBitsWeight(quantized)
                    var names = [g.addInitializer(nbits.packed, base: base + "_Q\(options.bits)", context: context),
                                 g.addInitializer(nbits.scales, base: base + "_scales", context: context)]
                    quantizedAfter += nbits.packed.byteCount + nbits.scales.byteCount
                    if let z = nbits.zeroPoints {
                        names.append(g.addInitializer(z, base: base + "_zero_points", context: context))
                        quantizedAfter += z.byteCount
                    }
                    nbitsCache[key] = (names, nbits.attributes)
                }
                let (names, attributes) = nbitsCache[key]!
                var inputs = [node.inputs[0]] + names
                if node.opType == "Gemm", let bias = node.input(2) {
                    while inputs.count < 5 { inputs.append("") }
                    inputs.append(bias)
                }
                replaced[target.node] = Node(name: context.freshName(node.name.isEmpty ? base + "_MatMulNBits" : node.name + "_Q\(options.bits)"),
                                             opType: "MatMulNBits", domain: microsoftDomain, inputs: inputs, outputs: [node.outputs[0]],
                                             attributes: attributes)
                usedNBits = true
            } else {
                let key = "\(target.weight)|\(target.axis)"
                if dqCache[key] == nil {
                    let base = target.weight
                    let values = quantized.valuesTensor, scale = quantized.scaleTensor
                    var inputs = [g.addInitializer(values, base: base + "_quantized", context: context),
                                  g.addInitializer(scale, base: base + "_scale", context: context)]
                    quantizedAfter += values.byteCount + scale.byteCount
                    if let z = quantized.zeroPointTensor {
                        inputs.append(g.addInitializer(z, base: base + "_zero_point", context: context))
                        quantizedAfter += z.byteCount
                    }
                    let out = context.freshName(base + "_dequantized")
                    prefix.append(Node(name: context.freshName(base + "_DequantizeLinear"), opType: "DequantizeLinear",
                                       inputs: inputs, outputs: [out],
                                       attributes: [Attribute("axis", .int(Int64(target.axis))), Attribute("block_size", .int(Int64(options.blockSize)))]))
                    dqCache[key] = out
                }
                g.nodes[target.node].inputs[1] = dqCache[key]!
            }
        }
        var nodes = prefix
        for (i, node) in g.nodes.enumerated() { nodes.append(replaced[i] ?? node) }
        g.nodes = nodes
        if usedNBits { context.requireDomain(microsoftDomain, version: 1) }
        try g.removeUnread(opsetImports: context.opsetImports)
        var result = working
        result.graph = g
        result.opsetImports = context.opsetImports
        let summary = WeightOnlySummary(
            bits: options.bits, blockSize: options.blockSize, symmetric: options.symmetric,
            algorithm: options.algorithm.rawValue, format: options.format.rawValue,
            opsetBefore: opsetBefore, opsetAfter: Int(result.onnxOpsetVersion ?? 1),
            calibrationSamples: options.algorithm == .gptq ? data?.sampleCount : nil,
            calibrationPasses: schedule?.passes,
            sequential: schedule.map { _ in options.sequential }, activationOrder: schedule.map { _ in options.activationOrder },
            weightBytesBefore: StaticQuantizer.weightBytes(model.graph), weightBytesAfter: StaticQuantizer.weightBytes(result.graph),
            quantizedBytesBefore: quantizedBefore, quantizedBytesAfter: quantizedAfter,
            calibrationSeconds: calibrationSeconds, totalSeconds: Date().timeIntervalSince(start),
            layers: layers, skipped: skipped)
        return (result, summary)
    }

    /// The weights to quantize, in node order, and the candidates left alone with the reason.
    static func plan(_ model: Model, options: WeightOnlyOptions) -> ([Target], [WeightOnlySummary.Skipped]) {
        let g = model.graph
        var constants: [String: Tensor] = [:]
        for (name, t) in g.initializers { constants[name] = t }
        for node in g.nodes { if let v = node.constantValue, let out = node.outputs.first { constants[out] = v } }
        let runtimeInputs = Set(g.runtimeInputs.map(\.name))
        var targets: [Target] = []
        var skipped: [WeightOnlySummary.Skipped] = []
        for (index, node) in g.nodes.enumerated() where node.isStandardDomain && ["MatMul", "Gemm", "Conv"].contains(node.opType) {
            guard let name = node.input(1), !runtimeInputs.contains(name), let w = constants[name] else { continue }
            func skip(_ reason: String) { skipped.append(.init(node: node.displayName, reason: reason)) }
            if options.excludedNodes.contains(node.name) { skip("excluded"); continue }
            guard w.dtype == .float else { skip("weight '\(name)' is \(w.dtype), not float32"); continue }
            let axis: Int
            var request: HessianCollector.Request? = nil
            var nbits = false
            switch node.opType {
            case "MatMul":
                guard w.rank == 2 else { skip("weight '\(name)' has rank \(w.rank) (2-D weights are quantized)"); continue }
                axis = 0
                request = .init(tensor: node.inputs[0], transposed: false)
                nbits = options.format == .matmulnbits
            case "Gemm":
                guard w.rank == 2 else { skip("weight '\(name)' has rank \(w.rank)"); continue }
                let transA = (node.int("transA") ?? 0) != 0
                axis = (node.int("transB") ?? 0) != 0 ? 1 : 0
                request = .init(tensor: node.inputs[0], transposed: transA)
                // MatMulNBits computes A·B + bias: Gemm maps onto it when A is not transposed and
                // C (if any) is a constant [N] bias with alpha = beta = 1.
                if options.format == .matmulnbits, !transA, (node.float("alpha") ?? 1) == 1 {
                    let n = axis == 0 ? w.shape[1] : w.shape[0]
                    if let c = node.input(2) {
                        nbits = (node.float("beta") ?? 1) == 1 && constants[c].map { $0.rank == 1 && $0.shape[0] == n && $0.dtype == .float } == true
                    } else {
                        nbits = true
                    }
                    // MatMulNBits needs B as [K, N]: a transB weight is transposed first (below).
                }
            default:
                guard w.rank >= 3 else { skip("weight '\(name)' has rank \(w.rank)"); continue }
                // Blocks along input channels, one line per (output channel, kernel position).
                // GPTQ's Hessian would need the im2col inputs; Conv uses RTN (see Algorithm.gptq).
                axis = 1
            }
            let length = w.shape[axis]
            guard length >= options.minimumReductionLength else {
                skip("reduction axis of '\(name)' has \(length) elements (< \(options.minimumReductionLength)); its block scales would cost about what 4-bit saves")
                continue
            }
            var target = Target(node: index, weight: name, tensor: w, axis: axis, activation: node.opType == "Conv" ? nil : request, matMulNBits: nbits)
            if nbits, axis == 1 {
                // Gemm transB: W is [N, K]; MatMulNBits wants [K, N] blocked along K.
                target.tensor = transposed(w)
                target.axis = 0
                target.transposed = true
            }
            targets.append(target)
        }
        return (targets, skipped)
    }

    static func transposed(_ w: Tensor) -> Tensor {
        let (r, c) = (w.shape[0], w.shape[1])
        let v: [Float] = w.scalars()
        var t = [Float](repeating: 0, count: v.count)
        for i in 0..<r { for j in 0..<c { t[j * r + i] = v[i * c + j] } }
        return Tensor(shape: [c, r], scalars: t)
    }
}
