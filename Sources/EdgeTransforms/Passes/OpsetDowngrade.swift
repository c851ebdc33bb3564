import EdgeIR
import Foundation

/// The downward half of `ConvertOpset`: rewrites a graph written for opset `from` into one valid
/// at the older opset `target` (at least 11), for toolchains that stop at an older opset
/// (TensorRT 8.2 on JetPack 4: 13; ATC: 16).
///
/// For every default-domain node, `ONNXOperatorHistory` (generated from onnx's schemas) says at
/// which opsets the operator changed between `target` and `from`:
/// - a change that kept the signature (new element types only) needs nothing;
/// - a change of signature is undone by a migration below, which moves inputs back to
///   attributes (Split/Squeeze/Unsqueeze/Reduce* axes, Dropout ratio) or drops an attribute that
///   holds its default (select_last_index, allowzero, layout, dilations, saturate, …) and refuses
///   one that does not;
/// - an operator that did not exist yet is expanded into older ones (LayerNormalization, Gelu,
///   HardSwish, Mish, Swish, GreaterOrEqual, LessOrEqual, CastLike), or refused.
/// Refusals name the node, the operator and the opset, so a user knows exactly what blocks the
/// conversion. Same-signature changes that widened an attribute's values (Pad `wrap`, Resize
/// `half_pixel_symmetric`, Scatter `max`/`min`) are checked too.
struct OpsetDowngrade {
    static let oldestTarget = 11

    let from: Int
    let target: Int

    /// Signature changes (operator → opsets) that `migrate` undoes.
    static let migrated: [String: Set<Int>] = [
        "ArgMax": [12], "ArgMin": [12], "AveragePool": [19], "BatchNormalization": [14], "Cast": [19],
        "Constant": [12], "DequantizeLinear": [13, 21], "Dropout": [12], "GRU": [14], "LSTM": [14], "RNN": [14],
        "GatherND": [12], "Hardmax": [13], "LogSoftmax": [13], "Softmax": [13], "LpPool": [18], "Pad": [18],
        "QuantizeLinear": [13, 19, 21], "Reshape": [14], "Resize": [13, 18], "RoiAlign": [16],
        "ScatterElements": [16], "ScatterND": [16], "Shape": [15], "Split": [13, 18], "Squeeze": [13], "Unsqueeze": [13],
        "ReduceSum": [13], "ReduceMean": [18], "ReduceMax": [18], "ReduceMin": [18], "ReduceProd": [18], "ReduceL1": [18],
        "ReduceL2": [18], "ReduceLogSum": [18], "ReduceLogSumExp": [18], "ReduceSumSquare": [18],
    ]

    /// Operators newer than the target that `expand` rewrites into older ones.
    static let expandable: Set<String> = ["LayerNormalization", "Gelu", "HardSwish", "Mish", "Swish", "GreaterOrEqual",
                                          "LessOrEqual", "CastLike"]

