import EdgeIR

/// Data-movement operators whose int8 output must carry their int8 input's scale and zero point,
/// so that QOperator output can run them on the integers themselves.
///
///     U ─ MaxPool | Reshape | Flatten | Transpose | Squeeze | Unsqueeze | Identity ─ T
///
/// Each such op commutes with dequantization for any scale s > 0 and zero point z:
/// op((q − z)·s) = (op(q) − z)·s (they move or select elements; max is monotone). So if T is
/// quantized with U's (s, z), DQ → op → Q with those parameters equals op on the integers,
/// bit for bit, and the Q/DQ pair disappears. ONNX Runtime does the same ("shared scale" ops).
/// Using U's range for T loses nothing: T's values are a subset of U's.
enum SharedScales {
    static let passThroughOps: Set<String> = ["MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"]

    static func isPassThrough(_ node: Node) -> Bool {
        guard node.isStandardDomain, passThroughOps.contains(node.opType), node.outputs.count == 1 else { return false }
        // MaxPool's optional Indices output is int64 positions, not a quantizable tensor.
        return true
    }

    /// Ties every planned activation produced by a chain of pass-through ops to the tensor at the
    /// head of the chain, adding that head to the plan so that int8 flows through the chain.
    /// Returns tensor → head whose parameters it takes.
    static func tie(_ plan: inout QuantizationPlan, graph: Graph, constants: Set<String>) -> [String: String] {
        let producers = graph.producerIndex()
        var chosen = Set(plan.activations)
        var ties: [String: String] = [:]
        var pending = plan.activations
        while let name = pending.popLast() {
            guard ties[name] == nil, let p = producers[name], isPassThrough(graph.nodes[p]),
                  let input = graph.nodes[p].inputs.first, !input.isEmpty, !constants.contains(input) else { continue }
            // Walk to the head of the chain.
            var head = input
            var chain = [name]
            while let q = producers[head], isPassThrough(graph.nodes[q]), let up = graph.nodes[q].inputs.first,
                  !up.isEmpty, !constants.contains(up) {
                chain.append(head)
                head = up
            }
            if !chosen.contains(head) {
                chosen.insert(head)
                plan.activations.append(head)
            }
            // Intermediate tensors not in the plan need no Q/DQ: the QOperator rewrite moves
            // each DequantizeLinear below the pass-through op it feeds.
            for t in chain where chosen.contains(t) { ties[t] = head }
        }
        let order = Dictionary(graph.nodes.enumerated().flatMap { i, n in n.outputs.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
        plan.activations.sort { (order[$0] ?? -1, $0) < (order[$1] ?? -1, $1) }
        return ties
    }
}
