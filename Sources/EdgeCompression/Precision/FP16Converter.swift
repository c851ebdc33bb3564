import EdgeIR
import EdgeTransforms
import Foundation

public struct FP16ConversionOptions: Sendable {
    /// Keep float32 graph inputs and outputs (Casts at the boundary), as onnxconverter-common's
    /// `keep_io_types`. Off, float graph inputs and outputs are declared float16.
    public var keepIOTypes = true
    /// Nodes (by name) that stay float32.
    public var excludedNodes: Set<String> = []
    /// When set, only these nodes (by name) are converted and every other node stays as it is
    /// (mixed precision: the FP16 layers of an otherwise INT8/FP32 model).
    public var onlyNodes: Set<String>? = nil
    /// With `onlyNodes`: also convert unselected nodes whose float activation inputs are all
    /// float16 (the Relu, pooling and reshaping after an FP16 layer), so that consecutive FP16
    /// layers do not Cast to float32 and back between them. Excluded nodes and Q/DQ stay.
    public var extendSelection = false
    /// Activations seen beyond the float16 range (|x| > 65504) on calibration data: their producer
    /// and consumers stay float32.
    public var overflowingValues: Set<String> = []
    public init() {}
}

/// What an FP16 conversion did.
public struct FP16ConversionSummary: Sendable, Codable, Equatable {
    public struct KeptNode: Sendable, Codable, Equatable {
        public var node: String
        public var op: String
        public var reason: String
    }
    public var convertedNodes: Int = 0
    /// Nodes with float inputs or outputs that stay float32, and why (graph order).
    public var float32Nodes: [KeptNode] = []
    public var convertedWeights: Int = 0
    /// Float weights left in float32 because a value exceeds the float16 range.
    public var overflowingWeights: [String] = []
    /// Weights read both in float16 and float32, stored twice.
    public var duplicatedWeights: Int = 0
    public var castsInserted: Int = 0
    public var weightBytesBefore: Int = 0
    public var weightBytesAfter: Int = 0
}

/// FP16 conversion: float32 weights become float16 and float32 compute runs in float16.
///
/// Every node is classified as converted (its float inputs and outputs become float16) or kept
/// (float32), then each value is stored in the precision of its producer and a `Cast` is inserted
/// where a consumer needs the other precision (one Cast per value and direction, shared by all
/// such consumers). Weights (initializers and `Constant` nodes) are converted when every reader
/// wants float16, kept when every reader wants float32, and stored twice otherwise.
///
/// A node stays float32 when: it is excluded or not selected; it is in a non-standard domain or
/// holds a subgraph (If/Loop/Scan bodies read outer values by name); its float output type is set
/// by a `dtype` attribute; a value it reads or writes has no known type; its schema at the
/// model's opset has a float32-only output that is used (`FP16TypeRules`); it reads a float
/// weight with a finite |x| > 65504 (float16's largest finite value, so the weight stays exact);
/// it reads or writes an activation seen beyond that range; or it only computes a static value
/// (from weights alone) that only float32 positions read (Resize scales computed by `Mul`).
/// Converted `Cast` nodes with `to = FLOAT` get `to = FLOAT16`; converted `ConstantOfShape`
/// nodes get a float16 `value` (the absent default, float32 zero, becomes a float16 zero).
/// Float32-only inputs of converted nodes (Resize scales and roi, QuantizeLinear scales below
/// opset 19, …) read float32 values.
public enum FP16Converter {
    /// Largest finite float16 value.
    public static let float16Max: Float = 65504

    enum Precision: Hashable { case fp16, fp32, asIs }

