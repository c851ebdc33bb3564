import EdgeIR

/// Passes inside model-local functions (`ModelProto.functions`, which torch's
/// `export_modules_as_functions` and other exporters emit).
///
/// A function body is edited as a Graph whose inputs and outputs are the function's formal inputs
/// and outputs: that is the function's interface, and passes already keep a graph's interface
/// (graph outputs keep their names and are never removed; inputs carry no type or value, so
/// nothing is folded through them, e.g. a BatchNormalization whose statistics are function inputs
/// stays). Two adjustments make the body a graph passes can edit safely, undone afterwards:
/// - a node with an attribute that refers to the caller's attribute (`ref_attr_name`) holds a
///   placeholder, not the value the call supplies. It is moved to a private domain for the
///   duration, so no pass matches, folds, evaluates or merges it (removing it when unused is
///   still right);
/// - a function has no initializers: weights a pass creates (folded BN weights, folded
///   constants) become Constant nodes at the top of the body.
///
/// The check still runs the whole model (the engine expands calls into their bodies).
public enum FunctionBody {
    static let opaqueDomainPrefix = "ai.edgeopt.attribute-reference/"

    /// True for a node set aside because an attribute refers to the caller's attribute.
    public static func isOpaque(_ node: Node) -> Bool { node.domain.hasPrefix(opaqueDomainPrefix) }

    /// The body as a graph passes can edit.
    public static func graph(of function: Function) -> Graph {
        var graph = Graph(name: function.name,
                          inputs: function.inputs.map { ValueInfo(name: $0, type: nil) },
                          outputs: function.outputs.map { ValueInfo(name: $0, type: nil) },
                          valueInfo: function.valueInfo, nodes: function.nodes)
        setAside(&graph.nodes)
        return graph
    }

    /// Writes an edited body back into `function`.
    public static func update(_ function: inout Function, from graph: Graph, opsetImports: [OpsetImport]) {
        var nodes: [Node] = []
        var nodeNames = Set(graph.nodes.map(\.name))
        for (name, tensor) in graph.initializers {
            var nodeName = "\(name)_constant"
            while nodeNames.contains(nodeName) { nodeName += "_" }
            nodeNames.insert(nodeName)
            nodes.append(Node(name: nodeName, opType: "Constant", inputs: [], outputs: [name],
                              attributes: [Attribute("value", .tensor(tensor))]))
        }
        var body = graph.nodes
        restore(&body)
        nodes.append(contentsOf: body)
        function.nodes = nodes
        function.valueInfo = graph.valueInfo
        function.opsetImports = opsetImports
    }

    static func setAside(_ nodes: inout [Node]) {
        for i in nodes.indices {
            forEachSubgraph(&nodes[i]) { setAside(&$0.nodes) }
            if nodes[i].attributes.contains(where: { $0.refAttrName != nil }) {
                nodes[i].domain = opaqueDomainPrefix + nodes[i].domain
            }
        }
    }

    static func restore(_ nodes: inout [Node]) {
        for i in nodes.indices {
            forEachSubgraph(&nodes[i]) { restore(&$0.nodes) }
            if isOpaque(nodes[i]) { nodes[i].domain.removeFirst(opaqueDomainPrefix.count) }
        }
    }

    static func forEachSubgraph(_ node: inout Node, _ body: (inout Graph) -> Void) {
        guard !node.subgraphs.isEmpty else { return }
        for a in node.attributes.indices {
            switch node.attributes[a].value {
            case .graph(var g):
                body(&g)
                node.attributes[a].value = .graph(g)
            case .graphs(var gs):
                for k in gs.indices { body(&gs[k]) }
                node.attributes[a].value = .graphs(gs)
            default: break
            }
        }
    }
}

extension Model {
    /// Nodes of the main graph and of every local function body (subgraphs included).
    public var totalNodeCount: Int {
        graph.totalNodeCount + functions.reduce(0) { $0 + Graph(nodes: $1.nodes).totalNodeCount }
    }

    /// Weight bytes of the main graph and of the Constant nodes of function bodies.
    public var weightBytes: Int {
        graph.weightBytes + functions.reduce(0) { $0 + Graph(nodes: $1.nodes).weightBytes }
    }
}
