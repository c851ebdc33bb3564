import EdgeIR

/// Lowers the non-compute QDQ patterns that ONNX Runtime fuses into integer contrib operators, so
/// that the engine computes what ONNX Runtime computes for the same QDQ graph:
///
///   DQ(a), DQ(b) → Add | Mul → Q           ⇒ com.microsoft QLinearAdd | QLinearMul
///   DQ(x) → GlobalAveragePool → Q          ⇒ com.microsoft QLinearGlobalAveragePool
///   DQ(x) → Softmax → Q                    ⇒ com.microsoft QLinearSoftmax
///   DQ(x) → GlobalAveragePool (float out)  ⇒ ai.edgeopt DequantizeGlobalAveragePool
///
/// (kernels and their exact arithmetic: `QLinearBinaryOperators`, `QLinearPoolOperators`,
/// `QLinearSoftmaxOperators`). QLinearSoftmax's exp table and integer division change codes by a step.
/// QLinearAdd's arithmetic equals the float DQ → Add → Q; QLinearMul and QLinearGlobalAveragePool
/// requantize differently from the float ops (by one step at ties), and ONNX Runtime's float
/// GlobalAveragePool after a DequantizeLinear sums in MLAS's four-lane order, not sequentially.
///
/// Conditions (ONNX Runtime's selectors, else the nodes stay as written): every DequantizeLinear
/// and the QuantizeLinear are per tensor with constant float32 scalar scales and constant 8-bit
/// scalar zero points, all of one type; the op's result feeds only that Q and is not a graph
/// output; GlobalAveragePool's input is at least 3-D (N×C×spatial).
enum QDQPoolBinaryLowering {
    static func lower(_ model: Model, floatFusions: Bool) -> QDQLowering.Result {
        var graph = model.graph
        var constants: [String: Tensor] = [:]
        for (name, t) in graph.initializers { constants[name] = t }
        for node in graph.nodes { if let v = node.constantValue, let out = node.outputs.first { constants[out] = v } }
        let producers = graph.producerIndex()
        let consumers = graph.consumerIndices()
        let graphOutputs = Set(graph.outputs.map(\.name))

        /// (quantized input, scale, zero point, type) of a per-tensor DequantizeLinear producing `value`.
        func dequantize(_ value: String) -> (String, String, String, DType)? {
            guard let p = producers[value], case let dq = graph.nodes[p], dq.opType == "DequantizeLinear", dq.isStandardDomain,
                  (dq.int("block_size") ?? 0) == 0, dq.inputs.count == 3,
                  let s = constants[dq.inputs[1]], s.dtype == .float, s.elementCount == 1,
                  let z = constants[dq.inputs[2]], z.elementCount == 1, z.dtype == .int8 || z.dtype == .uint8 else { return nil }
            return (dq.inputs[0], dq.inputs[1], dq.inputs[2], z.dtype)
        }
        /// The index, scale, zero point and type of the QuantizeLinear that alone reads `value`.
        func quantizer(of value: String) -> (Int, String, String, DType)? {
            guard !graphOutputs.contains(value), let users = consumers[value], users.count == 1,
                  case let q = graph.nodes[users[0]], q.opType == "QuantizeLinear", q.isStandardDomain,
                  (q.int("block_size") ?? 0) == 0, q.inputs.count == 3,
                  let s = constants[q.inputs[1]], s.dtype == .float, s.elementCount == 1,
                  let z = constants[q.inputs[2]], z.elementCount == 1, z.dtype == .int8 || z.dtype == .uint8 else { return nil }
            if let od = q.int("output_dtype"), od != 0, od != Int64(z.dtype.rawValue) { return nil }
            return (users[0], q.inputs[1], q.inputs[2], z.dtype)
        }

        var replacements: [Int: Node] = [:]
        var remove = Set<Int>()
        var usesMicrosoft = false, usesEdgeopt = false
        for (i, node) in graph.nodes.enumerated() where node.isStandardDomain && node.outputs.count == 1 {
            switch node.opType {
            case "Add", "Mul":
                guard node.inputs.count == 2, let a = dequantize(node.inputs[0]), let b = dequantize(node.inputs[1]),
                      let q = quantizer(of: node.outputs[0]), a.3 == b.3, b.3 == q.3 else { continue }
                replacements[i] = Node(name: node.name, opType: "QLinear" + node.opType, domain: "com.microsoft",
                                       inputs: [a.0, a.1, a.2, b.0, b.1, b.2, q.1, q.2], outputs: [graph.nodes[q.0].outputs[0]])
                remove.insert(q.0)
                usesMicrosoft = true
            case "Softmax":
                // ONNX Runtime's unary selector: one DQ in, one Q out, same 8-bit type. The contrib
                // op needs the Softmax opset (axis default and row extent differ before 13).
                guard let x = dequantize(node.inputs[0]), let q = quantizer(of: node.outputs[0]), q.3 == x.3 else { continue }
                var attributes = [Attribute("opset", .int(model.onnxOpsetVersion ?? 13))]
                if let axis = node.int("axis") { attributes.append(Attribute("axis", .int(axis))) }
                replacements[i] = Node(name: node.name, opType: "QLinearSoftmax", domain: "com.microsoft",
                                       inputs: [x.0, x.1, x.2, q.1, q.2], outputs: [graph.nodes[q.0].outputs[0]],
                                       attributes: attributes)
                remove.insert(q.0)
                usesMicrosoft = true
            case "GlobalAveragePool":
                guard let x = dequantize(node.inputs[0]) else { continue }
                if let q = quantizer(of: node.outputs[0]), q.3 == x.3 {
                    replacements[i] = Node(name: node.name, opType: "QLinearGlobalAveragePool", domain: "com.microsoft",
                                           inputs: [x.0, x.1, x.2, q.1, q.2], outputs: [graph.nodes[q.0].outputs[0]],
                                           attributes: [Attribute("channels_last", .int(0))])
                    remove.insert(q.0)
                    usesMicrosoft = true
                } else if floatFusions {
                    replacements[i] = Node(name: node.name, opType: "DequantizeGlobalAveragePool", domain: QDQLowering.domain,
                                           inputs: [x.0, x.1, x.2], outputs: node.outputs)
                    usesEdgeopt = true
                }
            default:
                continue
            }
        }
        guard !replacements.isEmpty else { return QDQLowering.Result(model: model, loweredNodes: 0) }
        var nodes: [Node] = []
        for (i, node) in graph.nodes.enumerated() where !remove.contains(i) { nodes.append(replacements[i] ?? node) }
        // DequantizeLinear nodes that now feed nothing are dropped.
        var used = graphOutputs
        for n in nodes { used.formUnion(n.inputs); for sub in n.subgraphs { used.formUnion(sub.outerScopeReferences()) } }
        graph.nodes = nodes.filter { n in !(n.opType == "DequantizeLinear" && n.isStandardDomain && n.outputs.allSatisfy { !used.contains($0) }) }
        var lowered = model
        lowered.graph = graph
        if usesMicrosoft && !lowered.opsetImports.contains(where: { $0.domain == "com.microsoft" }) {
            lowered.opsetImports.append(OpsetImport(domain: "com.microsoft", version: 1))
        }
        if usesEdgeopt && !lowered.opsetImports.contains(where: { $0.domain == QDQLowering.domain }) {
            lowered.opsetImports.append(OpsetImport(domain: QDQLowering.domain, version: 1))
        }
        return QDQLowering.Result(model: lowered, loweredNodes: replacements.count)
    }
}