    public static func convert(_ model: Model, options: FP16ConversionOptions = FP16ConversionOptions()) throws -> (model: Model, summary: FP16ConversionSummary) {
        let opset = Int(model.onnxOpsetVersion ?? 1)
        let inference = try ShapeInference.infer(model: model)
        var graph = model.graph
        let context = PassContext(model: model)
        var summary = FP16ConversionSummary()
        summary.weightBytesBefore = StaticQuantizer.weightBytes(graph)

        // Weights: initializers and Constant-node outputs.
        var weights: [String: Tensor] = [:]
        var constantNode: [String: Int] = [:]
        for (name, t) in graph.initializers { weights[name] = t }
        for (i, node) in graph.nodes.enumerated() {
            if let v = node.constantValue, let out = node.outputs.first {
                weights[out] = v
                constantNode[out] = i
            }
        }
        func isFloat(_ name: String) -> Bool {
            if let w = weights[name] { return w.dtype == .float }
            return inference.types[name]?.elementType == .float
        }
        func typeKnown(_ name: String) -> Bool { weights[name] != nil || inference.types[name] != nil }
        var overflowing = Set<String>()
        for (name, w) in weights where w.dtype == .float && exceedsFloat16(w) { overflowing.insert(name) }

        var captured = Set<String>()
        for node in graph.nodes { for sub in node.subgraphs { captured.formUnion(sub.outerScopeReferences()) } }
        let graphOutputs = Set(graph.outputs.map(\.name))
        let graphInputs = Set(graph.runtimeInputs.map(\.name))

        // 1. Decide, in graph (topological) order.
        var converted = [Bool](repeating: false, count: graph.nodes.count)
        var keptReason = [String?](repeating: nil, count: graph.nodes.count)
        var precisionOf: [String: Precision] = [:]  // activations only
        for name in graphInputs where isFloat(name) { precisionOf[name] = options.keepIOTypes ? .fp32 : .fp16 }
        for (i, node) in graph.nodes.enumerated() {
            if constantNode[node.outputs.first ?? ""] == i { continue }
            let floatInputs = node.inputs.filter { !$0.isEmpty && isFloat($0) }
            let floatOutputs = node.outputs.filter { !$0.isEmpty && isFloat($0) }
            let touchesFloat = !floatInputs.isEmpty || !floatOutputs.isEmpty || node.opType == "ConstantOfShape" || node.opType == "Cast"
            guard touchesFloat else { continue }
            var reason = keepReason(node, index: i, opset: opset, options: options, typeKnown: typeKnown, isFloat: isFloat,
                                    overflowingWeights: overflowing, captured: captured)
            if reason == nil, let only = options.onlyNodes, !only.contains(node.name) {
                let activations = floatInputs.filter { weights[$0] == nil }
                let follows = options.extendSelection && !activations.isEmpty && activations.allSatisfy { precisionOf[$0] == .fp16 }
                    && node.opType != "QuantizeLinear" && node.opType != "DequantizeLinear"
                if !follows { reason = "not selected for float16" }
            }
            if let reason {
                keptReason[i] = reason
            } else if floatOutputs.isEmpty && !FP16TypeRules.precisionAgnostic.contains(node.opType) && node.opType != "Cast" && node.opType != "ConstantOfShape" {
                // Comparisons, ArgMax, …: worth converting only when an input already is float16.
                converted[i] = floatInputs.contains { precisionOf[$0] == .fp16 }
            } else {
                converted[i] = true
            }
            if node.opType == "ConstantOfShape", converted[i], let v = node.tensor("value"), v.dtype != .float {
                converted[i] = false  // an integer or bool fill: nothing to convert
            }
            if node.opType == "Cast", node.int("to") != Int64(DType.float.rawValue) {
                // A Cast to an integer or other type reads its input as produced (no Cast before
                // a Cast; shape arithmetic stays exact when its producer is float32).
                converted[i] = false
                keptReason[i] = nil
            }
            let outputs32 = FP16TypeRules.float32Outputs(node, opset: opset)
            for (k, out) in node.outputs.enumerated() where !out.isEmpty {
                let float = isFloat(out) || (node.opType == "ConstantOfShape" && (node.tensor("value")?.dtype ?? .float) == .float)
                guard float else { continue }
                precisionOf[out] = converted[i] && !outputs32.contains(k) ? .fp16 : .fp32
            }
        }

        // 2. Requests: which precision each reader wants for each float input.
        func requests(_ i: Int) -> [(Int, Precision)] {
            let node = graph.nodes[i]
            var result: [(Int, Precision)] = []
            let inputs32 = FP16TypeRules.float32Inputs(node, opset: opset)
            for (k, input) in node.inputs.enumerated() where !input.isEmpty && isFloat(input) {
                if FP16TypeRules.precisionAgnostic.contains(node.opType) || (node.opType == "Cast" && node.int("to") != Int64(DType.float.rawValue)) {
                    result.append((k, .asIs))
                    continue
                }
                result.append((k, converted[i] && !inputs32.contains(k) ? .fp16 : .fp32))
            }
            return result
        }
        // Static chains read only by float32 positions stay float32 (reverse order: readers first).
        let consumers = graph.consumerIndices()
        for i in graph.nodes.indices.reversed() where converted[i] {
            let node = graph.nodes[i]
            guard node.inputs.allSatisfy({ $0.isEmpty || inference.staticValues.contains($0) || weights[$0] != nil }) else { continue }
            let outs = node.outputs.filter { !$0.isEmpty && precisionOf[$0] == .fp16 }
            guard !outs.isEmpty else { continue }
            let allFloat32 = outs.allSatisfy { out in
                if graphOutputs.contains(out) && options.keepIOTypes == false { return false }
                return (consumers[out] ?? []).allSatisfy { c in
                    requests(c).allSatisfy { k, p in graph.nodes[c].inputs[k] != out || p == .fp32 }
                }
            }
            if allFloat32 {
                converted[i] = false
                keptReason[i] = "computes a static value read only in float32"
                for out in outs { precisionOf[out] = .fp32 }
            }
        }

        // 3. Weights: convert, keep, or duplicate.
        var weightRequests: [String: Set<Precision>] = [:]
        for i in graph.nodes.indices {
            for (k, p) in requests(i) where p != .asIs {
                let name = graph.nodes[i].inputs[k]
                if weights[name] != nil { weightRequests[name, default: []].insert(p) }
            }
        }
        for name in captured where weights[name] != nil { weightRequests[name, default: []].insert(.fp32) }
        for name in graphOutputs where weights[name] != nil { weightRequests[name, default: []].insert(options.keepIOTypes ? .fp32 : .fp16) }
        var fp16WeightName: [String: String] = [:]  // weights read in float16 under another name
        var extraInitializers: [(String, Tensor)] = []
        for name in weightRequests.keys.sorted() where weights[name]!.dtype == .float {
            let wanted = weightRequests[name]!
            guard wanted.contains(.fp16) else { continue }
            let half = float16Tensor(weights[name]!)
            if !wanted.contains(.fp32) {
                if let i = constantNode[name] {
                    graph.nodes[i].attributes = [Attribute("value", .tensor(half))]
                } else {
                    graph.initializers[name] = half
                    if let k = graph.inputs.firstIndex(where: { $0.name == name }), var t = graph.inputs[k].tensorType {
                        t.elementType = .float16
                        graph.inputs[k].type = .tensor(t)
                    }
                }
                summary.convertedWeights += 1
            } else {
                let copy = context.freshName(name + "_fp16")
                extraInitializers.append((copy, half))
                fp16WeightName[name] = copy
                summary.duplicatedWeights += 1
            }
        }
        summary.overflowingWeights = overflowing.filter { weightRequests[$0] != nil }.sorted()

        // 4. Casts for activations whose readers want the other precision.
        var alternate: [String: String] = [:]      // value → name of its other-precision version
        var castAfter: [Int: [Node]] = [:]         // producer index → Casts emitted after it
        var prefix: [Node] = []
        var renamedOutputs: [String: String] = [:] // graph output produced in fp16 → its fp16 name
        let producer = graph.producerIndex()
        func castNode(from: String, to: String, dtype: DType) -> Node {
            summary.castsInserted += 1
            return Node(name: context.freshName(to + "_cast"), opType: "Cast", inputs: [from], outputs: [to],
                        attributes: [Attribute("to", .int(Int64(dtype.rawValue)))])
        }
        func other(_ p: Precision) -> DType { p == .fp16 ? .float : .float16 }
        func need(_ value: String, as wanted: Precision) -> String {
            guard let have = precisionOf[value], wanted != .asIs, wanted != have else { return value }
            if let name = alternate[value] { return name }
            let name = context.freshName(value + (wanted == .fp16 ? "_fp16" : "_fp32"))
            alternate[value] = name
            let cast = castNode(from: value, to: name, dtype: other(have))
            if let p = producer[value] { castAfter[p, default: []].append(cast) } else { prefix.append(cast) }
            return name
        }
        // Graph outputs keep their declared precision under their own name.
        for output in graph.outputs where precisionOf[output.name] != nil {
            let wanted: Precision = options.keepIOTypes ? .fp32 : .fp16
            guard let have = precisionOf[output.name], have != wanted else { continue }
            let inner = context.freshName(output.name + (have == .fp16 ? "_fp16" : "_fp32"))
            renamedOutputs[output.name] = inner
            // The producer writes `inner`; readers in the graph that want `have` read `inner`,
            // those that want `wanted` read the output's own name (written by the Cast).
            if let p = producer[output.name] {
                castAfter[p, default: []].append(castNode(from: inner, to: output.name, dtype: other(have)))
            }
        }
        var nodes: [Node] = []
        var rewritten = graph.nodes
        for i in rewritten.indices {
            if constantNode[rewritten[i].outputs.first ?? ""] == i { continue }
            for (k, p) in requests(i) {
                let input = rewritten[i].inputs[k]
                if let copy = fp16WeightName[input], p == .fp16 { rewritten[i].inputs[k] = copy; continue }
                if weights[input] != nil { continue }
                if let inner = renamedOutputs[input] {
                    rewritten[i].inputs[k] = p == precisionOf[input] || p == .asIs ? inner : input
                } else {
                    rewritten[i].inputs[k] = need(input, as: p)
                }
            }
            for (k, out) in rewritten[i].outputs.enumerated() { if let inner = renamedOutputs[out] { rewritten[i].outputs[k] = inner } }
            if converted[i] {
                summary.convertedNodes += 1
                retype(&rewritten[i])
            } else if let reason = keptReason[i] {
                summary.float32Nodes.append(.init(node: rewritten[i].displayName, op: rewritten[i].opType, reason: reason))
            }
        }
        // Subgraph captures read the float32 value.
        for i in rewritten.indices where !rewritten[i].subgraphs.isEmpty {
            for name in rewritten[i].subgraphs.flatMap({ $0.outerScopeReferences() }) where precisionOf[name] == .fp16 {
                throw EdgeError.internalError("fp16 conversion: '\(name)' read by the body of '\(rewritten[i].displayName)' became float16")
            }
        }
        nodes.append(contentsOf: prefix)
        for i in rewritten.indices {
            nodes.append(rewritten[i])
            nodes.append(contentsOf: castAfter[i] ?? [])
        }
        graph.nodes = nodes
        for (name, t) in extraInitializers { graph.initializers[name] = t }

        // Declared types.
        func retyped(_ info: ValueInfo, to dtype: DType) -> ValueInfo {
            guard var t = info.tensorType, t.elementType == .float else { return info }
            var copy = info
            t.elementType = dtype
            copy.type = .tensor(t)
            return copy
        }
        if !options.keepIOTypes {
            graph.inputs = graph.inputs.map { graphInputs.contains($0.name) ? retyped($0, to: .float16) : $0 }
            graph.outputs = graph.outputs.map { precisionOf[$0.name] != nil ? retyped($0, to: .float16) : $0 }
        }
        graph.valueInfo = graph.valueInfo.map { precisionOf[$0.name] == .fp16 && !graphOutputs.contains($0.name) ? retyped($0, to: .float16) : $0 }

        var result = model
        result.graph = graph
        summary.weightBytesAfter = StaticQuantizer.weightBytes(graph)
        return (result, summary)

        // Converted nodes whose own attributes carry a float type.
        func retype(_ node: inout Node) {
            switch node.opType {
            case "Cast":
                if node.int("to") == Int64(DType.float.rawValue) { node.setAttribute("to", .int(Int64(DType.float16.rawValue))) }
            case "ConstantOfShape":
                let value = node.tensor("value") ?? Tensor(shape: [1], scalars: [Float(0)])
                if value.dtype == .float { node.setAttribute("value", .tensor(float16Tensor(value))) }
            default:
                break
            }
        }
    }

