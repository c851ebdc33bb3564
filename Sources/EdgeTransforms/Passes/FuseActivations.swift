import EdgeIR

/// Records an activation that follows a Conv or Gemm as that node's fused epilogue.
///
///     Before:  x ─► Conv(W, b) ─► y ─► Relu ─► z
///     After:   x ─► ai.edgeopt::FusedConv(W, b, activation="Relu") ─► z
///
/// z = act(conv(x) + b) either way; the fused kernel applies `act` to each output tile while it is
/// in cache instead of in a second pass over memory, which is exact (same float operations in the
/// same order). Activations: Relu, Clip (constant bounds; ReLU6 = Clip(0, 6)), LeakyRelu, Sigmoid,
/// HardSigmoid, HardSwish, Tanh, and `ai.edgeopt::SiLU` (from `fuse-silu`).
///
/// A residual Add after a Conv or Gemm is recorded too, as the fused node's fourth input Z (ONNX
/// Runtime's FusedConv has the same input), so a residual block's tail is one node and one kernel pass:
///
///     Before:  x ─► Conv(W, b) ─► y ─► Add(y, skip) ─► s ─► Relu ─► z
///     After:   x ─► ai.edgeopt::FusedConv(W, b, skip, activation="Relu") ─► z
///
/// z = act(conv(x) + b + skip); for a Gemm z = act(α·A·B + β·C + skip). A two-input Sum counts as the Add (it is written back as an Add).
/// Only when y and skip have the same known shape (no broadcasting)
/// and element type float32, and y has no other reader; the skip may be any value (the fused node
/// takes the Add's place, after everything the Add read).
///
/// The fused ops live in edgeopt's own domain; `FusedExport` turns them back into standard ONNX
/// (or ONNX Runtime's `com.microsoft::FusedConv`) when a model is written. Only float32 nodes are
/// fused (the epilogue computes in float32, which for float16 would skip one rounding step).
public struct FuseActivations: GraphPass {
    public static let name = "fuse-activations"
    public static let summary = "fuse Relu/Clip/LeakyRelu/Sigmoid/HardSigmoid/HardSwish/SiLU into the preceding Conv/Gemm, and a same-shape residual Add into the Conv/Gemm"
    public static let domain = "ai.edgeopt"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var rewrites = 0
        var index = GraphIndex(graph)
        var types: [String: TensorType]?
        var i = 0
        while i < graph.nodes.count {
            defer { i += 1 }
            if graph.nodes[i].isOp("Add") || (graph.nodes[i].isOp("Sum") && graph.nodes[i].inputs.count == 2) {
                if types == nil { types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:] }
                if let (p, fused) = residual(add: graph.nodes[i], graph: graph, index: index, types: types ?? [:]) {
                    graph.nodes[i] = fused
                    graph.nodes.remove(at: p)
                    i -= 1
                    rewrites += 1
                    index = GraphIndex(graph)
                }
                continue
            }
            let act = graph.nodes[i]
            guard let y = act.input(0), let p = index.producerIndex(of: y), index.hasSingleUse(y),
                  let (name, params) = activation(of: act, index: index, opset: context.opset) else { continue }
            let producer = graph.nodes[p]
            let fusedType: String
            if producer.isOp("Conv") { fusedType = "FusedConv" } else if producer.isOp("Gemm") { fusedType = "FusedGemm" }
            else if isResidualFused(producer), (producer.string("activation") ?? "").isEmpty { fusedType = producer.opType } else { continue }
            guard producer.outputs.count == 1 else { continue }
            if !isFloat32(producer, graph: graph, index: index) {
                // Weights computed at run time (e.g. by ConstantOfShape): ask shape inference.
                if types == nil { types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:] }
                guard types?[y]?.elementType == .float else { continue }
            }
            var fused = producer
            fused.opType = fusedType
            fused.domain = FuseActivations.domain
            fused.outputs = [act.outputs[0]]
            fused.setAttribute("activation", .string(Array(name.utf8)))
            if !params.isEmpty { fused.setAttribute("activation_params", .floats(params)) }
            // Kept so that writing the standard form restores the original names (and size).
            fused.setAttribute("preactivation_output", .string(Array(y.utf8)))
            if !act.name.isEmpty { fused.setAttribute("activation_name", .string(Array(act.name.utf8))) }
            graph.nodes[i] = fused
            graph.nodes.remove(at: p)
            i -= 1
            rewrites += 1
            index = GraphIndex(graph)
        }
        if rewrites > 0 { context.requireDomain(FuseActivations.domain, version: 1) }
        return PassResult(rewrites: rewrites)
    }

    /// An ai.edgeopt::FusedConv or FusedGemm with a residual input Z (from `residual(add:…)`).
    func isResidualFused(_ node: Node) -> Bool {
        node.domain == FuseActivations.domain && (node.opType == "FusedConv" || node.opType == "FusedGemm")
            && node.inputs.count > 3 && !node.inputs[3].isEmpty
    }

    /// For Add(y, skip) or Add(skip, y) with y a plain Conv's or Gemm's single-use float32 output
    /// of the same known shape as skip: (the producer's index, the FusedConv/FusedGemm computing
    /// the Add's output).
    func residual(add: Node, graph: Graph, index: GraphIndex, types: [String: TensorType]) -> (Int, Node)? {
        guard add.inputs.count == 2, add.outputs.count == 1, add.inputs[0] != add.inputs[1] else { return nil }
        for k in 0..<2 {
            let y = add.inputs[k], skip = add.inputs[1 - k]
            guard let p = index.producerIndex(of: y), index.hasSingleUse(y), graph.nodes[p].isOp("Conv") || graph.nodes[p].isOp("Gemm"),
                  graph.nodes[p].outputs.count == 1, graph.nodes[p].inputs.count <= 3,
                  let ty = types[y], let ts = types[skip] ?? index.constant(skip).map({ TensorType($0.dtype, fixed: $0.shape) }),
                  ty.elementType == .float, ts.elementType == .float,
                  let shape = ty.shape, shape == ts.shape, shape.allSatisfy({ $0 != .unknown }) else { continue }
            var fused = graph.nodes[p]
            fused.opType = fused.opType == "Conv" ? "FusedConv" : "FusedGemm"
            fused.domain = FuseActivations.domain
            while fused.inputs.count < 3 { fused.inputs.append("") }
            fused.inputs.append(skip)
            fused.outputs = add.outputs
            // Kept so that writing the standard form restores the original names.
            fused.setAttribute("residual_input", .string(Array(y.utf8)))
            if !add.name.isEmpty { fused.setAttribute("residual_name", .string(Array(add.name.utf8))) }
            return (p, fused)
        }
        return nil
    }

    /// The activation a node applies, as (ONNX op name, parameters), if it is fusable.
    func activation(of node: Node, index: GraphIndex, opset: Int) -> (String, [Float])? {
        if node.domain == FuseActivations.domain, node.opType == "SiLU" { return ("SiLU", []) }
        guard node.isStandardDomain, node.outputs.count == 1 else { return nil }
        switch node.opType {
        case "Relu", "Sigmoid", "HardSwish", "Tanh": return (node.opType, [])
        case "LeakyRelu": return ("LeakyRelu", [node.float("alpha") ?? 0.01])
        case "HardSigmoid": return ("HardSigmoid", [node.float("alpha") ?? 0.2, node.float("beta") ?? 0.5])
        case "Clip":
            var lo = -Float.infinity, hi = Float.infinity
            if opset < 11 {
                lo = node.float("min") ?? lo
                hi = node.float("max") ?? hi
            } else {
                if let name = node.input(1) {
                    guard let v = index.scalarConstant(name) else { return nil }
                    lo = Float(v)
                }
                if let name = node.input(2) {
                    guard let v = index.scalarConstant(name) else { return nil }
                    hi = Float(v)
                }
            }
            return ("Clip", [lo, hi])
        default: return nil
        }
    }

    /// The producer's weight is float32 (Conv W / Gemm B), so its output is float32.
    func isFloat32(_ node: Node, graph: Graph, index: GraphIndex) -> Bool {
        if let w = node.input(1), let t = index.constant(w) { return t.dtype == .float }
        if let x = node.input(0), let type = graph.declaredElementType(of: x) { return type == .float }
        return false
    }
}
