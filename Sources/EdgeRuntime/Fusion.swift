import EdgeIR
import EdgeKernels

/// Producer fusion done while a session compiles (the Graph itself is never changed):
///
///     Conv(X, W, B) → BatchNormalization(γ, β, μ, σ²)   ⇒   Conv(X, W', B')
///         W'[o] = W[o]·γ[o]/√(σ²[o]+ε),   B'[o] = (B[o] − μ[o])·γ[o]/√(σ²[o]+ε) + β[o]
///     Conv/Gemm → Relu | Clip | LeakyRelu | Sigmoid | HardSigmoid | HardSwish | Tanh
///         ⇒ the activation runs in the kernel's epilogue while the tile is in cache.
///     Conv/Gemm → x → Sigmoid → s, Mul(x, s)   (SiLU as exporters write it, x·σ(x))
///         ⇒ a SiLU epilogue; x is then read by exactly those two nodes.
///     Conv/Gemm → y, Add(y, z) or Sum(y, z) (either input order)   (a residual block's tail)
///         ⇒ z is added in the producer's epilogue, after the bias and before an activation fused next,
///           when z is available before the conv runs (a graph input, constant or an earlier
///           step's output) and the declared shapes, where known, are equal. The Add's own pass
///           over memory is gone, and with Relu after it the block tail is one pass.
///
/// Otherwise only when the intermediate value has a single reader and is not a graph output, the weights
/// and BN statistics are compile-time constants, and BN is in inference mode.
enum KernelFusion {
    static func isProducer(_ kernel: any OpKernel) -> Bool {
        if let conv = kernel as? ConvKernel { return conv.activation == .none }
        if let gemm = kernel as? GemmKernel { return gemm.activation == .none }
        return false
    }

    /// A kernel computing `producer` followed by `node`, or nil when `node` cannot be absorbed.
    static func absorb(_ node: Node, into producer: any OpKernel, opset: Int,
                       constants: (String) -> Tensor?) -> (kernel: any OpKernel, canAbsorbMore: Bool)? {
        guard node.isStandardDomain, node.outputs.count >= 1 else { return nil }
        if node.opType == "BatchNormalization", let conv = producer as? ConvKernel, conv.activation == .none, !conv.addsResidual {
            guard node.outputs.count == 1 || node.outputs.dropFirst().allSatisfy(\.isEmpty),
                  (node.int("training_mode") ?? 0) == 0, opset >= 7,
                  let w = conv.constantWeights, w.dtype == .float,
                  let scale = node.input(1).flatMap(constants), let bias = node.input(2).flatMap(constants),
                  let mean = node.input(3).flatMap(constants), let variance = node.input(4).flatMap(constants) else { return nil }
            let channels = w.shape[0]
            let g = scale.floatArray(), b = bias.floatArray(), m = mean.floatArray(), v = variance.floatArray()
            guard g.count == channels, b.count == channels, m.count == channels, v.count == channels else { return nil }
            let epsilon = Double(node.float("epsilon") ?? 1e-5)
            let perChannel = w.elementCount / max(channels, 1)
            var weights = w.floatArray()
            let oldBias = conv.constantBias?.floatArray() ?? [Float](repeating: 0, count: channels)
            guard oldBias.count == channels else { return nil }
            var newBias = [Float](repeating: 0, count: channels)
            for o in 0..<channels {
                let factor = Double(g[o]) / (Double(v[o]) + epsilon).squareRoot()
                for k in 0..<perChannel { weights[o * perChannel + k] = Float(Double(weights[o * perChannel + k]) * factor) }
                newBias[o] = Float((Double(oldBias[o]) - Double(m[o])) * factor + Double(b[o]))
            }
            let kernel = ConvKernel(fusing: conv, weights: Tensor(shape: w.shape, scalars: weights),
                                    bias: Tensor(shape: [channels], scalars: newBias))
            return (kernel, true)
        }
        guard let activation = activation(node, opset: opset, constants: constants) else { return nil }
        if let conv = producer as? ConvKernel, conv.activation == .none {
            let kernel = ConvKernel(fusing: conv, weights: conv.constantWeights, bias: conv.constantBias)
            kernel.activation = activation
            return (kernel, false)
        }
        if let gemm = producer as? GemmKernel, gemm.activation == .none {
            return (gemm.with(activation: activation), false)
        }
        return nil
    }

    /// For Add(a, b) or Sum(a, b): (index of the input a fusable conv computed, the other input) when the conv at
    /// `fusable[input]` can add the other input in its epilogue; nil otherwise. `availableBefore`
    /// tells whether a value exists before a given step runs (the skip must be ready when the conv
    /// runs, which is earlier than the Add in the schedule).
    static func residualAdd(_ node: Node, graph: Graph, fusable: [String: Int], steps: [(node: Node, kernel: any OpKernel)],
                            availableBefore: (String, Int) -> Bool) -> (input: Int, skip: String)? {
        // Sum of two inputs is the same Add (ResNets from the ONNX model zoo write their skips so).
        guard node.opType == "Add" || node.opType == "Sum", node.isStandardDomain, node.inputs.count == 2, node.outputs.count == 1,
              node.inputs[0] != node.inputs[1], !node.inputs.contains("") else { return nil }
        for k in 0..<2 {
            let y = node.inputs[k], z = node.inputs[1 - k]
            guard let at = fusable[y], acceptsResidual(steps[at].kernel),
                  availableBefore(z, at), !declaredShapesDiffer(y, z, graph: graph) else { continue }
            return (k, z)
        }
        return nil
    }

