/// Structural checks every imported model passes before anything else sees it:
/// - every node input names a value that a graph input, initializer, node output or an
///   enclosing graph (for If/Loop/Scan bodies) defines;
/// - no value is defined twice in one graph (SSA);
/// - every graph output is defined;
/// - the graph has no cycle (nodes out of file order are accepted, as ONNX Runtime does).
/// Unknown operators and custom domains are not errors here.
public enum GraphValidator {
    public static func validate(_ model: Model) throws {
        try validate(model.graph, enclosingScopes: [], label: model.graph.name.isEmpty ? "main graph" : "graph '\(model.graph.name)'")
        for function in model.functions {
            try validate(function)
        }
    }

    /// Checks one graph whose bodies may capture `outerScope` names.
    public static func validate(_ graph: Graph, outerScope: Set<String>, label: String) throws {
        try validate(graph, enclosingScopes: [outerScope], label: label)
    }

    /// `enclosingScopes`: the names each enclosing graph defines, innermost last. Kept as a stack
    /// rather than one union so that many subgraphs in a large graph cost no copying.
    static func validate(_ graph: Graph, enclosingScopes: [Set<String>], label: String) throws {
        var defined = Set<String>()
        func define(_ name: String, by what: @autoclosure () -> String) throws {
            guard !name.isEmpty else { return }
            guard defined.insert(name).inserted else {
                throw EdgeError.badInput("\(label): value '\(name)' is defined more than once (again by \(what()))")
            }
        }
        for input in graph.inputs { try define(input.name, by: "graph input") }
        for name in graph.initializers.keys where !defined.contains(name) {
            // An initializer may share its name with a graph input (a default value for it).
            defined.insert(name)
        }
        for sparse in graph.sparseInitializers { try define(sparse.name, by: "sparse initializer") }
        for node in graph.nodes {
            for output in node.outputs { try define(output, by: "output of node '\(node.displayName)' (\(node.opType))") }
        }

        let scopes = enclosingScopes + [defined]
        func visible(_ name: String) -> Bool { scopes.contains { $0.contains(name) } }
        for node in graph.nodes {
            for (k, input) in node.inputs.enumerated() where !input.isEmpty && !visible(input) {
                throw EdgeError.badInput(
                    "\(label): input \(k) '\(input)' of node '\(node.displayName)' (\(node.opType)) is not defined by any graph input, initializer, node output or enclosing graph")
            }
            for attribute in node.attributes {
                let bodies: [Graph]
                switch attribute.value {
                case .graph(let g): bodies = [g]
                case .graphs(let gs): bodies = gs
                default: continue
                }
                for (k, body) in bodies.enumerated() {
                    let where_ = bodies.count > 1 ? "body \(k) of attribute '\(attribute.name)'" : "attribute '\(attribute.name)'"
                    try validate(body, enclosingScopes: scopes,
                                 label: "\(label) › \(where_) of node '\(node.displayName)' (\(node.opType))")
                }
            }
        }
        for output in graph.outputs where !output.name.isEmpty && !visible(output.name) {
            throw EdgeError.badInput("\(label): graph output '\(output.name)' is not produced by any node, input or initializer")
        }
        if let cycle = graph.nodesOnCycle() {
            let names = cycle.map { "'\(graph.nodes[$0].displayName)' (\(graph.nodes[$0].opType))" }
            let shown = names.count > 12 ? Array(names.prefix(12)) + ["… \(names.count) nodes in all"] : names + [names[0]]
            throw EdgeError.badInput("\(label) has a cycle: \(shown.joined(separator: " → "))")
        }
    }

    static func validate(_ function: Function) throws {
        let body = Graph(name: function.name, inputs: function.inputs.map { ValueInfo(name: $0, type: nil) },
                         outputs: function.outputs.map { ValueInfo(name: $0, type: nil) }, nodes: function.nodes)
        try validate(body, enclosingScopes: [], label: "function '\(function.domain.isEmpty ? "" : function.domain + ".")\(function.name)'")
    }
}
