import EdgeIR
import Foundation

/// Executes QDQ graphs in integer arithmetic, as ONNX Runtime's QDQ fusion and an integer
/// accelerator do. Run by `Session` on its private copy of the model when
/// `SessionOptions.integerQDQ` is on (the default); the caller's model is never changed.
///
/// Before:
///   x_q ─DQ─┐
///   w_q ─DQ─┼─ Conv | MatMul | Gemm ─[Relu | Clip]─ Q ─ y_q   (also ai.edgeopt::FusedConv/FusedGemm
///           │                                                 with a Relu/Clip activation)
///   b   ────┘   (b: DQ(int32) or a float constant; optional)
/// After:
///   x_q, x_scale, x_zp, w_q, w_scale, w_zp, y_scale, y_zp, b_q ─ ai.edgeopt::QLinearConv | QLinearGemm ─ y_q
///
/// Maths: Σ (x−zx)·sx·(w−zw)·sw + b = sx·sw·(Σ (x−zx)(w−zw) + b/(sx·sw)), so
///   y_q = clamp(roundHalfEven(Float(acc + b_q) · (sx·sw/sy)) + zy)
/// with acc the exact int32 accumulation and b_q the int32 bias:
///   - a bias already given as DQ(int32, scale sx·sw, zero point 0) — what onnxruntime's
///     `quantize_static` writes — is used as is, as ONNX Runtime's fusion does;
///   - a float bias (or a DQ bias with another scale) is quantized here as
///     b_q = roundHalfEven(b / (sx·sw)) in float32, saturated to int32 — the tool's own formula.
/// A Relu or Clip between the op and Q becomes a clamp of the quantized output
/// (Q is monotone, so Q(clip(y, lo, hi)) = clamp(Q(y), Q(lo), Q(hi)); Q(0) = zy for Relu).
///
/// Conditions (else the nodes run as written, in float): x's DQ and the Q are per tensor with
/// constant float32 scales and constant 8-bit zero points; w is a constant 8-bit tensor (for
/// MatMul also a run-time 8-bit tensor with a per-tensor scale and constant zero point) with a
/// constant per-tensor or per-output-channel scale (Conv axis 0, Gemm axis 0 with transB = 1 or
/// axis 1 without, MatMul axis 1 of a 2-D weight), no block_size; Gemm has alpha = beta = 1 and
/// transA = 0; the float result and the activation output feed only that Q and are not graph outputs.
///
/// Add, Mul and GlobalAveragePool between DQ and Q are lowered by `QDQPoolBinaryLowering` to the
/// com.microsoft integer operators ONNX Runtime fuses them into, with ONNX Runtime's arithmetic;
/// a DQ → GlobalAveragePool whose result stays float becomes ai.edgeopt DequantizeGlobalAveragePool
/// (ONNX Runtime's summation order). Everything else (AveragePool, MaxPool, Concat, Reshape,
/// Transpose, Flatten, …): DQ → op → Q stays in float. For data-movement ops and MaxPool with equal
/// input/output quantization this is bit-exact (DQ then Q of an integer q gives back q, since
/// (q−z)·s/s is within one ulp of q−z).
public enum QDQLowering {
    /// Domain of the fused integer operators (see `QLinearOperators`).
    public static let domain = "ai.edgeopt"

    public struct Result: Sendable {
        public var model: Model
        /// Conv/MatMul/Gemm nodes now executed as integer kernels.
        public var loweredNodes: Int
    }

    /// Lowers every pattern the engine executes in integers (see the type's comment and
    /// `QDQPoolBinaryLowering`). `floatFusions: false` leaves DQ → GlobalAveragePool with a float
    /// result as written (QOperator output keeps such nodes standard; a session lowers them).
    ///
    /// `onnxRuntimeClamps` (the default, what a session uses): a Relu/Clip between the op and Q is
    /// folded only where ONNX Runtime removes it too (ReluQuantFusion/ClipQuantFusion: the clip
    /// bounds contain the whole quantized range, min ≤ (qmin − z)·s and max ≥ (qmax − z)·s, e.g.
    /// Relu with z = qmin). Otherwise ONNX Runtime cannot fuse the op and runs Conv+Clip in float
    /// before Q, so the engine leaves the nodes in float too (measured on MobileNetV2 with
    /// `--scheme symmetric`: ONNX Runtime fuses only the 12 Convs without a ReLU6). The QOperator
    /// conversion passes false: it folds every clamp and keeps the non-trivial ones as DQ→Clip→Q.
    public static func lower(_ model: Model, floatFusions: Bool = true, onnxRuntimeClamps: Bool = true) -> Result {
        let compute = lowerCompute(model, onnxRuntimeClamps: onnxRuntimeClamps)
        let rest = QDQPoolBinaryLowering.lower(compute.model, floatFusions: floatFusions)
        return Result(model: rest.model, loweredNodes: compute.loweredNodes + rest.loweredNodes)
    }

