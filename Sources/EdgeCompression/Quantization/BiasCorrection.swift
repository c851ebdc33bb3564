import EdgeIR
import EdgeRuntime

/// Empirical bias correction (Nagel et al. 2019, §4.2): int8 weights W_q = W + ε shift each output
/// channel's mean by E[ε·x], which rounding does not average away when inputs have a non-zero mean
/// (after ReLU they are all ≥ 0). Subtracting it from the bias restores the expected output:
///   b'[c] = b[c] − (E[W_q x] − E[W x])[c] = b[c] − E[(ε x)[c]].
///
/// The expectation is over calibration samples and, for Conv, over output positions. Both layers
/// are linear in x, so the expectation moves inside: with x̄ the per-position mean input over the
/// samples (streamed by `Calibrator`, one sample's size),
///   Conv:  E[(ε ∗ x)[c]] = mean over positions p of (ε ∗ x̄)[c, p]  — exact, padding included,
///          computed by running the engine on a one-node model Conv(x̄, ε) with the layer's
///          attributes;
///   Gemm:  E[(x εᵀ)[n]] = Σ_k ε[n, k]·x̄[k]  (εᵀ when transB = 0).
/// ε is the error of exactly the weight quantization `QDQInsertion` applies (`QuantizedWeight`),
/// and x is the float model's input to the layer (the brief's E[W_q x] − E[W x], same x).
enum BiasCorrection {
    struct Outcome {
        var graph: Graph
        var corrected: Int
        /// Largest |shift| applied to any bias, relative to that layer's max |b| (or absolute when b = 0).
        var largestShift: Float
    }

    static func apply(_ graph: Graph, plan: inout QuantizationPlan, means: [String: Tensor], opsetImports: [OpsetImport],
                      freshName: (String) -> String) throws -> Outcome {
        var store = GraphConstants(graph)
        var corrected = 0
        var largest: Float = 0
        for use in plan.weights where use.input == 1 {
            let node = store.graph.nodes[use.node]
            guard node.opType == "Conv" || node.opType == "Gemm", let mean = means[node.inputs[0]],
                  let w = store.tensor(node.inputs[1]), w.dtype == .float else { continue }
            if node.opType == "Gemm" {
                guard (node.int("transA") ?? 0) == 0, (node.float("alpha") ?? 1) == 1, (node.float("beta") ?? 1) == 1,
                      w.rank == 2, mean.elementCount == (node.int("transB") ?? 0 != 0 ? w.shape[1] : w.shape[0]) else { continue }
            }
            let q = try QuantizedWeight(w, axis: use.axis)
            let weights = w.scalars(as: Float.self), integers = q.values.scalars(as: Int8.self)
            let channels = use.axis.map { w.shape[$0] } ?? 1
            let inner = use.axis.map { w.shape[($0 + 1)...].reduce(1, *) } ?? weights.count
            var error = [Float](repeating: 0, count: weights.count)
            for i in weights.indices {
                let c = use.axis == nil ? 0 : (i / inner) % channels
                error[i] = Float(integers[i]) * q.scales[c] - weights[i]
            }
            let shift: [Float]
            if node.opType == "Conv" {
                shift = try convolutionMean(node, error: Tensor(shape: w.shape, scalars: error), input: mean, opsetImports: opsetImports)
            } else {
                let transB = (node.int("transB") ?? 0) != 0
                let x = mean.scalars(as: Float.self)
                let n = transB ? w.shape[0] : w.shape[1], k = transB ? w.shape[1] : w.shape[0]
                shift = (0..<n).map { col in
                    var s: Double = 0
                    for j in 0..<k { s += Double(error[transB ? col * k + j : j * n + col]) * Double(x[j]) }
                    return Float(s)
                }
            }
            // The bias: the layer's own (read by it alone), or a new one of zeros.
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                guard let b = store.privateFloats(node.inputs[2]), b.values.count == shift.count, b.shape.count == 1 else { continue }
                let peak = b.values.reduce(Float(0)) { max($0, abs($1)) }
                let moved = shift.reduce(Float(0)) { max($0, abs($1)) }
                largest = max(largest, peak > 0 ? moved / peak : moved)
                store.replace(node.inputs[2], shape: b.shape, values: zip(b.values, shift).map { $0 - $1 })
            } else {
                let name = freshName(node.outputs[0] + "_corrected_bias")
                store.add(name, shape: [shift.count], values: shift.map { -$0 })
                var edited = store.graph
                while edited.nodes[use.node].inputs.count < 2 { edited.nodes[use.node].inputs.append("") }
                edited.nodes[use.node].inputs.append(name)
                store = GraphConstants(edited)
                plan.biases.append(.init(node: use.node, input: 2, activation: node.inputs[0], weightInput: 1))
                largest = max(largest, shift.reduce(Float(0)) { max($0, abs($1)) })
            }
            corrected += 1
        }
        return Outcome(graph: store.graph, corrected: corrected, largestShift: largest)
    }

    /// Mean over output positions of Conv(x̄, ε) per output channel, by the engine.
    static func convolutionMean(_ node: Node, error: Tensor, input: Tensor, opsetImports: [OpsetImport]) throws -> [Float] {
        let conv = Node(name: "bias_correction", opType: "Conv", inputs: ["x", "epsilon"], outputs: ["y"], attributes: node.attributes)
        let graph = Graph(name: "bias_correction", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: input.shape))],
                          outputs: [ValueInfo(name: "y", type: nil)], initializers: ["epsilon": error], nodes: [conv])
        let model = Model(opsetImports: opsetImports.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }, graph: graph)
        let y = try Session(model: model, options: SessionOptions(threads: 1)).run(["x": input])["y"]!
        let channels = error.shape[0]
        let values = y.scalars(as: Float.self)
        let plane = values.count / channels
        return (0..<channels).map { c in
            var s: Double = 0
            for p in 0..<plane { s += Double(values[c * plane + p]) }
            return Float(s / Double(max(plane, 1)))
        }
    }
}
