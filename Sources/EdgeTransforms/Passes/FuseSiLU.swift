import EdgeIR

/// Recognizes x·Sigmoid(x) (SiLU, a.k.a. Swish) as one fused operator.
///
///     Before:  x ─► Sigmoid ─► s ─► Mul(x, s) ─► y
///     After:   x ─► ai.edgeopt::SiLU ─► y
///
/// SiLU(x) = x·σ(x) by definition; the fused kernel evaluates the same expression in one pass over
/// memory, and `fuse-activations` can then move it into a preceding Conv/Gemm epilogue (the common
/// EfficientNet/YOLO block). Written back as Sigmoid + Mul (`FusedExport`), so exported models stay
/// standard ONNX.
public struct FuseSiLU: GraphPass {
    public static let name = "fuse-silu"
    public static let summary = "recognize x*Sigmoid(x) as a fused SiLU"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var index = GraphIndex(graph)
        var i = 0
        while i < graph.nodes.count {
            defer { i += 1 }
            let mul = graph.nodes[i]
            guard mul.isOp("Mul"), mul.inputs.count == 2 else { continue }
            for (k, other) in [(0, 1), (1, 0)] {
                let s = mul.inputs[k], x = mul.inputs[other]
                guard let p = index.producerIndex(of: s), index.hasSingleUse(s), graph.nodes[p].isOp("Sigmoid"),
                      graph.nodes[p].input(0) == x, graph.declaredElementType(of: x).map({ $0 == .float }) ?? true else { continue }
                graph.nodes[i] = Node(name: mul.name.isEmpty ? context.freshName("silu") : mul.name, opType: "SiLU",
                                      domain: FuseActivations.domain, inputs: [x], outputs: mul.outputs)
                graph.nodes.remove(at: p)
                i -= 1
                rewrites += 1
                index = GraphIndex(graph)
                break
            }
        }
        if rewrites > 0 { context.requireDomain(FuseActivations.domain, version: 1) }
        return PassResult(rewrites: rewrites)
    }
}
