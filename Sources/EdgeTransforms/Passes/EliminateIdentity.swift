import EdgeIR

/// Removes nodes that pass their input through unchanged at inference: Identity, and Dropout
/// (inference mode: `y = x`, the optional mask output unused).
///
///     Before:  x ─► Conv ─► a ─► Identity ─► b ─► Relu        After:  x ─► Conv ─► a ─► Relu
///
/// Dropout is only removed when its `training_mode` input is absent or a constant false and its
/// mask output is unused: in training mode it is random, and a used mask would need a constant
/// all-true tensor in its place.
public struct EliminateIdentity: GraphPass {
    public static let name = "eliminate-identity"
    public static let summary = "remove Identity and inference-mode Dropout"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var i = 0
        while i < graph.nodes.count {
            let node = graph.nodes[i]
            guard let input = node.input(0), let output = node.outputs.first, !output.isEmpty,
                  node.isOp("Identity", "Dropout"), isPassThrough(node, in: graph) else {
                i += 1
                continue
            }
            if graph.forward(output, to: input) {
                graph.nodes.remove(at: i)
                rewrites += 1
            } else {
                i += 1
            }
        }
        return PassResult(rewrites: rewrites)
    }

    func isPassThrough(_ node: Node, in graph: Graph) -> Bool {
        if node.isOp("Identity") { return node.inputs.count == 1 }
        let index = GraphIndex(graph)
        if node.outputs.count > 1, !node.outputs[1].isEmpty,
           index.useCount(node.outputs[1]) > 0 || index.graphOutputs.contains(node.outputs[1]) { return false }
        // Dropout-12+: training_mode input (default false). Older versions have none and are the
        // identity at inference.
        if let training = node.input(2) {
            guard let t = index.constant(training), t.elementCount == 1, t.doubleValues().first == 0 else { return false }
        }
        return true
    }
}
