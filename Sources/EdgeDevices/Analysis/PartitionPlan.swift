/// Which nodes run on the accelerator and which on the fallback engine, following the
/// toolchain's partition rule, and which tensors cross between the two.
public struct PartitionPlan: Sendable {
    /// Per `ModelFacts.nodes` entry.
    public var onAccelerator: [Bool]
    /// Nodes the accelerator cannot run, with the reason (the first one is what cut the graph
    /// under `first-contiguous-subgraph`).
    public var unsupported: [(node: Int, reason: String)]
    /// Supported nodes that still run on the fallback because they come after the cut.
    public var displacedBySupport: Int
    /// False when the graph cannot be deployed at all (whole-graph rule, or no fallback).
    public var deployable: Bool
    /// Values produced on one side and read on the other (each counted once), with elements.
    public var crossings: [(name: String, elements: Int?)]
    /// Number of contiguous accelerator segments in schedule order.
    public var acceleratorSegments: Int

    public static func make(_ facts: ModelFacts, operators: OperatorSupport, rule: PartitionRule) -> PartitionPlan {
        let reasons = facts.nodes.map { OpSupportCheck.reason($0, support: operators, opset: facts.onnxOpset) }
        var unsupported: [(Int, String)] = []
        for (k, r) in reasons.enumerated() { if let r { unsupported.append((k, r)) } }
        var on = reasons.map { $0 == nil }
        var displaced = 0
        var deployable = true
        switch rule.rule {
        case .firstContiguousSubgraph:
            // edgetpu_compiler: the first unsupported node (in schedule order) ends the mapped
            // subgraph; it and every node after it run on the CPU, supported or not.
            if let cut = unsupported.first?.0 {
                for k in cut..<on.count where on[k] { on[k] = false; displaced += 1 }
            }
        case .multipleSubgraphs:
            break
        case .wholeGraph:
            // All or nothing for the accelerator compiler; a device-side CPU (Ascend AI CPU)
            // can still take the operators it rejects.
            if !unsupported.isEmpty && rule.fallback == .none { deployable = false }
        }
        if !unsupported.isEmpty && rule.fallback == .none { deployable = false }

        var side: [String: Bool] = [:]
        for (k, n) in facts.nodes.enumerated() { for o in n.outputs { side[o.name] = on[k] } }
        var crossings: [(String, Int?)] = []
        var seen = Set<String>()
        for (k, n) in facts.nodes.enumerated() {
            for input in n.activationInputs {
                if let s = side[input.name], s != on[k], seen.insert(input.name).inserted { crossings.append(input) }
            }
        }
        var segments = 0
        var previous = false
        for v in on { if v && !previous { segments += 1 }; previous = v }
        return PartitionPlan(onAccelerator: on, unsupported: unsupported, displacedBySupport: displaced,
                             deployable: deployable, crossings: crossings, acceleratorSegments: segments)
    }
}
