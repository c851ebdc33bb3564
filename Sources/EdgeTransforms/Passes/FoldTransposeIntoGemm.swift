import EdgeIR

/// Absorbs a 2-D Transpose feeding a Gemm operand into the Gemm's transA/transB flag.
///
///     Before:  B ─► Transpose(perm=[1,0]) ─► Bt ─► Gemm(A, Bt, transB=0)
///     After:   B ─► Gemm(A, B, transB=1)
///
/// Gemm computes op(A)·op(B) with op = transpose when the flag is set; toggling the flag and
/// dropping the explicit Transpose gives the same product with the same summation order. Exact.
public struct FoldTransposeIntoGemm: GraphPass {
    public static let name = "fold-transpose-into-gemm"
    public static let summary = "absorb Transpose of a Gemm operand into transA/transB"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var changed = true
        while changed {
            changed = false
            let index = GraphIndex(graph)
            search: for (i, gemm) in graph.nodes.enumerated() where gemm.isOp("Gemm") {
                for (k, flag) in [(0, "transA"), (1, "transB")] {
                    guard let t = gemm.input(k), let p = index.producerIndex(of: t), index.hasSingleUse(t) else { continue }
                    let transpose = graph.nodes[p]
                    guard transpose.isOp("Transpose"), transpose.ints("perm") == [1, 0] || transpose.ints("perm") == nil,
                          let x = transpose.input(0) else { continue }
                    if transpose.ints("perm") == nil {
                        // Default perm reverses the axes: [1, 0] only for a matrix.
                        guard let shape = graph.declaredType(of: x)?.tensorType?.shape ?? index.constant(x).map({ $0.shape.map(Dim.fixed) }),
                              shape.count == 2 else { continue }
                    }
                    graph.nodes[i].inputs[k] = x
                    graph.nodes[i].setAttribute(flag, .int((gemm.int(flag) ?? 0) == 0 ? 1 : 0))
                    graph.nodes.remove(at: p)
                    rewrites += 1
                    changed = true
                    break search
                }
            }
        }
        return PassResult(rewrites: rewrites)
    }
}
