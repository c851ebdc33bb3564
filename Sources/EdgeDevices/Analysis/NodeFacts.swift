import EdgeAnalysis
import EdgeIR

/// What the device analysis needs to know about one main-graph node that survives to run time:
/// its operator, tensors, cost class and the figures the roofline uses. Built once per model
/// from `ModelAnalysis` (which owns shapes, MACs/FLOPs and weight bytes; nothing is recomputed
/// here) and shared by every device and precision.
public struct NodeFacts: Sendable {
    public var index: Int
    public var name: String
    public var opType: String
    public var domain: String
    /// Operator type as device operator lists spell it: `ai.edgeopt::FusedConv` → `Conv`,
    /// `FusedGemm` → `Gemm` (the fused activation is part of the same layer on every toolchain).
    public var baseOpType: String
    public var node: Node
    public var opClass: OpClass
    public var macs: Int
    /// FLOPs of the node and of any subgraph it carries (If/Loop bodies).
    public var flops: Int
    public var costKnown: Bool
    /// Parameter bytes as stored in the model (usually FP32).
    public var weightBytes: Int
    /// Parameter elements, so byte counts can be re-expressed at the deployment precision.
    public var weightElements: Int
    /// Non-weight inputs (activations) and their element counts (nil when unknown).
    public var activationInputs: [(name: String, elements: Int?)]
    public var outputs: [(name: String, elements: Int?)]
    /// Shapes of inputs and outputs (nil when unknown), for operator constraints.
    public var inputShapes: [[Int]?]
    public var outputShapes: [[Int]?]
    /// Inputs that are compile-time constants (weights or folded values).
    public var constantInputs: Set<Int>
}

/// The run-time nodes of a model in schedule order, plus graph inputs/outputs. Nodes whose
/// outputs are all compile-time constants (weight generators such as the `ConstantOfShape`
/// placeholders of the arch-light models, shape arithmetic) are folded by every toolchain and
/// are left out: they neither run nor need operator support.
public struct ModelFacts: Sendable {
    public var nodes: [NodeFacts]
    public var analysis: ModelAnalysis
    /// Graph inputs that are not weights, with element counts (nil when a dimension is symbolic).
    public var inputs: [(name: String, elements: Int?)]
    public var outputs: [(name: String, elements: Int?)]
    /// Names of graph inputs whose shape is not fully known.
    public var dynamicInputs: [String]
    public var onnxOpset: Int?
    /// Bytes per parameter element in the model as stored (4 for an FP32 export).
    public var storedParameterBytes: Int { analysis.weights.parameterBytes }
    public var totalMACs: Int { nodes.reduce(0) { $0 + $1.macs } }

    public init(model: Model, analysis: ModelAnalysis) throws {
        self.analysis = analysis
        let shapes = analysis.shapes
        let weightNames = Set(analysis.weights.entries.map(\.name))
        let graph = model.graph
        func elements(_ name: String) -> Int? { shapes.types[name]?.fixedShape.map { $0.reduce(1, *) } }
        func isConstant(_ name: String) -> Bool { weightNames.contains(name) || shapes.staticValues.contains(name) }

        // ModelAnalysis lists main-graph nodes in topological order, each followed by its
        // subgraph nodes; fold subgraph costs into their parent.
        var mainInfos: [ModelAnalysis.NodeInfo] = []
        var subFlops: [Int] = []
        for info in analysis.nodes {
            if info.graphPath.isEmpty {
                mainInfos.append(info)
                subFlops.append(0)
            } else if !subFlops.isEmpty {
                subFlops[subFlops.count - 1] += info.cost.flops
            }
        }
        let order = try graph.topologicalOrder()
        guard order.count == mainInfos.count else {
            throw EdgeError(.internalError, "device analysis: \(order.count) scheduled nodes but \(mainInfos.count) analysed")
        }
        var facts: [NodeFacts] = []
        for (k, index) in order.enumerated() {
            let node = graph.nodes[index]
            let info = mainInfos[k]
            let live = node.outputs.filter { !$0.isEmpty }
            if !live.isEmpty && live.allSatisfy({ shapes.staticValues.contains($0) }) { continue }
            if node.opType == "Constant" { continue }
            let base: String
            switch (node.domain, node.opType) {
            case ("ai.edgeopt", "FusedConv"), ("com.microsoft", "FusedConv"): base = "Conv"
            case ("ai.edgeopt", "FusedGemm"), ("com.microsoft", "FusedGemm"): base = "Gemm"
            default: base = node.opType
            }
            var group = 1
            var channels: Int?
            if base == "Conv" || base == "ConvTranspose" {
                group = Int(node.int("group") ?? 1)
                if let x = node.input(0), let s = shapes.types[x]?.fixedShape, s.count >= 2 { channels = s[1] }
            }
            var activationInputs: [(String, Int?)] = []
            var constantInputs = Set<Int>()
            for (i, input) in node.inputs.enumerated() where !input.isEmpty {
                if isConstant(input) { constantInputs.insert(i) } else { activationInputs.append((input, elements(input))) }
            }
            let weightElements = info.parameters
            facts.append(NodeFacts(
                index: index, name: node.displayName, opType: node.opType, domain: node.domain, baseOpType: base,
                node: node, opClass: OpClass.of(opType: base, group: group, channels: channels),
                macs: info.cost.macs, flops: info.cost.flops + subFlops[k], costKnown: info.cost.known,
                weightBytes: info.weightBytes, weightElements: weightElements,
                activationInputs: activationInputs,
                outputs: live.map { ($0, elements($0)) },
                inputShapes: node.inputs.map { $0.isEmpty ? nil : shapes.types[$0]?.fixedShape },
                outputShapes: node.outputs.map { $0.isEmpty ? nil : shapes.types[$0]?.fixedShape },
                constantInputs: constantInputs))
        }
        nodes = facts
        let inputNames = graph.inputs.map(\.name).filter { !weightNames.contains($0) }
        inputs = inputNames.map { ($0, elements($0)) }
        dynamicInputs = inputNames.filter { elements($0) == nil }
        outputs = graph.outputs.map { ($0.name, elements($0.name)) }
        onnxOpset = model.onnxOpsetVersion.map { Int($0) }
    }
}
