import EdgeIR

/// Static analysis of one model: shapes, per-node cost and weights, totals, activation memory.
/// Pure function of the model and the pinned dimensions; no execution.
public struct ModelAnalysis: Sendable {
    public struct NodeInfo: Sendable {
        public var name: String
        public var opType: String
        public var domain: String
        /// "" for the main graph, else the path of the body holding the node ("Loop_0/body").
        public var graphPath: String
        public var outputs: [(name: String, type: TensorType?)]
        /// Parameter elements of the weights this node reads directly (through Identity aliases
        /// too). A weight shared by several nodes appears in each of them here, once in totals.
        public var parameters: Int
        /// Bytes of those parameter weights.
        public var weightBytes: Int
        public var cost: ComputeCost
        /// False when no shape rule knows the op (custom or unsupported).
        public var shapeRuleKnown: Bool
    }

    public var shapes: ShapeInferenceResult
    public var weights: WeightInventory
    /// Main-graph nodes in schedule order, each followed by the nodes of its subgraphs.
    public var nodes: [NodeInfo]
    public var memory: ActivationMemory
    /// Count of each op type over all graphs ("domain:op" for non-standard domains).
    public var opCounts: [String: Int]
    /// Op types without a shape rule, with counts.
    public var unknownOps: [String: Int] { shapes.unknownOps }

    /// Totals saturate at Int.max rather than trap on absurd (hostile) shapes.
    public var totalMACs: Int { nodes.reduce(0) { DimMath.add($0, $1.cost.macs) ?? .max } }
    public var totalFLOPs: Int { nodes.reduce(0) { DimMath.add($0, $1.cost.flops) ?? .max } }
    /// Nodes whose cost could not be estimated (unknown shapes or op).
    public var nodesWithUnknownCost: Int { nodes.filter { !$0.cost.known }.count }

    public init(model: Model, inputShapes: [String: [Int]] = [:], dims: [String: Int] = [:]) throws {
        let shapes = try ShapeInference.infer(model: model, inputShapes: inputShapes, dims: dims)
        self.shapes = shapes
        weights = WeightInventory(model: model, shapes: shapes)
        memory = try ActivationMemory.plan(graph: model.graph, shapes: shapes)

        let byName = weights.byName
        // Identity outputs of weights are the same storage under another name.
        var alias: [String: String] = [:]
        var counts: [String: Int] = [:]
        var infos: [NodeInfo] = []
        func visit(_ graph: Graph, path: String) throws {
            for index in try graph.topologicalOrder() {
                let node = graph.nodes[index]
                counts[node.isStandardDomain ? node.opType : "\(node.domain):\(node.opType)", default: 0] += 1
                if node.opType == "Identity", let i = node.input(0), let o = node.outputs.first {
                    let root = alias[i] ?? i
                    if byName[root] != nil { alias[o] = root }
                }
                var params = 0, bytes = 0
                var seen = Set<String>()
                if node.opType != "Identity" {
                    for input in node.inputs where !input.isEmpty {
                        let root = alias[input] ?? input
                        guard seen.insert(root).inserted, let w = byName[root], w.isParameter else { continue }
                        params += w.elements
                        bytes += w.bytes
                    }
                }
                let inputTypes = node.inputs.map { $0.isEmpty ? nil : shapes.types[$0] }
                let outputTypes = node.outputs.map { $0.isEmpty ? nil : shapes.types[$0] }
                let staticNode = !node.outputs.isEmpty && node.outputs.allSatisfy { $0.isEmpty || shapes.staticValues.contains($0) }
                // Folded nodes (weight generators, shape arithmetic) cost nothing at run time.
                let cost = staticNode ? ComputeCost.zero : ComputeCostModel.cost(of: node, inputs: inputTypes, outputs: outputTypes)
                infos.append(NodeInfo(name: node.displayName, opType: node.opType, domain: node.domain, graphPath: path,
                                      outputs: Array(zip(node.outputs, outputTypes)).map { (name: $0.0, type: $0.1) },
                                      parameters: params, weightBytes: bytes, cost: cost,
                                      shapeRuleKnown: ShapeInference.rule(for: node) != nil))
                for attribute in node.attributes {
                    switch attribute.value {
                    case .graph(let g): try visit(g, path: (path.isEmpty ? "" : path + "/") + "\(node.displayName)/\(attribute.name)")
                    case .graphs(let gs):
                        for (k, g) in gs.enumerated() {
                            try visit(g, path: (path.isEmpty ? "" : path + "/") + "\(node.displayName)/\(attribute.name)[\(k)]")
                        }
                    default: break
                    }
                }
            }
        }
        try visit(model.graph, path: "")
        nodes = infos
        opCounts = counts
    }
}
