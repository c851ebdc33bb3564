import EdgeIR

/// Removes nodes none of whose outputs reach a graph output, and weights nobody reads.
///
///     Before:  x ─► Relu ─► y (output)        After:  x ─► Relu ─► y (output)
///              x ─► Sigmoid ─► t (unused)
///              initializer W (unused)
///
/// Liveness runs backwards from the graph outputs; a node holding a subgraph keeps alive every
/// outer value the subgraph captures. Removing unread code changes no output. An unused
/// initializer that is also listed as a graph input (IR < 4 style) is dropped from the inputs too:
/// nobody can observe it.
public struct EliminateDeadNodes: GraphPass {
    public static let name = "eliminate-dead-nodes"
    public static let summary = "remove nodes whose results are never used, and unused initializers"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var live = Set(graph.outputs.map(\.name))
        var keep = [Bool](repeating: false, count: graph.nodes.count)
        // Nodes are topologically ordered, so one backward sweep settles liveness.
        for i in graph.nodes.indices.reversed() {
            let node = graph.nodes[i]
            guard node.outputs.contains(where: { !$0.isEmpty && live.contains($0) }) else { continue }
            keep[i] = true
            for input in node.inputs where !input.isEmpty { live.insert(input) }
            for sub in node.subgraphs { live.formUnion(sub.outerScopeReferences()) }
        }
        var rewrites = 0
        let dead = Set(graph.nodes.indices.filter { !keep[$0] })
        rewrites += dead.count
        graph.removeNodes(dead)
        // Outputs that are never read become omitted optional outputs only for trailing ones
        // is not safe in general (ops fix their output arity), so outputs are left as they are.
        let unused = graph.initializers.keys.filter { !live.contains($0) }
        for name in unused { graph.initializers.removeValue(forKey: name) }
        rewrites += unused.count
        if !unused.isEmpty {
            let removed = Set(unused)
            graph.inputs.removeAll { removed.contains($0.name) }
        }
        let beforeSparse = graph.sparseInitializers.count
        graph.sparseInitializers.removeAll { !live.contains($0.name) }
        rewrites += beforeSparse - graph.sparseInitializers.count
        // value_info of values that no longer exist would dangle.
        var defined = Set(graph.nodes.flatMap(\.outputs))
        defined.formUnion(graph.inputs.map(\.name))
        defined.formUnion(graph.initializers.keys)
        graph.valueInfo.removeAll { !defined.contains($0.name) }
        return PassResult(rewrites: rewrites)
    }
}
