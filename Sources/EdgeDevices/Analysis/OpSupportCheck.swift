/// Decides whether one node runs on an engine, from the profile's `operators` block. Constraints
/// the checker can evaluate (rank, non-unit dims, element counts, strides, dilations, kernel
/// size, input count, constant weights, static shapes) are evaluated; a failed one
/// is the reason, naming the node and the limit.
public enum OpSupportCheck {
    /// nil when the node runs on the engine, else why not. The model's opset is checked once per
    /// model (`DeviceFit`): an opset conversion fixes it for every node at once.
    public static func reason(_ n: NodeFacts, support: OperatorSupport, opset: Int?) -> String? {
        let op = n.baseOpType
        let label = "\(n.name) (\(n.domain.isEmpty || n.domain == "ai.onnx" ? "" : n.domain + "::")\(n.opType))"
        let standard = n.domain.isEmpty || n.domain == "ai.onnx" || op != n.opType
        guard standard else { return "\(label): custom-domain operator" }
        guard support.accepts(opType: op) else { return "\(label): operator not supported" }
        // Limits apply to the tensors the engine holds at run time, not to constant weights
        // (a 4-D convolution kernel is laid out by the compiler).
        let shapes = n.inputShapes.enumerated().filter { !n.constantInputs.contains($0.offset) }.map(\.element) + n.outputShapes
        if support.staticShapes, n.inputShapes.enumerated().contains(where: { $0.element == nil && n.node.input($0.offset) != nil })
            || n.outputShapes.contains(where: { $0 == nil }) {
            return "\(label): shape not static"
        }
        if let r = limits(shapes, maxRank: support.maxRank, maxNonUnit: support.maxNonUnitDims, maxDim: support.maxDimension, maxElements: nil) {
            return "\(label): \(r)"
        }
        guard let rule = support.rule(for: op) else { return nil }
        if let r = limits(shapes, maxRank: rule.maxRank, maxNonUnit: rule.maxNonUnitDims, maxDim: nil, maxElements: rule.maxElements) {
            return "\(label): \(r)"
        }
        let node = n.node
        if rule.unitStrides == true, let s = node.ints("strides"), s.contains(where: { $0 != 1 }) {
            return "\(label): strides \(s) (unit strides only)"
        }
        if rule.equalDilations == true, let d = node.ints("dilations"), Set(d).count > 1 {
            return "\(label): unequal dilations \(d)"
        }
        if let maxKernel = rule.maxKernel {
            let kernel = node.ints("kernel_shape").map { $0.map(Int.init) }
                ?? (n.inputShapes.count > 1 ? n.inputShapes[1].map { Array($0.dropFirst(2)) } : nil) ?? []
            if let k = kernel.max(), k > maxKernel { return "\(label): kernel \(k) > \(maxKernel)" }
        }
        if let maxInputs = rule.maxInputs, node.inputs.filter({ !$0.isEmpty }).count > maxInputs {
            return "\(label): \(node.inputs.count) inputs > \(maxInputs)"
        }
        if rule.constantWeights == true, node.inputs.count > 1, !n.constantInputs.contains(1) {
            return "\(label): second operand is not a constant"
        }
        return nil
    }

    static func limits(_ shapes: [[Int]?], maxRank: Int?, maxNonUnit: Int?, maxDim: Int?, maxElements: Int?) -> String? {
        for case let s? in shapes {
            if let maxRank, s.count > maxRank { return "rank \(s.count) > \(maxRank) (shape \(s))" }
            if let maxNonUnit {
                // Only the innermost `maxNonUnit` dims may exceed 1.
                let outer = s.dropLast(maxNonUnit)
                if outer.contains(where: { $0 > 1 }) { return "shape \(s) has more than \(maxNonUnit) non-unit innermost dims" }
            }
            if let maxDim, let d = s.max(), d > maxDim { return "dimension \(d) > \(maxDim)" }
            if let maxElements, s.reduce(1, *) > maxElements { return "\(s.reduce(1, *)) elements > \(maxElements)" }
        }
        return nil
    }
}
