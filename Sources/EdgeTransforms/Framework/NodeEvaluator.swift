import EdgeIR
import EdgeRuntime

/// Evaluates one node on constant inputs with the engine, so that folding computes exactly what
/// the engine (and any conformant runtime) would compute at run time.
enum NodeEvaluator {
    /// Operators whose result is not a function of their inputs.
    static let nondeterministic: Set<String> = [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    ]

    /// The node's outputs (aligned with `node.outputs`, nil for omitted ones), or nil when the
    /// engine cannot evaluate it (unsupported op, non-tensor result).
    static func evaluate(_ node: Node, inputs: [String: Tensor], opsetImports: [OpsetImport]) -> [Tensor?]? {
        var graph = Graph(name: "fold")
        for name in node.inputs where !name.isEmpty { graph.initializers[name] = inputs[name] }
        graph.nodes = [node]
        graph.outputs = node.outputs.filter { !$0.isEmpty }.map { ValueInfo(name: $0, type: nil) }
        let model = Model(opsetImports: opsetImports, graph: graph)
        guard let session = try? Session(model: model, options: SessionOptions(threads: 1)),
              let result = try? session.run([:]) else { return nil }
        return node.outputs.map { $0.isEmpty ? nil : result[$0] }
    }
}
