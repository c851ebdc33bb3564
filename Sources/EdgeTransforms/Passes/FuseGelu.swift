import EdgeIR

/// Recognizes the decomposed GELU of exporters as ONNX Gelu (opset ≥ 20).
///
///     Erf form:   x ─► Div(√2) ─► Erf ─► Add(1) ─► Mul(x, ·) ─► Mul(0.5) ─► y
///                 (or Mul(1/√2) instead of Div(√2); or Mul(0.5·x, ·) at the end)
///     Tanh form:  x ─► Pow(3) ─► Mul(0.044715) ─► Add(x, ·) ─► Mul(√(2/π)) ─► Tanh ─► Add(1) ─► Mul(x, ·) ─► Mul(0.5)
///     After:      x ─► Gelu(approximate="none" | "tanh") ─► y
///
/// Gelu(x) = ½·x·(1 + erf(x/√2)); with approximate="tanh",
/// ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — exactly the decomposed expressions. Constants are
/// compared with a 1e-5 relative margin (float32 renderings of √2, √(2/π)). Every intermediate
/// must feed only the next node of the pattern.
public struct FuseGelu: GraphPass {
    public static let name = "fuse-gelu"
    public static let summary = "recognize Erf/Tanh GELU subgraphs as Gelu (opset 20+)"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        guard context.opset >= 20 else { return .unchanged }
        var rewrites = 0
        var changed = true
        while changed {
            changed = false
            let index = GraphIndex(graph)
            for (i, node) in graph.nodes.enumerated() where node.isOp("Erf", "Tanh") {
                guard let match = self.match(core: i, graph: graph, index: index) else { continue }
                var gelu = Node(name: context.freshName("gelu"), opType: "Gelu", inputs: [match.x], outputs: [match.output])
                if node.opType == "Tanh" { gelu.setAttribute("approximate", .string(Array("tanh".utf8))) }
                let last = match.nodes.max()!
                graph.nodes[last] = gelu
                graph.removeNodes(Set(match.nodes).subtracting([last]))
                rewrites += 1
                changed = true
                break
            }
        }
        return PassResult(rewrites: rewrites)
    }

    struct Match { var x: String; var output: String; var nodes: [Int] }

    /// The producer of `name` when it is a standard op of `type` and `name` has a single use.
    static func single(_ name: String, _ type: String, _ graph: Graph, _ index: GraphIndex) -> (Int, Node)? {
        guard let p = index.producerIndex(of: name), index.hasSingleUse(name), graph.nodes[p].isOp(type) else { return nil }
        return (p, graph.nodes[p])
    }

    /// For a binary node, the (non-constant operand, constant scalar) pair, if one operand is a scalar constant.
    static func scalarOperand(_ node: Node, _ index: GraphIndex) -> (String, Double)? {
        guard node.inputs.count == 2 else { return nil }
        if let c = index.scalarConstant(node.inputs[1]) { return (node.inputs[0], c) }
        if let c = index.scalarConstant(node.inputs[0]) { return (node.inputs[1], c) }
        return nil
    }

    static func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-5 * abs(b) }

    /// The sole consumer of `name`, when it has exactly one.
    static func consumer(_ name: String, _ graph: Graph, _ index: GraphIndex) -> (Int, Node)? {
        guard let c = index.soleConsumer(of: name) else { return nil }
        return (c, graph.nodes[c])
    }

    func match(core: Int, graph: Graph, index: GraphIndex) -> Match? {
        let node = graph.nodes[core]
        var nodes = [core]
        // Upward: find x.
        let x: String
        if node.opType == "Erf" {
            guard let inner = node.input(0), let p = index.producerIndex(of: inner), index.hasSingleUse(inner) else { return nil }
            let scale = graph.nodes[p]
            guard let (operand, c) = FuseGelu.scalarOperand(scale, index) else { return nil }
            if scale.isOp("Div"), scale.inputs[1] != operand, FuseGelu.near(c, 2.0.squareRoot()) {
                x = operand
            } else if scale.isOp("Mul"), FuseGelu.near(c, 1 / 2.0.squareRoot()) {
                x = operand
            } else { return nil }
            nodes.append(p)
        } else {
            guard let inner = node.input(0), let (p1, mulK) = FuseGelu.single(inner, "Mul", graph, index),
                  let (sum, k) = FuseGelu.scalarOperand(mulK, index), FuseGelu.near(k, (2 / Double.pi).squareRoot()),
                  let (p2, add) = FuseGelu.single(sum, "Add", graph, index), add.inputs.count == 2 else { return nil }
            var found: String?
            var cube: [Int] = []
            for (a, b) in [(0, 1), (1, 0)] {
                guard let (p3, mulC) = FuseGelu.single(add.inputs[b], "Mul", graph, index),
                      let (cubed, c) = FuseGelu.scalarOperand(mulC, index), FuseGelu.near(c, 0.044715),
                      let (p4, pow) = FuseGelu.single(cubed, "Pow", graph, index), pow.input(0) == add.inputs[a],
                      let e = pow.input(1).flatMap({ index.scalarConstant($0) }), e == 3 else { continue }
                found = add.inputs[a]
                cube = [p3, p4]
                break
            }
            guard let f = found else { return nil }
            x = f
            nodes += [p1, p2] + cube
        }
        // Downward: Add(1) → Mul(x, ·) → Mul(0.5), or Add(1) → Mul(Mul(x, 0.5), ·).
        guard let t = node.outputs.first, let (ai, add1) = FuseGelu.consumer(t, graph, index), add1.isOp("Add"),
              let (_, one) = FuseGelu.scalarOperand(add1, index), one == 1 else { return nil }
        nodes.append(ai)
        guard let (mi, mul) = FuseGelu.consumer(add1.outputs[0], graph, index), mul.isOp("Mul"), mul.inputs.count == 2 else { return nil }
        nodes.append(mi)
        let other = mul.inputs[0] == add1.outputs[0] ? mul.inputs[1] : mul.inputs[0]
        if other == x {
            guard let (hi, half) = FuseGelu.consumer(mul.outputs[0], graph, index), half.isOp("Mul"),
                  let (_, h) = FuseGelu.scalarOperand(half, index), h == 0.5 else { return nil }
            nodes.append(hi)
            return Match(x: x, output: half.outputs[0], nodes: nodes)
        }
        guard let (hi, half) = FuseGelu.single(other, "Mul", graph, index), let (operand, h) = FuseGelu.scalarOperand(half, index),
              operand == x, h == 0.5 else { return nil }
        nodes.append(hi)
        return Match(x: x, output: mul.outputs[0], nodes: nodes)
    }
}