    static func lowerCompute(_ model: Model, onnxRuntimeClamps: Bool) -> Result {
        var graph = model.graph
        var constants: [String: Tensor] = [:]
        for (name, t) in graph.initializers { constants[name] = t }
        for node in graph.nodes {
            if let v = node.constantValue, let out = node.outputs.first { constants[out] = v }
        }
        let producers = graph.producerIndex()
        let consumers = graph.consumerIndices()
        let graphOutputs = Set(graph.outputs.map(\.name))
        var remove = Set<Int>()
        var replacements: [Int: Node] = [:]
        var newInitializers: [(String, Tensor)] = []
        var usedNames = Set(graph.initializers.keys)
        for node in graph.nodes { usedNames.formUnion(node.outputs) }
        func freshName(_ base: String) -> String {
            var name = base, k = 1
            while usedNames.contains(name) { name = "\(base)_\(k)"; k += 1 }
            usedNames.insert(name)
            return name
        }

        func standard(_ index: Int?, _ op: String) -> Node? {
            guard let index, graph.nodes[index].opType == op, graph.nodes[index].isStandardDomain,
                  !remove.contains(index) else { return nil }
            return graph.nodes[index]
        }
        /// The single consumer of `value` (nil when it has several, none, or is a graph output).
        func soleConsumer(_ value: String) -> Int? {
            guard !graphOutputs.contains(value), let list = consumers[value], list.count == 1 else { return nil }
            return list[0]
        }
        func constant(_ node: Node, _ index: Int) -> Tensor? {
            node.input(index).flatMap { constants[$0] }
        }
        func scalarScale(_ t: Tensor?) -> Float? {
            guard let t, t.dtype == .float, t.elementCount == 1 else { return nil }
            return t.scalars(as: Float.self)[0]
        }
        func zeroPoint(_ node: Node, _ index: Int) -> Tensor? {
            guard let z = constant(node, index), z.elementCount == 1, z.dtype == .uint8 || z.dtype == .int8 else { return nil }
            return z
        }

        for (i, node) in graph.nodes.enumerated() {
            // The op, and the clip bounds of an activation already fused into it by EdgeTransforms.
            var clipBounds: (Float?, Float?) = (nil, nil)
            let baseOp: String
            if node.isStandardDomain && ["Conv", "MatMul", "Gemm"].contains(node.opType) {
                baseOp = node.opType
            } else if node.domain == domain && (node.opType == "FusedConv" || node.opType == "FusedGemm") {
                baseOp = node.opType == "FusedConv" ? "Conv" : "Gemm"
                let params = node.floats("activation_params") ?? []
                switch node.string("activation") ?? "" {
                case "", "None": break
                case "Relu": clipBounds = (0, nil)
                case "Clip": clipBounds = (params.count > 0 ? params[0] : nil, params.count > 1 ? params[1] : nil)
                default: continue
                }
            } else {
                continue
            }
            guard let out = node.outputs.first, node.outputs.count == 1,
                  let dqX = standard(producers[node.inputs.first ?? ""], "DequantizeLinear"),
                  let dqW = standard(node.input(1).flatMap { producers[$0] }, "DequantizeLinear"),
                  (dqX.int("block_size") ?? 0) == 0, (dqW.int("block_size") ?? 0) == 0,
                  let xScale = scalarScale(constant(dqX, 1)), let xZero = zeroPoint(dqX, 2),
                  let wScaleTensor = constant(dqW, 1), wScaleTensor.dtype == .float
            else { continue }
            // A constant weight; or, for MatMul, a second activation (attention's Q·Kᵀ, P·V) with a
            // per-tensor scale and a constant zero point that fixes its type.
            let wq = constant(dqW, 0)
            if let wq {
                guard wq.dtype == .int8 || wq.dtype == .uint8 else { continue }
            } else {
                guard baseOp == "MatMul", wScaleTensor.elementCount == 1, zeroPoint(dqW, 2) != nil else { continue }
            }
            let wType = wq?.dtype ?? constant(dqW, 2)!.dtype
            let wScales = wScaleTensor.scalars(as: Float.self)
            // Weight zero point: absent means 0 of the weight's type.
            var wZero: Tensor? = nil
            if dqW.input(2) != nil {
                guard let z = constant(dqW, 2), z.dtype == wType, z.elementCount == wScales.count else { continue }
                wZero = z
            }

            // Output channels and the per-channel axis the op requires.
            var transB = false
            let channels: Int
            let channelAxis: Int
            switch baseOp {
            case "Conv":
                guard let wq, wq.rank >= 3 else { continue }
                channels = wq.shape[0]; channelAxis = 0
            case "Gemm":
                guard let wq, wq.rank == 2, (node.int("transA") ?? 0) == 0, (node.float("alpha") ?? 1) == 1,
                      (node.float("beta") ?? 1) == 1 else { continue }
                transB = (node.int("transB") ?? 0) != 0
                channels = transB ? wq.shape[0] : wq.shape[1]; channelAxis = transB ? 0 : 1
            default:
                guard node.inputs.count == 2, wq == nil || wq!.rank == 2 else { continue }
                channels = wq?.shape[1] ?? 1; channelAxis = 1
            }
            if wScales.count != 1 {
                let axis = Int(dqW.int("axis") ?? 1)
                guard wScaleTensor.rank == 1, wScales.count == channels,
                      axis == channelAxis || axis + (wq?.rank ?? 2) == channelAxis else { continue }
            }

            // Optional Relu / Clip, then the QuantizeLinear.
            guard var next = soleConsumer(out) else { continue }
            var activationIndex: Int? = nil
            let act = graph.nodes[next]
            if act.isStandardDomain && (act.opType == "Relu" || act.opType == "Clip"), let actOut = act.outputs.first,
               let afterAct = soleConsumer(actOut) {
                // Two clamps in a row are one clamp to the intersection of their ranges.
                func narrow(_ lo: Float?, _ hi: Float?) {
                    if let lo { clipBounds.0 = max(clipBounds.0 ?? lo, lo) }
                    if let hi { clipBounds.1 = min(clipBounds.1 ?? hi, hi) }
                }
                if act.opType == "Relu" {
                    narrow(0, nil)
                } else {
                    var lo = act.float("min"), hi = act.float("max")
                    if act.inputs.count > 1, act.input(1) != nil {
                        guard let t = scalarScale(constant(act, 1)) else { continue }
                        lo = t
                    }
                    if act.inputs.count > 2, act.input(2) != nil {
                        guard let t = scalarScale(constant(act, 2)) else { continue }
                        hi = t
                    }
                    narrow(lo, hi)
                }
                activationIndex = next
                next = afterAct
            }
            guard let q = standard(next, "QuantizeLinear"), (q.int("block_size") ?? 0) == 0,
                  let yScale = scalarScale(constant(q, 1)), yScale != 0, yScale.isFinite else { continue }
            let yZero: Tensor
            if q.input(2) != nil {
                guard let z = zeroPoint(q, 2) else { continue }
                yZero = z
            } else {
                guard (q.int("output_dtype") ?? 0) == 0 || q.int("output_dtype") == Int64(DType.uint8.rawValue) else { continue }
                yZero = Tensor.scalar(UInt8(0))
            }
            if let od = q.int("output_dtype"), od != 0, od != Int64(yZero.dtype.rawValue) { continue }
            if onnxRuntimeClamps, clipBounds.0 != nil || clipBounds.1 != nil {
                let z = Float(yZero.dtype == .int8 ? Int(yZero.scalars(as: Int8.self)[0]) : Int(yZero.scalars(as: UInt8.self)[0]))
                let (qmin, qmax): (Float, Float) = yZero.dtype == .int8 ? (-128, 127) : (0, 255)
                if let lo = clipBounds.0, lo > (qmin - z) * yScale { continue }
                if let hi = clipBounds.1, hi < (qmax - z) * yScale { continue }
            }

            // Bias → int32 with scale x_scale·w_scale.
            var biasName: String? = nil
            if baseOp != "MatMul", let b = node.input(2) {
                let accScales = (0..<channels).map { xScale * wScales[wScales.count == 1 ? 0 : $0] }
                var quantized: [Int32]
                if let dqB = standard(producers[b], "DequantizeLinear") {
                    guard let bq = constant(dqB, 0), bq.dtype == .int32, bq.elementCount == channels || bq.elementCount == 1,
                          let bs = constant(dqB, 1), bs.dtype == .float else { continue }
                    let bScales = bs.scalars(as: Float.self)
                    let bZeros = constant(dqB, 2).flatMap { $0.dtype == .int32 ? $0.scalars(as: Int32.self) : nil } ?? [0]
                    guard bScales.count == 1 || bScales.count == channels, bZeros.count == 1 || bZeros.count == channels else { continue }
                    let raw = bq.scalars(as: Int32.self)
                    quantized = []
                    for c in 0..<channels {
                        let v = raw[raw.count == 1 ? 0 : c], z = bZeros[bZeros.count == 1 ? 0 : c]
                        let s = bScales[bScales.count == 1 ? 0 : c]
                        if z == 0 && abs(s - accScales[c]) <= 1e-6 * abs(accScales[c]) {
                            quantized.append(v)
                        } else {
                            quantized.append(quantizeBias(Float(Double(v) - Double(z)) * s, accScales[c]))
                        }
                    }
                } else if let bf = constants[b], bf.dtype.isFloatingPoint, bf.elementCount == channels || bf.elementCount == 1 {
                    let values = bf.floatArray()
                    quantized = (0..<channels).map { quantizeBias(values[values.count == 1 ? 0 : $0], accScales[$0]) }
                } else {
                    continue
                }
                let name = freshName("\(out)_edgeopt_bias_int32")
                newInitializers.append((name, Tensor(shape: [channels], scalars: quantized)))
                biasName = name
            }

            // The weight as the integer kernel wants it ([K, N] for the matrix forms).
            var weightName = dqW.inputs[0]
            if transB, let wq {
                weightName = freshName("\(weightName)_edgeopt_transposed")
                newInitializers.append((weightName, transposed(wq)))
            }
            var inputs = [dqX.inputs[0], dqX.inputs[1], dqX.inputs[2], weightName, dqW.inputs[1],
                          wZero != nil ? dqW.inputs[2] : "", q.inputs[1]]
            if q.input(2) != nil {
                inputs.append(q.inputs[2])
            } else {
                let name = freshName("\(out)_edgeopt_output_zero_point")
                newInitializers.append((name, yZero))
                inputs.append(name)
            }
            inputs.append(biasName ?? "")
            while inputs.last == "" { inputs.removeLast() }

            var attributes: [Attribute] = baseOp == "Conv" ? node.attributes.filter { $0.name != "activation" && $0.name != "activation_params" } : []
            let signed = yZero.dtype == .int8
            let zy = Int64(signed ? Int(yZero.scalars(as: Int8.self)[0]) : Int(yZero.scalars(as: UInt8.self)[0]))
            func quantizeBound(_ v: Float) -> Int64 {
                let r = Double((v / yScale).rounded(.toNearestOrEven))
                let lo: Double = signed ? -128 : 0, hi: Double = signed ? 127 : 255
                return Int64(Swift.min(Swift.max(r + Double(zy), lo), hi))
            }
            if let lo = clipBounds.0 { attributes.append(Attribute("output_min", .int(quantizeBound(lo)))) }
            if let hi = clipBounds.1 { attributes.append(Attribute("output_max", .int(quantizeBound(hi)))) }

            replacements[i] = Node(name: node.name, opType: baseOp == "Conv" ? "QLinearConv" : "QLinearGemm",
                                   domain: domain, inputs: inputs, outputs: [q.outputs[0]], attributes: attributes)
            if let activationIndex { remove.insert(activationIndex) }
            remove.insert(next)
        }

        guard !replacements.isEmpty else { return Result(model: model, loweredNodes: 0) }
        var nodes: [Node] = []
        for (i, node) in graph.nodes.enumerated() where !remove.contains(i) {
            nodes.append(replacements[i] ?? node)
        }
        // DequantizeLinear nodes that now feed nothing (the fused ops' inputs) are dropped.
        var changed = true
        while changed {
            changed = false
            var used = graphOutputs
            for n in nodes { used.formUnion(n.inputs) }
            for n in nodes { for sub in n.subgraphs { used.formUnion(sub.outerScopeReferences()) } }
            let kept = nodes.filter { n in
                !(n.opType == "DequantizeLinear" && n.isStandardDomain && n.outputs.allSatisfy { !used.contains($0) })
            }
            if kept.count != nodes.count { nodes = kept; changed = true }
        }
        graph.nodes = nodes
        for (name, t) in newInitializers { graph.initializers[name] = t }
        var lowered = model
        lowered.graph = graph
        if !lowered.opsetImports.contains(where: { $0.domain == domain }) {
            lowered.opsetImports.append(OpsetImport(domain: domain, version: 1))
        }
        return Result(model: lowered, loweredNodes: replacements.count)
    }

    /// roundHalfEven(b / scale) in float32, saturated to int32 (onnxruntime's bias quantization).
    static func quantizeBias(_ b: Float, _ scale: Float) -> Int32 {
        guard scale != 0 else { return 0 }
        let q = (b / scale).rounded(.toNearestOrEven)
        if q.isNaN { return 0 }
        return Int32(Swift.min(Swift.max(Double(q), Double(Int32.min)), Double(Int32.max)))
    }

    /// A 2-D 8-bit tensor transposed.
    static func transposed(_ t: Tensor) -> Tensor {
        let r = t.shape[0], c = t.shape[1]
        let p = t.pointer(UInt8.self)
        var out = [UInt8](repeating: 0, count: r * c)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = p[i * c + j] } }
        var result = Tensor(shape: [c, r], scalars: out)
        result.dtype = t.dtype
        return result
    }
}
