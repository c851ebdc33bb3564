import EdgeIR
import EdgeTransforms

/// Rewrites a float graph into QDQ form from a plan and calibrated activation parameters.
///
/// Activation T (produced by node P):
///     Before:  P ─ T ─ consumers
///     After:   P ─ T_float ─ QuantizeLinear ─ T_quantized ─ DequantizeLinear ─ T ─ consumers
/// The producer's output is renamed so that T keeps its name (graph outputs keep their names, and
/// `edgeopt validate` can compare each quantized tensor with the float model's tensor of the same
/// name). A graph input X keeps its name; its consumers read X_dequantized instead.
///
/// Weight W of node N (initializer or Constant node; per channel along `axis` or per tensor):
///     After:   W_quantized (int8) ─ DequantizeLinear(W_scale, W_zero_point = 0, axis) ─ N
/// One int8 copy per (weight, axis); the float weight is dropped when nothing else reads it.
///
/// Bias b of Conv/Gemm with quantized input x (scale s_x) and weight (scales s_w[c]):
///     b_quantized = roundHalfEven(b[c] / (s_x · s_w[c])) as int32, DequantizeLinear with scale
///     s_x · s_w[c] and the zero point omitted (0) — ONNX Runtime's form, which both its QDQ fusion and
///     edgeopt's `QDQLowering` take as the integer bias.
enum QDQInsertion {
    struct Outcome {
        var graph: Graph
        var quantizedWeights: Int
        var quantizedBiases: Int
    }

    static func apply(_ graph: Graph, plan: QuantizationPlan, parameters: [String: ActivationQuantization], context: PassContext) throws -> Outcome {
        var g = graph
        var constants: [String: Tensor] = [:]
        for (name, t) in g.initializers { constants[name] = t }
        for node in g.nodes { if let v = node.constantValue, let out = node.outputs.first { constants[out] = v } }
        let graphInputs = Set(g.inputs.map(\.name))

        var prefix: [Node] = []
        var after: [Int: [Node]] = [:]
        func addInitializer(_ t: Tensor, _ base: String) -> String {
            let name = context.freshName(base)
            g.initializers[name] = t
            return name
        }

        // Weights.
        var weightCache: [String: (dq: String, q: QuantizedWeight)] = [:]
        var weightOf: [Int: QuantizedWeight] = [:]  // node index → its quantized weight
        for use in plan.weights {
            let name = g.nodes[use.node].inputs[use.input]
            let key = "\(name)|\(use.axis.map(String.init) ?? "tensor")"
            if weightCache[key] == nil {
                guard let w = constants[name] else { continue }
                let q: QuantizedWeight
                do { q = try QuantizedWeight(w, axis: use.axis) } catch let e as EdgeError {
                    throw EdgeError(e.kind, "weight '\(name)' of node '\(g.nodes[use.node].name)': \(e.message)")
                }
                let qName = addInitializer(q.values, name + "_quantized")
                let sName = addInitializer(q.scaleTensor, name + "_scale")
                let zName = addInitializer(q.zeroPointTensor, name + "_zero_point")
                let dq = context.freshName(name + "_dequantized")
                var attributes: [Attribute] = []
                if let axis = use.axis { attributes.append(Attribute("axis", .int(Int64(axis)))) }
                prefix.append(Node(name: context.freshName(name + "_DequantizeLinear"), opType: "DequantizeLinear",
                                   inputs: [qName, sName, zName], outputs: [dq], attributes: attributes))
                weightCache[key] = (dq, q)
            }
            g.nodes[use.node].inputs[use.input] = weightCache[key]!.dq
            weightOf[use.node] = weightCache[key]!.q
        }

        // Biases.
        var biases = 0
        for use in plan.biases {
            let node = g.nodes[use.node]
            guard let x = parameters[use.activation], let w = weightOf[use.node],
                  let b = constants[node.inputs[use.input]], b.dtype == .float, b.rank == 1 else { continue }
            if node.opType == "Gemm" {
                let alpha = node.float("alpha") ?? 1
                let beta = node.float("beta") ?? 1
                guard alpha == 1, beta == 1 else { continue }
            }
            let values: [Float] = b.scalars()
            guard w.scales.count == 1 || w.scales.count == values.count else { continue }
            let scales = (0..<values.count).map { x.scale * w.scales[w.scales.count == 1 ? 0 : $0] }
            let q = zip(values, scales).map { v, s -> Int32 in
                let r = Double(v / s).rounded(.toNearestOrEven)
                return Int32(Swift.min(Swift.max(r.isFinite ? r : 0, Double(Int32.min)), Double(Int32.max)))
            }
            let base = node.inputs[use.input]
            let qName = addInitializer(Tensor(shape: [values.count], scalars: q), base + "_quantized")
            let sName = addInitializer(Tensor(shape: [values.count], scalars: scales), base + "_scale")
            let dq = context.freshName(base + "_dequantized")
            prefix.append(Node(name: context.freshName(base + "_DequantizeLinear"), opType: "DequantizeLinear",
                               inputs: [qName, sName], outputs: [dq], attributes: [Attribute("axis", .int(0))]))
            g.nodes[use.node].inputs[use.input] = dq
            biases += 1
        }

        // Activations.
        let producers = g.producerIndex()
        for name in plan.activations {
            guard let p = parameters[name] else { continue }
            let scale = addInitializer(p.scaleTensor, name + "_scale")
            let zero = addInitializer(p.zeroPointTensor, name + "_zero_point")
            let quantized = context.freshName(name + "_quantized")
            if graphInputs.contains(name) || producers[name] == nil {
                let dq = context.freshName(name + "_dequantized")
                for i in g.nodes.indices {
                    for k in g.nodes[i].inputs.indices where g.nodes[i].inputs[k] == name { g.nodes[i].inputs[k] = dq }
                }
                prefix.append(Node(name: context.freshName(name + "_QuantizeLinear"), opType: "QuantizeLinear",
                                   inputs: [name, scale, zero], outputs: [quantized]))
                prefix.append(Node(name: context.freshName(name + "_DequantizeLinear"), opType: "DequantizeLinear",
                                   inputs: [quantized, scale, zero], outputs: [dq]))
            } else {
                let producer = producers[name]!
                let float = context.freshName(name + "_float")
                for k in g.nodes[producer].outputs.indices where g.nodes[producer].outputs[k] == name {
                    g.nodes[producer].outputs[k] = float
                }
                after[producer, default: []].append(Node(name: context.freshName(name + "_QuantizeLinear"), opType: "QuantizeLinear",
                                                         inputs: [float, scale, zero], outputs: [quantized]))
                after[producer, default: []].append(Node(name: context.freshName(name + "_DequantizeLinear"), opType: "DequantizeLinear",
                                                         inputs: [quantized, scale, zero], outputs: [name]))
            }
        }

        var nodes = prefix
        for (i, node) in g.nodes.enumerated() {
            nodes.append(node)
            nodes.append(contentsOf: after[i] ?? [])
        }
        g.nodes = nodes
        // Float weights (initializers or Constant nodes) no longer read by anything go away.
        try g.removeUnread(opsetImports: context.opsetImports)
        return Outcome(graph: g, quantizedWeights: weightCache.count, quantizedBiases: biases)
    }
}