    /// Why node `i` stays float32, or nil when it may be converted.
    static func keepReason(_ node: Node, index: Int, opset: Int, options: FP16ConversionOptions,
                           typeKnown: (String) -> Bool, isFloat: (String) -> Bool,
                           overflowingWeights: Set<String>, captured: Set<String>) -> String? {
        if options.excludedNodes.contains(node.name) { return "excluded" }
        if !node.isStandardDomain { return "operator domain '\(node.domain)'" }
        if !node.subgraphs.isEmpty { return "holds a subgraph" }
        if FP16TypeRules.attributeTyped.contains(node.opType) { return "output type set by its dtype attribute" }
        let names = (node.inputs + node.outputs).filter { !$0.isEmpty }
        if let unknown = names.first(where: { !typeKnown($0) }) { return "type of '\(unknown)' unknown" }
        let outputs32 = FP16TypeRules.float32Outputs(node, opset: opset)
        if outputs32.contains(where: { $0 < node.outputs.count && !node.outputs[$0].isEmpty && isFloat(node.outputs[$0]) }) {
            return "float32-only output at opset \(opset)"
        }
        let inputs32 = FP16TypeRules.float32Inputs(node, opset: opset)
        for (k, input) in node.inputs.enumerated() where !inputs32.contains(k) && overflowingWeights.contains(input) {
            return "weight '\(input)' exceeds the float16 range (|x| > 65504)"
        }
        if node.opType == "ConstantOfShape", let v = node.tensor("value"), v.dtype == .float, exceedsFloat16(v) {
            return "fill value exceeds the float16 range"
        }
        if let big = names.first(where: { options.overflowingValues.contains($0) }) {
            return "activation '\(big)' exceeds the float16 range on the calibration data"
        }
        if node.outputs.contains(where: { captured.contains($0) }) { return "output read by a subgraph" }
        return nil
    }

    /// True when a finite element's magnitude exceeds float16's largest finite value.
    public static func exceedsFloat16(_ t: Tensor) -> Bool {
        guard t.dtype == .float else { return false }
        return t.withUnsafeBytes { raw in
            raw.bindMemory(to: Float.self).contains { $0.isFinite && abs($0) > float16Max }
        }
    }

    /// Round-to-nearest-even float16 copy of a float32 tensor.
    public static func float16Tensor(_ t: Tensor) -> Tensor {
        let n = t.elementCount
        let storage = OwnedStorage(byteCount: n * 2)
        t.withUnsafeBytes { raw in
            let src = raw.bindMemory(to: Float.self)
            let dst = storage.mutableBaseAddress.bindMemory(to: Float16.self, capacity: n)
            for i in 0..<n { dst[i] = Float16(src[i]) }
        }
        return Tensor(dtype: .float16, shape: t.shape, storage: storage)
    }
}
