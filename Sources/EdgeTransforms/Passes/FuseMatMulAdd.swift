import EdgeIR

/// Turns a 2-D MatMul followed by the addition of a constant bias into one Gemm.
///
///     Before:  x:[M,K] ─► MatMul(W:[K,N]) ─► t ─► Add(c) ─► y
///     After:   x ─► Gemm(x, W, c) ─► y
///
/// Gemm computes A·B + C with C broadcast unidirectionally to [M, N], so the rewrite is legal when
/// x is known to be 2-D (MatMul on higher ranks batches, Gemm does not), W is a 2-D constant, and
/// c is a constant of shape [N], [1, N], [M, N] or a scalar. Gemm (alpha = beta = 1) and
/// MatMul + Add compute the same sums; the engine adds the bias in the GEMM epilogue.
public struct FuseMatMulAdd: GraphPass {
    public static let name = "fuse-matmul-add"
    public static let summary = "turn 2-D MatMul + constant Add into Gemm"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        guard graph.nodes.contains(where: { $0.isOp("MatMul") }) else { return .unchanged }
        let types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:]
        var rewrites = 0
        var index = GraphIndex(graph)
        var i = 0
        while i < graph.nodes.count {
            defer { i += 1 }
            let add = graph.nodes[i]
            guard add.isOp("Add"), add.inputs.count == 2 else { continue }
            for (k, other) in [(0, 1), (1, 0)] {
                let t = add.inputs[k]
                guard let p = index.producerIndex(of: t), index.hasSingleUse(t), graph.nodes[p].isOp("MatMul"),
                      let c = index.constant(add.inputs[other]), c.dtype == .float else { continue }
                let matmul = graph.nodes[p]
                guard let x = matmul.input(0), let wName = matmul.input(1), let w = index.constant(wName), w.rank == 2, w.dtype == .float,
                      let xShape = types[x]?.shape, xShape.count == 2 else { continue }
                let n = w.shape[1]
                let m = xShape[0].value
                let biasOK = (c.elementCount == 1 && c.rank <= 2) || c.shape == [n] || c.shape == [1, n] || (m != nil && c.shape == [m!, n])
                guard biasOK else { continue }
                var gemm = Node(name: matmul.name.isEmpty ? context.freshName("gemm") : matmul.name, opType: "Gemm",
                                inputs: [x, wName, add.inputs[other]], outputs: add.outputs)
                gemm.docString = matmul.docString
                graph.nodes[i] = gemm
                graph.nodes.remove(at: p)
                i -= 1
                rewrites += 1
                index = GraphIndex(graph)
                break
            }
        }
        return PassResult(rewrites: rewrites)
    }
}
