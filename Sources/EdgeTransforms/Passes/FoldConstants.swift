import EdgeIR

/// Replaces nodes whose inputs are all known before run time by the weights they compute.
///
///     Before:  W ─► Transpose ─► Wt ─► MatMul ◄─ x        After:  Wt (initializer) ─► MatMul ◄─ x
///              x ─► Shape ─► Gather(0) ─► Unsqueeze ─► Concat ─► Reshape
///                                                              After:  [1, 512] (initializer) ─► Reshape
///
/// Two sources of "known":
/// - weights (initializers, Constant nodes) and folded results: the node is run by the engine,
///   so the folded tensor is bit-for-bit what the runtime would compute;
/// - shapes fixed by the declared input shapes: shape inference's exact integer values
///   (`Shape → Gather → Concat` chains) replace the chain.
///
/// Growth guard (onnxsim #309: a model that grew 10×): a result is materialized only if its bytes
/// are at most max(`foldGrowthLimitBytes`, bytes of the stored weights it was computed from).
/// Larger results (a `ConstantOfShape` expanding 16 bytes into a 16 MB tensor) stay as nodes, but
/// their values are still known, so a consumer that reduces them back to weight size (e.g.
/// `Add(W, ConstantOfShape(...))`) is folded and the generator becomes dead.
public struct FoldConstants: GraphPass {
    public static let name = "fold-constants"
    public static let summary = "evaluate nodes whose inputs are all constant (including shape chains)"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = try foldWithEngine(&graph, context: context)
        rewrites += foldShapes(&graph, context: context)
        return PassResult(rewrites: rewrites)
    }

    func foldWithEngine(_ graph: inout Graph, context: PassContext) throws -> Int {
        let index = GraphIndex(graph)
        var known: [String: Tensor] = [:]
        for (name, t) in graph.initializers { known[name] = t }
        for node in graph.nodes { if let v = node.constantValue, let o = node.outputs.first { known[o] = v } }
        var materialized = Set<String>(known.keys)
        var removed = Set<Int>()
        var constantNodes: [Int: [Node]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            guard node.constantValue == nil, node.subgraphs.isEmpty, !node.outputs.allSatisfy(\.isEmpty),
                  !(node.isStandardDomain && NodeEvaluator.nondeterministic.contains(node.opType)),
                  !node.opType.hasPrefix("Sequence") else { continue }
            let inputs = node.inputs.filter { !$0.isEmpty }
            guard inputs.allSatisfy({ known[$0] != nil }) else { continue }
            guard let results = NodeEvaluator.evaluate(node, inputs: known, opsetImports: context.opsetImports) else { continue }
            var resultBytes = 0
            for (k, name) in node.outputs.enumerated() where !name.isEmpty {
                guard let t = results[k] else { continue }
                known[name] = t
                resultBytes += t.byteCount
            }
            let sourceBytes = Set(inputs).filter { materialized.contains($0) }.reduce(0) { $0 + (known[$1]?.byteCount ?? 0) }
            guard resultBytes <= max(context.foldGrowthLimitBytes, sourceBytes) else { continue }
            guard node.outputs.enumerated().allSatisfy({ $0.element.isEmpty || results[$0.offset] != nil }) else { continue }
            removed.insert(i)
            var replacements: [Node] = []
            for (k, name) in node.outputs.enumerated() where !name.isEmpty {
                materialized.insert(name)
                if index.graphOutputs.contains(name) {
                    // A graph output must be produced by a node: keep it as a Constant.
                    replacements.append(Node(name: context.freshName("\(name)_folded"), opType: "Constant",
                                             inputs: [], outputs: [name], attributes: [Attribute("value", .tensor(results[k]!))]))
                } else {
                    graph.initializers[name] = results[k]!
                }
            }
            if !replacements.isEmpty { constantNodes[i] = replacements }
        }
        guard !removed.isEmpty else { return 0 }
        var nodes: [Node] = []
        for (i, node) in graph.nodes.enumerated() {
            if removed.contains(i) { nodes.append(contentsOf: constantNodes[i] ?? []) } else { nodes.append(node) }
        }
        graph.nodes = nodes
        return removed.count
    }

    /// Integer values shape inference knows exactly (from declared input shapes) replace the nodes
    /// computing them.
    func foldShapes(_ graph: inout Graph, context: PassContext) -> Int {
        guard graph.nodes.contains(where: { $0.isOp("Shape", "Size") }),
              let result = try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports) else { return 0 }
        let index = GraphIndex(graph)
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() {
            guard node.constantValue == nil, node.subgraphs.isEmpty,
                  !(node.isStandardDomain && NodeEvaluator.nondeterministic.contains(node.opType)) else { continue }
            let outputs = node.outputs.filter { !$0.isEmpty }
            guard !outputs.isEmpty, outputs.allSatisfy({ !index.graphOutputs.contains($0) && !index.isConstant($0) }) else { continue }
            var tensors: [String: Tensor] = [:]
            for name in outputs {
                guard let c = result.constants[name], !c.isFloating, c.shape.reduce(1, *) == c.ints.count,
                      c.ints.count <= 1024,
                      let t = Tensor.makeIntegers(c.dtype, shape: c.shape, values: c.ints) else { break }
                tensors[name] = t
            }
            guard tensors.count == outputs.count else { continue }
            for (name, t) in tensors { graph.initializers[name] = t }
            removed.insert(i)
        }
        graph.removeNodes(removed)
        return removed.count
    }
}
