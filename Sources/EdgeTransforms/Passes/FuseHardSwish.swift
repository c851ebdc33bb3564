import EdgeIR

/// Recognizes x·HardSigmoid(x) with α = 1/6, β = 1/2 as HardSwish (opset ≥ 14).
///
///     Before:  x ─► HardSigmoid(α=1/6, β=0.5) ─► h ─► Mul(x, h) ─► y
///     After:   x ─► HardSwish ─► y
///
/// HardSwish(x) = x·max(0, min(1, x/6 + 1/2)) = x·HardSigmoid(x; 1/6, 1/2) by ONNX's definition.
/// α is compared to Float(1/6) with a 1e-6 relative margin (exporters write 0.16666667).
public struct FuseHardSwish: GraphPass {
    public static let name = "fuse-hardswish"
    public static let summary = "recognize x*HardSigmoid(x) as HardSwish"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        guard context.opset >= 14 else { return .unchanged }
        var rewrites = 0
        var index = GraphIndex(graph)
        var i = 0
        while i < graph.nodes.count {
            defer { i += 1 }
            let mul = graph.nodes[i]
            guard mul.isOp("Mul"), mul.inputs.count == 2 else { continue }
            for (k, other) in [(0, 1), (1, 0)] {
                let h = mul.inputs[k], x = mul.inputs[other]
                guard let p = index.producerIndex(of: h), index.hasSingleUse(h) else { continue }
                let hs = graph.nodes[p]
                guard hs.isOp("HardSigmoid"), hs.input(0) == x,
                      abs(Double(hs.float("alpha") ?? 0.2) - 1.0 / 6.0) <= 1e-6,
                      abs(Double(hs.float("beta") ?? 0.5) - 0.5) <= 1e-7 else { continue }
                graph.nodes[i] = Node(name: mul.name.isEmpty ? context.freshName("hardswish") : mul.name, opType: "HardSwish",
                                      inputs: [x], outputs: mul.outputs)
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