    /// True when both values have declared types whose element types or fixed shapes differ
    /// (a broadcasting Add: the epilogue adds only a same-shape z).
    static func declaredShapesDiffer(_ a: String, _ b: String, graph: Graph) -> Bool {
        guard case let .tensor(ta)? = graph.declaredType(of: a), case let .tensor(tb)? = graph.declaredType(of: b) else { return false }
        if ta.elementType != tb.elementType { return true }
        guard let sa = ta.shape, let sb = tb.shape else { return false }
        if sa.count != sb.count { return true }
        for (da, db) in zip(sa, sb) { if case let .fixed(x) = da, case let .fixed(y) = db, x != y { return true } }
        return false
    }

    /// A conv or Gemm with neither an activation nor a residual yet.
    static func acceptsResidual(_ kernel: any OpKernel) -> Bool {
        if let gemm = kernel as? GemmKernel { return gemm.activation == .none && !gemm.addsResidual }
        if let conv = kernel as? ConvKernel { return conv.activation == .none && !conv.addsResidual }
        return false
    }

    /// The conv or Gemm with its residual input enabled (input 3 of the fused step); nil when it
    /// does not accept one.
    static func absorbResidual(into producer: any OpKernel) -> (any OpKernel)? {
        guard acceptsResidual(producer) else { return nil }
        if let gemm = producer as? GemmKernel { return gemm.withResidual() }
        guard let conv = producer as? ConvKernel else { return nil }
        let kernel = ConvKernel(fusing: conv, weights: conv.constantWeights, bias: conv.constantBias)
        kernel.addsResidual = true
        return kernel
    }

    /// The index of the Mul completing x·sigmoid(x) when `sigmoid` is Sigmoid(x), x is read only
    /// by this Sigmoid and that Mul, and neither x nor sigmoid(x) is read elsewhere or is a graph
    /// output; else nil.
    static func siluMul(sigmoid: Node, index: Int, graph: Graph, consumers: [String: [Int]], graphOutputs: Set<String>) -> Int? {
        guard sigmoid.opType == "Sigmoid", sigmoid.isStandardDomain, sigmoid.outputs.count == 1,
              let x = sigmoid.input(0), let s = sigmoid.outputs.first, !graphOutputs.contains(s), !graphOutputs.contains(x),
              let sReaders = consumers[s], sReaders.count == 1, let xReaders = consumers[x], xReaders.count == 2 else { return nil }
        let mul = sReaders[0]
        let node = graph.nodes[mul]
        guard mul != index, node.opType == "Mul", node.isStandardDomain, node.inputs.count == 2, node.outputs.count == 1,
              Set(node.inputs) == [x, s], Set(xReaders) == [index, mul] else { return nil }
        return mul
    }

    /// The producer with a SiLU epilogue (y = x·σ(x) on its output tile); nil when it already has
    /// an activation.
    static func absorbSiLU(into producer: any OpKernel) -> (any OpKernel)? {
        if let conv = producer as? ConvKernel, conv.activation == .none {
            let kernel = ConvKernel(fusing: conv, weights: conv.constantWeights, bias: conv.constantBias)
            kernel.activation = .silu
            return kernel
        }
        if let gemm = producer as? GemmKernel, gemm.activation == .none { return gemm.with(activation: .silu) }
        return nil
    }

    static func activation(_ node: Node, opset: Int, constants: (String) -> Tensor?) -> Activation? {
        guard node.inputs.count >= 1, node.outputs.count == 1 else { return nil }
        switch node.opType {
        case "Relu": return .relu
        case "LeakyRelu": return .leakyRelu(alpha: node.float("alpha") ?? 0.01)
        case "Sigmoid": return .sigmoid
        case "Tanh": return .tanh
        case "HardSigmoid": return .hardSigmoid(alpha: node.float("alpha") ?? 0.2, beta: node.float("beta") ?? 0.5)
        case "HardSwish": return .hardSwish
        case "Clip":
            if opset < 11 { return .clip(min: node.float("min") ?? -.greatestFiniteMagnitude, max: node.float("max") ?? .greatestFiniteMagnitude) }
            var low = -Float.greatestFiniteMagnitude, high = Float.greatestFiniteMagnitude
            if let name = node.input(1) { guard let t = constants(name), t.elementCount == 1 else { return nil }; low = t.floatArray()[0] }
            if let name = node.input(2) { guard let t = constants(name), t.elementCount == 1 else { return nil }; high = t.floatArray()[0] }
            return .clip(min: low, max: high)
        default: return nil
        }
    }
}
