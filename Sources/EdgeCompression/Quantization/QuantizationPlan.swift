import EdgeIR

/// Which tensors of a graph a scheme quantizes: activations (per tensor, calibrated) and weights
/// (int8, per channel along `axis` or per tensor), found before calibration so that calibration
/// observes exactly the activations that get Q/DQ pairs.
///
/// Compute operators (Conv, ConvTranspose, Gemm, MatMul) have their float activation inputs, their
/// constant float weights and their output quantized. The output is taken after a following
/// Relu/Clip when that is the float result's only consumer, so that DQ → op → Relu → Q is the
/// pattern integer engines fuse (ONNX Runtime's QDQ fusion, edgeopt's `QDQLowering`).
/// Add, Mul and GlobalAveragePool whose data inputs are all float activations have those inputs
/// and their output quantized (the output with its own calibrated scale), as onnxruntime's
/// `quantize_static` does: DQ → op → Q is the pattern ONNX Runtime fuses into
/// com.microsoft QLinearAdd / QLinearMul / QLinearGlobalAveragePool and `QDQLowering` lowers to
/// the same kernels, so both engines run these ops on integers with the same arithmetic.
/// With `quantizeEverything`, every float tensor a node reads (not a constant, not computed only
/// from constants) and every graph output is quantized too.
public struct QuantizationPlan: Sendable {
    public struct WeightUse: Sendable, Hashable {
        public var node: Int
        public var input: Int
        /// Channel axis of the per-channel scale (nil: per tensor).
        public var axis: Int?
    }
    public struct BiasUse: Sendable, Hashable {
        public var node: Int
        public var input: Int
        /// The quantized activation and weight whose scales make the bias scale.
        public var activation: String
        public var weightInput: Int
    }

    /// Activation tensors in graph order.
    public var activations: [String] = []
    public var weights: [WeightUse] = []
    public var biases: [BiasUse] = []
    public var quantizedNodes: [Int] = []

    public static let computeOps: Set<String> = ["Conv", "ConvTranspose", "Gemm", "MatMul"]
    /// Ops quantized with their own output scale when all their data inputs are activations.
    public static let integerFusedOps: Set<String> = ["Add", "Mul", "GlobalAveragePool"]

    public init(graph: Graph, scheme: QuantizationScheme, types: [String: TensorType], staticValues: Set<String>, excluded: Set<String> = []) {
        var constants: [String: Tensor] = [:]
        for (name, t) in graph.initializers { constants[name] = t }
        for node in graph.nodes { if let v = node.constantValue, let out = node.outputs.first { constants[out] = v } }
        let consumers = graph.consumerIndices()
        let graphOutputs = Set(graph.outputs.map(\.name))
        var chosen = Set<String>()
        func isFloatActivation(_ name: String) -> Bool {
            guard !name.isEmpty, constants[name] == nil, !staticValues.contains(name) else { return false }
            if let t = types[name] { return t.elementType == .float }
            return true
        }
        func add(_ name: String) {
            guard isFloatActivation(name), !chosen.contains(name) else { return }
            chosen.insert(name)
            activations.append(name)
        }
        func floatWeight(_ name: String) -> Tensor? {
            guard let t = constants[name], t.dtype == .float, t.elementCount > 1 else { return nil }
            return t
        }
        let producers = graph.producerIndex()
        // A Relu/Clip that is the sole reader of a compute op's result is fused into that op's
        // requantization (see below), so its input gets no Q/DQ of its own even when every tensor
        // is quantized: one rounding instead of two, and integer engines fuse the pattern.
        func isFusedActivation(_ node: Node) -> Bool {
            guard ["Relu", "Clip"].contains(node.opType), let x = node.inputs.first, let p = producers[x],
                  PlanRules.isCompute(graph.nodes[p]), !excluded.contains(graph.nodes[p].name),
                  consumers[x]?.count == 1, !graphOutputs.contains(x) else { return false }
            return true
        }
        for (index, node) in graph.nodes.enumerated() where node.isStandardDomain && !excluded.contains(node.name) {
            if scheme.quantizeEverything, node.opType != "Constant", node.opType != "QuantizeLinear", node.opType != "DequantizeLinear",
               !isFusedActivation(node) {
                for input in node.inputs { add(input) }
            }
            if QuantizationPlan.integerFusedOps.contains(node.opType), node.outputs.count == 1,
               let output = node.outputs.first, isFloatActivation(output),
               !node.inputs.isEmpty, node.inputs.allSatisfy(isFloatActivation),
               node.opType != "GlobalAveragePool" || (types[node.inputs[0]]?.shape?.count ?? 0) >= 3 {
                for input in node.inputs { add(input) }
                add(output)
                quantizedNodes.append(index)
                continue
            }
            guard PlanRules.isCompute(node) else { continue }
            let weightInput: Int
            let axis: Int?
            switch node.opType {
            case "Conv":
                weightInput = 1
                axis = 0
            case "ConvTranspose":
                weightInput = 1
                // W is [C_in, C_out/group, k...]; per output channel needs axis 1, which only
                // matches a scale vector of length C_out when group == 1.
                let group = node.int("group") ?? 1
                axis = group == 1 ? 1 : nil
            case "Gemm":
                weightInput = 1
                let transB = node.int("transB") ?? 0
                axis = transB != 0 ? 0 : 1
            default: // MatMul: B is [..., K, N]; a channel is an output column, the last axis.
                weightInput = 1
                let rank = node.inputs.count > 1 ? (constants[node.inputs[1]]?.rank ?? 0) : 0
                axis = rank >= 2 ? rank - 1 : nil
            }
            var quantized = false
            for (k, input) in node.inputs.enumerated() where k < 2 {
                if k == weightInput, let w = floatWeight(input) {
                    let a = scheme.weightGranularity == .perTensor ? nil : axis
                    if let a, a >= w.rank { continue }
                    weights.append(WeightUse(node: index, input: k, axis: a))
                    quantized = true
                } else if isFloatActivation(input) {
                    add(input)
                    quantized = true
                }
            }
            guard quantized else { continue }
            quantizedNodes.append(index)
            // Bias (Conv input 2, Gemm C of shape [N]) becomes int32 with scale x_scale·w_scale.
            let biasInput = 2
            if node.opType == "Conv" || node.opType == "Gemm", node.inputs.count > biasInput,
               let b = floatWeight(node.inputs[biasInput]) ?? constants[node.inputs[biasInput]].flatMap({ $0.dtype == .float ? $0 : nil }),
               b.rank == 1, isFloatActivation(node.inputs[0]),
               weights.contains(where: { $0.node == index && $0.input == weightInput }) {
                biases.append(BiasUse(node: index, input: biasInput, activation: node.inputs[0], weightInput: weightInput))
            }
            // Output, after a Relu/Clip that is the sole consumer.
            var output = node.outputs.first ?? ""
            while !graphOutputs.contains(output), let users = consumers[output], users.count == 1,
                  ["Relu", "Clip"].contains(graph.nodes[users[0]].opType), graph.nodes[users[0]].isStandardDomain {
                output = graph.nodes[users[0]].outputs.first ?? ""
            }
            add(output)
        }
        if scheme.quantizeEverything { for output in graph.outputs { add(output.name) } }
        // Keep graph order (producers before consumers) for readable output.
        let order = Dictionary(graph.nodes.enumerated().flatMap { i, n in n.outputs.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
        activations.sort { (order[$0] ?? -1, $0) < (order[$1] ?? -1, $1) }
    }
}

enum PlanRules {
    static func isCompute(_ node: Node) -> Bool {
        node.isStandardDomain && QuantizationPlan.computeOps.contains(node.opType)
    }
}
