import EdgeIR

/// Merges consecutive Transposes; a pair that composes to the identity disappears.
///
///     Before:  x ─► Transpose(p) ─► t ─► Transpose(q) ─► y
///     After:   x ─► Transpose(r) ─► y        with r[i] = p[q[i]]      (nothing when r = identity)
///
/// Transpose(q)(Transpose(p)(x)) reads output axis i from axis q[i] of t, which is axis p[q[i]]
/// of x. Pure data movement: exact. The first Transpose must feed only the second.
public struct CancelTransposes: GraphPass {
    public static let name = "cancel-transposes"
    public static let summary = "merge consecutive Transposes, removing pairs that cancel"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var changed = true
        while changed {
            changed = false
            let index = GraphIndex(graph)
            for (i, second) in graph.nodes.enumerated() where second.isOp("Transpose") {
                guard let t = second.input(0), let p = index.producerIndex(of: t), index.hasSingleUse(t) else { continue }
                let first = graph.nodes[p]
                guard first.isOp("Transpose"), let p1 = first.ints("perm"), let p2 = second.ints("perm"), p1.count == p2.count,
                      let x = first.input(0) else { continue }
                let composed = p2.map { p1[Int($0)] }
                if composed.enumerated().allSatisfy({ Int64($0.offset) == $0.element }) {
                    guard graph.forward(second.outputs[0], to: x) else { continue }
                    graph.removeNodes([p, i])
                } else {
                    var merged = second
                    merged.inputs = [x]
                    merged.setAttribute("perm", .ints(composed))
                    graph.nodes[i] = merged
                    graph.nodes.remove(at: p)
                }
                rewrites += 1
                changed = true
                break
            }
        }
        return PassResult(rewrites: rewrites)
    }
}
