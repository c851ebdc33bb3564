import EdgeIR

/// Recognizes the decomposed layer normalization of exporters as LayerNormalization (opset ≥ 17).
///
///     Before:  x ─► ReduceMean(axes) ─► μ
///              x, μ ─► Sub ─► d ─► Pow(2) ─► ReduceMean(axes) ─► Add(ε) ─► Sqrt ─► s
///              d, s ─► Div ─► n ─► Mul(γ) ─► Add(β) ─► y          (Mul/Add optional)
///     After:   x ─► LayerNormalization(γ, β, axis, epsilon=ε) ─► y
///
/// LayerNormalization computes (x − E[x])/√(Var[x] + ε)·γ + β over the trailing axes from `axis`,
/// with Var the biased (population) variance E[(x − E[x])²] — exactly the decomposition. Both
/// ReduceMeans must reduce the same trailing axes (keepdims=1), ε must be a scalar constant, γ and
/// β constants of the normalized shape (missing ones become 1 and 0). Intermediates must feed only
/// the pattern (d feeds Pow and Div).
public struct FuseLayerNorm: GraphPass {
    public static let name = "fuse-layernorm"
    public static let summary = "recognize ReduceMean-Sub-Pow-ReduceMean-Add-Sqrt-Div(-Mul-Add) as LayerNormalization (opset 17+)"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        guard context.opset >= 17 else { return .unchanged }
        var types: [String: TensorType]?
        var rewrites = 0
        var changed = true
        while changed {
            changed = false
            let index = GraphIndex(graph)
            for (i, node) in graph.nodes.enumerated() where node.isOp("Div") {
                if types == nil { types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:] }
                guard let m = match(div: i, graph: graph, index: index, types: types!, opset: context.opset) else { continue }
                var inputs = [m.x]
                let normalized = m.normalizedShape
                inputs.append(m.gamma ?? graph.addInitializer(Tensor(shape: normalized, scalars: [Float](repeating: 1, count: normalized.reduce(1, *))),
                                                              base: "layernorm_gamma", context: context))
                inputs.append(m.beta ?? graph.addInitializer(Tensor(shape: normalized, scalars: [Float](repeating: 0, count: normalized.reduce(1, *))),
                                                             base: "layernorm_beta", context: context))
                let ln = Node(name: context.freshName("layernorm"), opType: "LayerNormalization", inputs: inputs, outputs: [m.output],
                              attributes: [Attribute("axis", .int(Int64(m.axis))), Attribute("epsilon", .float(Float(m.epsilon)))])
                let last = m.nodes.max()!
                graph.nodes[last] = ln
                graph.removeNodes(Set(m.nodes).subtracting([last]))
                rewrites += 1
                changed = true
                types = nil
                break
            }
        }
        return PassResult(rewrites: rewrites)
    }

    struct Match {
        var x: String, output: String, axis: Int, epsilon: Double
        var gamma: String?, beta: String?, normalizedShape: [Int], nodes: [Int]
    }

    /// Axes a ReduceMean reduces (attribute before opset 18, input after), keepdims required.
    func axes(_ node: Node, index: GraphIndex, opset: Int) -> [Int64]? {
        guard node.int("keepdims") ?? 1 == 1 else { return nil }
        if let a = node.ints("axes") { return a }
        if let name = node.input(1) { return index.constant(name)?.int64Values() }
        return nil
    }

    func match(div: Int, graph: Graph, index: GraphIndex, types: [String: TensorType], opset: Int) -> Match? {
        let divNode = graph.nodes[div]
        guard divNode.inputs.count == 2 else { return nil }
        let d = divNode.inputs[0], s = divNode.inputs[1]
        guard let (sqrtI, sqrt) = FuseGelu.single(s, "Sqrt", graph, index), let ve = sqrt.input(0),
              let (addI, addEps) = FuseGelu.single(ve, "Add", graph, index), let (v, eps) = FuseGelu.scalarOperand(addEps, index),
              let (rm2I, rm2) = FuseGelu.single(v, "ReduceMean", graph, index), let p = rm2.input(0),
              let (powI, pow) = FuseGelu.single(p, "Pow", graph, index), pow.input(0) == d,
              let two = pow.input(1).flatMap({ index.scalarConstant($0) }), two == 2,
              let subI = index.producerIndex(of: d), graph.nodes[subI].isOp("Sub"),
              index.useCount(d) == 2, !index.graphOutputs.contains(d) else { return nil }
        let sub = graph.nodes[subI]
        guard sub.inputs.count == 2 else { return nil }
        let x = sub.inputs[0], mu = sub.inputs[1]
        guard let (rm1I, rm1) = FuseGelu.single(mu, "ReduceMean", graph, index), rm1.input(0) == x,
              let axes1 = axes(rm1, index: index, opset: opset), let axes2 = axes(rm2, index: index, opset: opset),
              let rank = types[x]?.shape?.count else { return nil }
        let norm = { (a: [Int64]) in Set(a.map { $0 < 0 ? Int($0) + rank : Int($0) }) }
        let reduced = norm(axes1)
        guard reduced == norm(axes2), let first = reduced.min(), reduced == Set(first..<rank) else { return nil }
        guard let xShape = types[x]?.shape else { return nil }
        let normalizedDims = xShape[first...].map(\.value)
        guard !normalizedDims.contains(nil) else { return nil }
        let normalizedShape = normalizedDims.map { $0! }
        var nodes = [rm1I, subI, powI, rm2I, addI, sqrtI, div]
        var output = divNode.outputs[0]
        var gamma: String?, beta: String?
        // Optional affine tail: Mul(γ) then Add(β), constants broadcasting only over the normalized axes.
        func affine(_ op: String) -> (Int, String)? {
            guard let (ci, c) = FuseGelu.consumer(output, graph, index), c.isOp(op), c.inputs.count == 2 else { return nil }
            let other = c.inputs[0] == output ? c.inputs[1] : c.inputs[0]
            guard let t = index.constant(other), t.dtype == .float, t.shape == normalizedShape else { return nil }
            return (ci, other)
        }
        if let (mi, g) = affine("Mul") {
            nodes.append(mi)
            gamma = g
            output = graph.nodes[mi].outputs[0]
        }
        if let (ai, b) = affine("Add") {
            nodes.append(ai)
            beta = b
            output = graph.nodes[ai].outputs[0]
        }
        return Match(x: x, output: output, axis: first, epsilon: eps, gamma: gamma, beta: beta,
                     normalizedShape: normalizedShape, nodes: nodes)
    }
}
