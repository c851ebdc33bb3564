import EdgeIR

/// Read and replace constant tensors of a graph by value name, whether they are initializers or
/// `Constant` nodes (exporters at opset 11/12 often write weights as Constant nodes), and count
/// how many nodes read each name (a weight read twice must not be rewritten for one reader).
struct GraphConstants {
    private(set) var graph: Graph
    private var constantNode: [String: Int] = [:]
    let readers: [String: Int]

    init(_ graph: Graph) {
        self.graph = graph
        for (i, node) in graph.nodes.enumerated() where node.constantValue != nil {
            if let out = node.outputs.first { constantNode[out] = i }
        }
        var readers: [String: Int] = [:]
        for node in graph.nodes {
            for input in node.inputs where !input.isEmpty { readers[input, default: 0] += 1 }
            for sub in node.subgraphs { for name in sub.outerScopeReferences() { readers[name, default: 0] += 1 } }
        }
        for output in graph.outputs { readers[output.name, default: 0] += 1 }
        self.readers = readers
    }

    /// Every initializer and Constant-node output name.
    var constantNames: [String] { Array(graph.initializers.keys) + Array(constantNode.keys) }

    func tensor(_ name: String) -> Tensor? {
        if let t = graph.initializers[name] { return t }
        if let i = constantNode[name] { return graph.nodes[i].constantValue }
        return nil
    }

    /// A float32 constant read by exactly one node, as an array.
    func privateFloats(_ name: String) -> (shape: [Int], values: [Float])? {
        guard !name.isEmpty, readers[name] == 1, let t = tensor(name), t.dtype == .float else { return nil }
        return (t.shape, t.scalars(as: Float.self))
    }

    mutating func replace(_ name: String, shape: [Int], values: [Float]) {
        let t = Tensor(shape: shape, scalars: values)
        if graph.initializers[name] != nil {
            graph.initializers[name] = t
        } else if let i = constantNode[name] {
            graph.nodes[i].attributes = [Attribute("value", .tensor(t))]
        }
    }

    /// Adds a new initializer (e.g. a bias a node did not have).
    mutating func add(_ name: String, shape: [Int], values: [Float]) {
        graph.initializers[name] = Tensor(shape: shape, scalars: values)
    }
}
