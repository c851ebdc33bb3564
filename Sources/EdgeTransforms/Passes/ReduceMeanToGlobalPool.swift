import EdgeIR

/// Writes a spatial mean with kept dimensions as GlobalAveragePool.
///
///     Before:  x[N,C,H,W] ─► ReduceMean(axes=[2,3] or [-2,-1], keepdims=1) ─► y[N,C,1,1]
///     After:   x[N,C,H,W] ─► GlobalAveragePool ─► y[N,C,1,1]
///
/// GlobalAveragePool is defined as the mean over every axis after the first two, keeping them as
/// size 1: exactly ReduceMean over axes {2, …, r−1} with keepdims = 1, for any rank r ≥ 3 (only the
/// summation order may differ). Exporters write squeeze-excitation and head pooling as
/// `x.mean((2, 3), keepdim=True)`; device toolchains and runtimes map GlobalAveragePool to
/// dedicated global-pooling kernels, and some compilers accept it where they reject a general
/// ReduceMean. (edgeopt's engine now runs both equally fast.) Conditions: the input's rank is known and ≥ 3, it is floating point (the
/// operator's type constraint), and the axes (attribute before opset 18, constant input from 18)
/// are exactly the spatial ones. keepdims = 0 is left alone: it would need a Flatten after the
/// pool, one more node.
public struct ReduceMeanToGlobalPool: GraphPass {
    public static let name = "reduce-mean-to-global-pool"
    public static let summary = "write ReduceMean over all spatial axes with keepdims as GlobalAveragePool"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        guard graph.nodes.contains(where: { $0.isOp("ReduceMean") }) else { return .unchanged }
        let types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:]
        let index = GraphIndex(graph)
        var rewrites = 0
        for i in graph.nodes.indices {
            let node = graph.nodes[i]
            guard node.isOp("ReduceMean"), node.outputs.count == 1, (node.int("keepdims") ?? 1) == 1,
                  let x = node.input(0), let type = types[x], type.elementType.isFloatingPoint,
                  let rank = type.shape?.count, rank >= 3 else { continue }
            let axes: [Int64]?
            if context.opset >= 18 {
                axes = node.input(1).flatMap { index.constant($0) }.map { $0.doubleValues().map { Int64($0) } }
            } else {
                axes = node.ints("axes")
            }
            guard let axes, Set(axes.map { $0 < 0 ? Int($0) + rank : Int($0) }) == Set(2..<rank), axes.count == rank - 2 else { continue }
            graph.nodes[i] = Node(name: node.name, opType: "GlobalAveragePool", inputs: [x], outputs: node.outputs)
            rewrites += 1
        }
        return PassResult(rewrites: rewrites)
    }
}
