import EdgeIR
import EdgeRuntime
import EdgeTransforms

/// Rewrites a QDQ model (from `QDQInsertion`) into QOperator form: integer operators that read and
/// write int8/uint8 tensors, with QuantizeLinear/DequantizeLinear left only where a quantized
/// region meets float (graph inputs and outputs, ops kept in float such as Add or
/// GlobalAveragePool in the default scheme).
///
/// 1. Dequantization moves below data-movement ops (`SharedScales`):
///        q ─ DQ(s, z) ─ MaxPool ─ T          →   q ─ MaxPool ─ T_q ─ DQ(s, z) ─ T
///    exact, since op((q − z)·s) = (op(q) − z)·s for these ops.
/// 2. A QuantizeLinear of a DequantizeLinear with the same (s, z) is the identity on integers
///    (Q(DQ(q)) = roundHalfEven((q − z)·s / s) + z = q, |q − z| ≤ 255 keeps the float error far
///    below ½), so the pair goes and readers of Q's output read q.
/// 3. DQ(x) · DQ(w) [+ DQ(b)] → Conv | MatMul | Gemm → [Relu | Clip] → Q becomes one integer op,
///    by the engine's own `QDQLowering` (so the quantized maths is the one the engine executes):
///      Conv                    → QLinearConv
///      MatMul, Gemm without C  → QLinearMatMul (weight as [K, N], per-column scales)
///      Gemm with C             → com.microsoft QGemm (int32 C, as ONNX Runtime's own QOperator output)
///    The Relu/Clip is folded into the output's saturation when it is a no-op there, i.e. when its
///    quantized bounds lie outside the type's range: Q is monotone, so
///    Q(clip(y, lo, hi)) = clamp(Q(y), Q(lo), Q(hi)), and clamp to [Q(lo), Q(hi)] ⊇ [qmin, qmax]
///    is what saturation already does. With the default scheme this always holds for Relu and
///    ReLU6: the calibrated range starts at 0, so z = qmin = Q(0), and ReLU6's observed maximum is
///    at most 6. Otherwise (e.g. Relu with symmetric int8, z = 0) the clamp is kept exactly as
///    DQ → Clip((lo_q − z)·s, (hi_q − z)·s) → Q after the integer op.
/// 4. Dequantizations nothing reads any more are dropped.
enum QOperatorConversion {
    struct Outcome {
        var model: Model
        /// Integer compute nodes written (QLinearConv, QLinearMatMul, QGemm).
        var integerNodes: Int
        /// Data-movement nodes now running on integers.
        var integerPassThrough: Int
        /// Clamps that could not be folded into an op's saturation.
        var keptClamps: Int
    }

    static func apply(_ model: Model) throws -> Outcome {
        var m = model
        let context = PassContext(model: model)
        var constants: [String: Tensor] = [:]
        for (name, t) in m.graph.initializers { constants[name] = t }
        for node in m.graph.nodes { if let v = node.constantValue, let out = node.outputs.first { constants[out] = v } }

        let moved = moveDequantizationBelowPassThrough(&m.graph, constants: constants, context: context)
        removeRequantizationIdentities(&m.graph, constants: constants)
        let lowered = QDQLowering.lower(m, floatFusions: false, onnxRuntimeClamps: false)
        m = lowered.model
        for (name, t) in m.graph.initializers { constants[name] = t }

        var nodes: [Node] = []
        var integerNodes = 0, keptClamps = 0, usesMicrosoft = false
        for node in m.graph.nodes {
            guard node.domain == QDQLowering.domain else { nodes.append(node); continue }
            var attributes = node.attributes.filter { $0.name != "output_min" && $0.name != "output_max" }
            var inputs = node.inputs
            let output = node.outputs[0]
            // The clamp QDQLowering folded in (a Relu or Clip), unless saturation already does it.
            let zeroPoint = constants[inputs[7]]!
            let signed = zeroPoint.dtype == .int8
            let (qmin, qmax): (Int64, Int64) = signed ? (-128, 127) : (0, 255)
            let lo = node.int("output_min") ?? qmin, hi = node.int("output_max") ?? qmax
            let needsClamp = lo > qmin || hi < qmax
            let integerOutput = needsClamp ? context.freshName(output + "_unclamped") : output
            switch node.opType {
            case "QLinearConv":
                nodes.append(Node(name: node.name, opType: "QLinearConv", inputs: inputs, outputs: [integerOutput], attributes: attributes))
            case "QLinearGemm":
                if inputs.count > 8 && !inputs[8].isEmpty {
                    // QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp), B as [K, N].
                    let bias = inputs[8]
                    inputs = Array(inputs[0..<6]) + [bias, inputs[6], inputs[7]]
                    if inputs[5].isEmpty { inputs[5] = zeroPointName(for: inputs[3], scale: inputs[4], &m.graph, constants: constants, context: context) }
                    attributes = [Attribute("transB", .int(0))]
                    nodes.append(Node(name: node.name, opType: "QGemm", domain: "com.microsoft", inputs: inputs,
                                      outputs: [integerOutput], attributes: attributes))
                    usesMicrosoft = true
                } else {
                    inputs = Array(inputs.prefix(8))
                    if inputs[5].isEmpty { inputs[5] = zeroPointName(for: inputs[3], scale: inputs[4], &m.graph, constants: constants, context: context) }
                    nodes.append(Node(name: node.name, opType: "QLinearMatMul", inputs: inputs, outputs: [integerOutput]))
                }
            default:
                throw EdgeError.internalError("QOperator conversion: unexpected \(node.domain)::\(node.opType) node '\(node.name)'")
            }
            integerNodes += 1
            if needsClamp {
                // DQ → Clip → Q with the output's own parameters: exact, see step 3.
                let scale = constants[node.inputs[6]]!.scalars(as: Float.self)[0]
                let z = Int64(signed ? Int(zeroPoint.scalars(as: Int8.self)[0]) : Int(zeroPoint.scalars(as: UInt8.self)[0]))
                let yScale = node.inputs[6], yZero = node.inputs[7]
                let float = context.freshName(output + "_float")
                let clipped = context.freshName(output + "_clipped")
                let loName = context.freshName(output + "_clip_min"), hiName = context.freshName(output + "_clip_max")
                m.graph.initializers[loName] = .scalar(Float(lo - z) * scale)
                m.graph.initializers[hiName] = .scalar(Float(hi - z) * scale)
                nodes.append(Node(name: context.freshName(output + "_DequantizeLinear"), opType: "DequantizeLinear",
                                  inputs: [integerOutput, yScale, yZero], outputs: [float]))
                nodes.append(Node(name: context.freshName(output + "_Clip"), opType: "Clip",
                                  inputs: [float, loName, hiName], outputs: [clipped]))
                nodes.append(Node(name: context.freshName(output + "_QuantizeLinear"), opType: "QuantizeLinear",
                                  inputs: [clipped, yScale, yZero], outputs: [output]))
                keptClamps += 1
            }
        }
        m.graph.nodes = nodes
        m.opsetImports.removeAll { $0.domain == QDQLowering.domain }
        if usesMicrosoft && !m.opsetImports.contains(where: { $0.domain == "com.microsoft" }) {
            m.opsetImports.append(OpsetImport(domain: "com.microsoft", version: 1))
        }
        try m.graph.removeUnread(opsetImports: m.opsetImports)
        return Outcome(model: m, integerNodes: integerNodes, integerPassThrough: moved, keptClamps: keptClamps)
    }