    func run(_ graph: inout Graph, context: PassContext) throws -> Int {
        guard target >= Self.oldestTarget else {
            throw EdgeError.unsupported("converting down to opset \(target) is not supported (\(Self.oldestTarget) or later is)")
        }
        let types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:]
        let index = GraphIndex(graph)
        var rewrites = 0
        var nodes: [Node] = []
        for node in graph.nodes {
            guard node.isStandardDomain else { nodes.append(node); continue }
            guard let history = ONNXOperatorHistory.versions[node.opType] else {
                throw EdgeError.unsupported("node '\(node.displayName)': \(node.opType) is not a standard ONNX operator known to the opset converter")
            }
            let available = history.filter { $0.since <= target }
            if available.isEmpty {
                guard Self.expandable.contains(node.opType) else {
                    throw refusal(node, "\(node.opType) does not exist before opset \(history[0].since)")
                }
                var editor = Editor(context: context, types: types, index: index, target: target)
                nodes += try editor.expand(node)
                editor.commit(to: &graph)
                rewrites += 1
                continue
            }
            let changes = history.filter { $0.since > target && $0.since <= from }
            for change in changes where !change.sameSignatureAsPrevious && !(Self.migrated[node.opType]?.contains(change.since) ?? false) {
                throw refusal(node, "\(node.opType) changed its signature at opset \(change.since); edgeopt has no conversion below it")
            }
            guard !changes.isEmpty else { nodes.append(node); continue }
            var editor = Editor(context: context, types: types, index: index, target: target)
            var migrated = node
            if try editor.migrate(&migrated, changes: Set(changes.map(\.since))) { rewrites += 1 }
            editor.commit(to: &graph)
            nodes += editor.before + [migrated]
        }
        graph.nodes = nodes
        return rewrites
    }

    func refusal(_ node: Node, _ why: String) -> EdgeError {
        EdgeError.unsupported("node '\(node.displayName)': cannot convert to opset \(target): \(why)")
    }

    /// Rewrites one node; collects the initializers it adds and the nodes that must run before
    /// the rewritten one.
    struct Editor {
        let context: PassContext
        let types: [String: TensorType]
        let index: GraphIndex
        let target: Int
        var before: [Node] = []
        var initializers: [(String, Tensor)] = []

        mutating func addInitializer(_ tensor: Tensor, base: String) -> String {
            let name = context.freshName(base)
            initializers.append((name, tensor))
            return name
        }

        func commit(to graph: inout Graph) {
            for (name, tensor) in initializers { graph.initializers[name] = tensor }
        }

        func refuse(_ node: Node, _ why: String) -> EdgeError {
            EdgeError.unsupported("node '\(node.displayName)': cannot convert to opset \(target): \(why)")
        }

        func base(_ node: Node) -> String { node.name.isEmpty ? (node.outputs.first ?? node.opType) : node.name }

        /// Removes `name` when it is absent or equals `value`; refuses any other value.
        func dropDefault(_ node: inout Node, _ name: String, _ value: AttributeValue) throws {
            guard let current = node.attribute(name) else { return }
            guard current == value else { throw refuse(node, "attribute \(name) = \(current) has no equivalent") }
            node.removeAttribute(name)
        }

        /// The constant int64 values of optional input `k` ("" or missing → nil), refusing a computed one.
        func constantInts(_ node: Node, input k: Int, what: String) throws -> [Int64]? {
            guard k < node.inputs.count, !node.inputs[k].isEmpty else { return nil }
            guard let values = index.constant(node.inputs[k])?.int64Values() else {
                throw refuse(node, "\(what) is computed at run time; the older opset needs it as a constant attribute")
            }
            return values
        }

        func rank(_ name: String) -> Int? { types[name]?.shape?.count }

        /// Undoes the signature changes at the opsets in `changes`. Returns whether the node changed.
        mutating func migrate(_ node: inout Node, changes: Set<Int>) throws -> Bool {
            let original = node
            switch node.opType {
            case "ArgMax", "ArgMin":
                try dropDefault(&node, "select_last_index", .int(0))
            case "AveragePool", "LpPool":
                if let d = node.ints("dilations"), d.contains(where: { $0 != 1 }) { throw refuse(node, "dilations \(d) need opset 19") }
                node.removeAttribute("dilations")
                if node.opType == "LpPool" { try dropDefault(&node, "ceil_mode", .int(0)) }
            case "BatchNormalization":
                try dropDefault(&node, "training_mode", .int(0))
            case "Cast":
                // saturate only affects float8 targets, which do not exist before opset 19.
                node.removeAttribute("saturate")
            case "Constant":
                try constantValueAttribute(&node)
            case "QuantizeLinear", "DequantizeLinear":
                try dropDefault(&node, "block_size", .int(0))
                if changes.contains(19) { node.removeAttribute("saturate") }
                node.removeAttribute("output_dtype") // 21+: only the default (from the zero point) is expressible
                if changes.contains(13) {
                    // Per-axis scales came with opset 13.
                    if node.inputs.count > 1, let scale = index.constant(node.inputs[1]), scale.shape.reduce(1, *) > 1 {
                        throw refuse(node, "per-axis quantization needs opset 13")
                    }
                    node.removeAttribute("axis")
                }
            case "Dropout":
                // Opset 12 moved ratio and training_mode to inputs.
                if node.inputs.count > 2, !node.inputs[2].isEmpty {
                    guard let t = index.constant(node.inputs[2]), t.doubleValues() == [0] else {
                        throw refuse(node, "training_mode must be a constant false")
                    }
                }
                if node.inputs.count > 1, !node.inputs[1].isEmpty {
                    guard let ratio = index.constant(node.inputs[1])?.doubleValues().first else {
                        throw refuse(node, "ratio is computed at run time")
                    }
                    node.setAttribute("ratio", .float(Float(ratio)))
                }
                node.inputs = [node.inputs[0]]
            case "GRU", "LSTM", "RNN":
                try dropDefault(&node, "layout", .int(0))
            case "GatherND":
                try dropDefault(&node, "batch_dims", .int(0))
            case "Softmax", "LogSoftmax", "Hardmax":
                // 13+ normalizes along one axis; older versions flatten to 2-D at `axis`, which is
                // the same computation only when `axis` is the last axis.
                let axis = node.int("axis") ?? -1
                guard let r = rank(node.inputs[0]), (axis < 0 ? Int(axis) + r : Int(axis)) == r - 1 else {
                    throw refuse(node, "\(node.opType) over a non-last axis (or of unknown rank) has different semantics before opset 13")
                }
                node.setAttribute("axis", .int(Int64(r - 1)))
            case "Pad":
                if let axes = try constantInts(node, input: 3, what: "axes"), !axes.isEmpty { throw refuse(node, "Pad axes need opset 18") }
                if node.inputs.count > 3 { node.inputs = Array(node.inputs.prefix(3)) }
                while node.inputs.last == "" { node.inputs.removeLast() }
            case "Reshape":
                try dropDefault(&node, "allowzero", .int(0))
            case "Resize":
                try dropDefault(&node, "antialias", .int(0))
                try dropDefault(&node, "keep_aspect_ratio_policy", .string(Array("stretch".utf8)))
                if node.attribute("axes") != nil { throw refuse(node, "Resize axes need opset 18") }
                if changes.contains(13) {
                    // Before 13, roi and scales are required inputs (empty tensors when unused).
                    var inputs = node.inputs + Array(repeating: "", count: max(0, 3 - node.inputs.count))
                    for k in [1, 2] where inputs[k].isEmpty {
                        inputs[k] = addInitializer(Tensor(shape: [0], scalars: [Float]()), base: "\(base(node))_\(k == 1 ? "roi" : "scales")")
                    }
                    node.inputs = inputs
                }
            case "RoiAlign":
                try dropDefault(&node, "coordinate_transformation_mode", .string(Array("output_half_pixel".utf8)))
            case "ScatterElements", "ScatterND":
                try dropDefault(&node, "reduction", .string(Array("none".utf8)))
            case "Shape":
                if let start = node.int("start"), start != 0 { throw refuse(node, "Shape start needs opset 15") }
                if node.attribute("end") != nil { throw refuse(node, "Shape end needs opset 15") }
                node.removeAttribute("start")
            case "Split":
                try migrateSplit(&node, changes: changes)
            case "Squeeze", "Unsqueeze", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                 "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
                // axes moved from attribute to input (13 for Squeeze/Unsqueeze/ReduceSum, 18 for the other reductions).
                if let axes = try constantInts(node, input: 1, what: "axes") { node.setAttribute("axes", .ints(axes)) }
                if node.opType.hasPrefix("Reduce") {
                    let noop = node.int("noop_with_empty_axes") ?? 0
                    if noop != 0 && node.ints("axes") == nil { throw refuse(node, "noop_with_empty_axes = 1 without axes needs opset 13/18") }
                    node.removeAttribute("noop_with_empty_axes")
                }
                node.inputs = [node.inputs[0]]
            default:
                break
            }
            try checkWidenedValues(node)
            return node != original
        }

        /// Split: 13 moved `split` to an input; 18 added `num_outputs` (equal chunks, the last smaller).
        mutating func migrateSplit(_ node: inout Node, changes: Set<Int>) throws {
            var sizes = try constantInts(node, input: 1, what: "split")
            if sizes == nil, let n = node.int("num_outputs") {
                let axis = Int(node.int("axis") ?? 0)
                guard let shape = types[node.inputs[0]]?.shape, let dim = shape[axis < 0 ? axis + shape.count : axis].value else {
                    throw refuse(node, "num_outputs on an axis of unknown size needs opset 18")
                }
                let chunk = (dim + Int(n) - 1) / Int(n)
                sizes = (0..<Int(n)).map { Int64(min(chunk, max(0, dim - $0 * chunk))) }
            }
            node.removeAttribute("num_outputs")
            node.inputs = [node.inputs[0]]
            guard let sizes else { return }
            if target >= 13 {
                node.inputs.append(addInitializer(Tensor(shape: [sizes.count], scalars: sizes), base: "\(base(node))_split"))
            } else {
                node.setAttribute("split", .ints(sizes))
            }
        }

        /// Opset 12 added value_float(s)/value_int(s)/value_string(s) to Constant; older versions take a tensor.
        func constantValueAttribute(_ node: inout Node) throws {
            let tensor: Tensor
            if let v = node.float("value_float") { tensor = .scalar(v) }
            else if let v = node.floats("value_floats") { tensor = Tensor(shape: [v.count], scalars: v) }
            else if let v = node.int("value_int") { tensor = .scalar(v) }
            else if let v = node.ints("value_ints") { tensor = Tensor(shape: [v.count], scalars: v) }
            else if node.attribute("value_string") != nil || node.attribute("value_strings") != nil || node.attribute("sparse_value") != nil {
                throw refuse(node, "string and sparse Constant values need opset 12")
            } else { return }
            node.attributes = [Attribute("value", .tensor(tensor))]
        }

        /// Changes that kept the signature but widened an attribute's allowed values.
        func checkWidenedValues(_ node: Node) throws {
            switch node.opType {
            case "Pad" where target < 19:
                if node.string("mode") == "wrap" { throw refuse(node, "Pad mode 'wrap' needs opset 19") }
            case "Resize" where target < 19:
                if node.string("coordinate_transformation_mode") == "half_pixel_symmetric" {
                    throw refuse(node, "coordinate_transformation_mode 'half_pixel_symmetric' needs opset 19")
                }
            case "ScatterElements" where target < 18, "ScatterND" where target < 18:
                if let r = node.string("reduction"), r == "max" || r == "min" { throw refuse(node, "reduction '\(r)' needs opset 18") }
            default:
                break
            }
        }

        // MARK: expansions of operators newer than the target

        mutating func constant(_ value: Float, like x: String, _ name: String) -> String {
            let dtype = types[x]?.elementType ?? .float
            let t = Tensor.make(dtype, shape: [], values: [Double(value)]) ?? .scalar(value)
            return addInitializer(t, base: name)
        }

        mutating func emit(_ opType: String, _ inputs: [String], _ base: String, attributes: [Attribute] = [], output: String? = nil) -> String {
            let out = output ?? context.freshName(base)
            before.append(Node(name: context.freshName(base + "_" + opType), opType: opType, inputs: inputs, outputs: [out], attributes: attributes))
            return out
        }

        /// Returns the nodes that replace `node`.
        mutating func expand(_ node: Node) throws -> [Node] {
            let b = base(node)
            let x = node.inputs[0]
            let y = node.outputs[0]
            switch node.opType {
            case "HardSwish":
                // x · HardSigmoid(x) with α = 1/6, β = 1/2.
                let h = emit("HardSigmoid", [x], b, attributes: [Attribute("alpha", .float(1.0 / 6)), Attribute("beta", .float(0.5))])
                _ = emit("Mul", [x, h], b, output: y)
            case "Mish":
                // x · tanh(softplus(x))
                let t = emit("Tanh", [emit("Softplus", [x], b)], b)
                _ = emit("Mul", [x, t], b, output: y)
            case "Swish":
                // x · σ(αx)
                let alpha = node.float("alpha") ?? 1
                let scaled = alpha == 1 ? x : emit("Mul", [x, constant(alpha, like: x, "\(b)_alpha")], b)
                _ = emit("Mul", [x, emit("Sigmoid", [scaled], b)], b, output: y)
            case "Gelu":
                if (node.string("approximate") ?? "none") == "tanh" {
                    // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
                    let cube = emit("Mul", [x, emit("Mul", [x, x], b)], b)
                    let inner = emit("Add", [x, emit("Mul", [cube, constant(0.044715, like: x, "\(b)_c")], b)], b)
                    let t = emit("Tanh", [emit("Mul", [inner, constant(Float((2 / Double.pi).squareRoot()), like: x, "\(b)_k")], b)], b)
                    let onePlus = emit("Add", [t, constant(1, like: x, "\(b)_one")], b)
                    _ = emit("Mul", [emit("Mul", [x, constant(0.5, like: x, "\(b)_half")], b), onePlus], b, output: y)
                } else {
                    // ½x(1 + erf(x/√2))
                    let e = emit("Erf", [emit("Div", [x, constant(Float(2.0.squareRoot()), like: x, "\(b)_sqrt2")], b)], b)
                    let onePlus = emit("Add", [e, constant(1, like: x, "\(b)_one")], b)
                    _ = emit("Mul", [emit("Mul", [x, constant(0.5, like: x, "\(b)_half")], b), onePlus], b, output: y)
                }
            case "GreaterOrEqual", "LessOrEqual":
                // a ≥ b ⇔ (a > b) ∨ (a = b), which is also false when either is NaN, as the original.
                let strict = emit(node.opType == "GreaterOrEqual" ? "Greater" : "Less", node.inputs, b)
                _ = emit("Or", [strict, emit("Equal", node.inputs, b)], b, output: y)
            case "CastLike":
                guard let to = types[node.inputs[1]]?.elementType else { throw refuse(node, "CastLike target type is unknown") }
                _ = emit("Cast", [x], b, attributes: [Attribute("to", .int(Int64(to.rawValue)))], output: y)
            case "LayerNormalization":
                try expandLayerNorm(node, b)
            default:
                throw refuse(node, "\(node.opType) does not exist at this opset")
            }
            return before
        }

        /// Y = (X − mean) / √(var + ε) · scale + B over axes [axis, rank); var is the biased variance.
        mutating func expandLayerNorm(_ node: Node, _ b: String) throws {
            if node.outputs.count > 1, node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
                throw refuse(node, "LayerNormalization's Mean and InvStdDev outputs have no expansion")
            }
            let x = node.inputs[0]
            let axis = Int(node.int("axis") ?? -1)
            let axes: [Int64]
            if axis < 0 {
                axes = (axis ..< 0).map(Int64.init)
            } else {
                guard let r = rank(x) else { throw refuse(node, "LayerNormalization with a non-negative axis needs a known rank") }
                axes = (axis ..< r).map(Int64.init)
            }
            let reduce = [Attribute("axes", .ints(axes)), Attribute("keepdims", .int(1))]
            let mean = emit("ReduceMean", [x], b, attributes: reduce)
            let d = emit("Sub", [x, mean], b)
            let variance = emit("ReduceMean", [emit("Mul", [d, d], b)], b, attributes: reduce)
            let std = emit("Sqrt", [emit("Add", [variance, constant(node.float("epsilon") ?? 1e-5, like: x, "\(b)_epsilon")], b)], b)
            let scaled = emit("Mul", [emit("Div", [d, std], b), node.inputs[1]], b)
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                _ = emit("Add", [scaled, node.inputs[2]], b, output: node.outputs[0])
            } else {
                _ = emit("Identity", [scaled], b, output: node.outputs[0])
            }
        }
    }
}

extension Model {
    /// The oldest IR version whose TensorProto has every element type the main graph's weights and
    /// values use: float8 came with IR 9, 4-bit integers with IR 10, float4 with IR 11, 2-bit with IR 12.
    var minimumIRVersionForTypes: Int64 {
        var types = Set(graph.initializers.values.map(\.dtype))
        for v in graph.inputs + graph.outputs + graph.valueInfo { if let t = v.tensorType?.elementType { types.insert(t) } }
        var ir: Int64 = 3
        for t in types {
            switch t {
            case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz: ir = max(ir, 9)
            case .int4, .uint4: ir = max(ir, 10)
            case .float4e2m1: ir = max(ir, 11)
            case .int2, .uint2, .float8e8m0: ir = max(ir, 12)
            default: break
            }
        }
        return ir
    }
}
