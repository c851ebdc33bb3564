import EdgeIR

/// Collapses a Reshape (or Flatten/Squeeze/Unsqueeze) feeding a Reshape into one Reshape.
///
///     Before:  x ─► Reshape(s1) ─► t ─► Reshape(s2) ─► y
///     After:   x ─► Reshape(s2) ─► y
///
/// A reshape only reinterprets the row-major element order, so the second reshape of the first's
/// result equals the second reshape of x, provided s2 does not refer to t's dimensions: s2 must be
/// a constant without 0 entries (0 copies the input dimension unless allowzero=1). Exact. When the
/// result has x's (known) shape, `eliminate-noops` then removes the Reshape as well.
public struct CancelReshapes: GraphPass {
    public static let name = "cancel-reshapes"
    public static let summary = "collapse chains of Reshape/Flatten/Squeeze/Unsqueeze ending in a Reshape"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var changed = true
        while changed {
            changed = false
            let index = GraphIndex(graph)
            for (i, second) in graph.nodes.enumerated() where second.isOp("Reshape") {
                guard let t = second.input(0), let p = index.producerIndex(of: t), index.hasSingleUse(t),
                      let s2 = second.input(1).flatMap({ index.constant($0) })?.int64Values(),
                      second.int("allowzero") == 1 || !s2.contains(0) else { continue }
                let first = graph.nodes[p]
                guard first.isOp("Reshape", "Flatten", "Squeeze", "Unsqueeze"), first.outputs.count == 1,
                      let x = first.input(0) else { continue }
                graph.nodes[i].inputs[0] = x
                graph.nodes.remove(at: p)
                rewrites += 1
                changed = true
                break
            }
        }
        return PassResult(rewrites: rewrites)
    }
}