    /// Step 1. Returns how many data-movement nodes now read integers.
    static func moveDequantizationBelowPassThrough(_ graph: inout Graph, constants: [String: Tensor], context: PassContext) -> Int {
        var producer: [String: Node] = [:]
        var nodes: [Node] = []
        var moved = 0
        for node in graph.nodes {
            if SharedScales.isPassThrough(node), let x = node.inputs.first, let dq = producer[x],
               dq.opType == "DequantizeLinear", dq.isStandardDomain, constants[dq.inputs[0]] == nil,
               dq.inputs.count == 3, let s = constants[dq.inputs[1]], s.elementCount == 1,
               let z = constants[dq.inputs[2]], z.elementCount == 1 {
                let output = node.outputs[0]
                let quantized = context.freshName(output + "_quantized")
                var integer = node
                integer.inputs[0] = dq.inputs[0]
                integer.outputs = [quantized]
                let dequantize = Node(name: context.freshName(output + "_DequantizeLinear"), opType: "DequantizeLinear",
                                      inputs: [quantized, dq.inputs[1], dq.inputs[2]], outputs: [output])
                nodes.append(integer)
                nodes.append(dequantize)
                producer[quantized] = integer
                producer[output] = dequantize
                moved += 1
                continue
            }
            nodes.append(node)
            for o in node.outputs { producer[o] = node }
        }
        graph.nodes = nodes
        return moved
    }

    /// Step 2: Q(DQ(q, s, z), s, z) → q.
    static func removeRequantizationIdentities(_ graph: inout Graph, constants: [String: Tensor]) {
        let producers = graph.producerIndex()
        let graphOutputs = Set(graph.outputs.map(\.name))
        var rename: [String: String] = [:]
        var remove = Set<Int>()
        for (i, q) in graph.nodes.enumerated() where q.opType == "QuantizeLinear" && q.isStandardDomain && q.inputs.count == 3 {
            guard let p = producers[q.inputs[0]], case let dq = graph.nodes[p], dq.opType == "DequantizeLinear",
                  dq.isStandardDomain, dq.inputs.count == 3, !graphOutputs.contains(q.outputs[0]),
                  (q.int("axis") ?? 1) == (dq.int("axis") ?? 1),
                  let s1 = constants[dq.inputs[1]], let s2 = constants[q.inputs[1]], s1.elementCount == 1, s1 == s2,
                  let z1 = constants[dq.inputs[2]], let z2 = constants[q.inputs[2]], z1 == z2 else { continue }
            rename[q.outputs[0]] = dq.inputs[0]
            remove.insert(i)
        }
        guard !remove.isEmpty else { return }
        func resolve(_ name: String) -> String {
            var n = name
            while let r = rename[n] { n = r }
            return n
        }
        graph.nodes = graph.nodes.enumerated().filter { !remove.contains($0.offset) }.map { _, node in
            var n = node
            n.inputs = n.inputs.map { $0.isEmpty ? $0 : resolve($0) }
            return n
        }
    }

    /// A zero-point initializer of zeros shaped like a weight's scales (QLinearMatMul and QGemm
    /// need an explicit one, which also fixes the weight type).
    static func zeroPointName(for weight: String, scale: String, _ graph: inout Graph, constants: [String: Tensor], context: PassContext) -> String {
        let name = context.freshName(weight + "_zero_point")
        let dtype = constants[weight]?.dtype ?? .int8
        let count = constants[scale]?.elementCount ?? 1
        let shape = constants[scale]?.shape ?? []
        graph.initializers[name] = dtype == .uint8 ? Tensor(shape: shape, scalars: [UInt8](repeating: 0, count: count))
                                                   : Tensor(shape: shape, scalars: [Int8](repeating: 0, count: count))
        return name
    }
}
