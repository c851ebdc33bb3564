import EdgeIR

/// Moves a model's default-domain opset up to `target`, rewriting every operator whose signature
/// changed on the way (ONNX moved many attributes to inputs so they can be computed). Conversion
/// down to an older opset (11 or later) is `OpsetDowngrade`'s job.
///
///     Before (opset 12):  Unsqueeze(x, axes=[0])        Clip(x, min=0, max=6)
///     After  (opset 13):  Unsqueeze(x, [0] as input)    Clip(x, 0, 6 as inputs)
///
/// Migrations (applied when the conversion crosses the version in brackets):
/// Slice starts/ends/axes → inputs [10]; TopK k → input [10]; Clip min/max → inputs [11];
/// Pad pads/value → inputs [11]; Resize-10 → Resize-11 (roi input, asymmetric coordinates, floor
/// rounding, which is what Resize-10 computes) [11]; Dropout ratio → input [12];
/// Split split → input, Squeeze/Unsqueeze axes → input, ReduceSum axes → input [13];
/// Softmax/LogSoftmax/Hardmax: versions < 13 flatten to 2-D at `axis`, 13+ work along one axis,
/// so the old form becomes Flatten → op(axis=-1) → Reshape(Shape(x)) unless `axis` already is the
/// last axis [13]; ReduceMean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare axes → input [18].
/// Operators removed from the standard (Upsample, Scatter) and source opsets below 7 are refused
/// with an error naming the node.
public struct ConvertOpset: GraphPass {
    public static let name = "convert-opset"
    public static let summary = "convert the default-domain opset to a newer or older version"
    public static let mayGrowModel = true

    public let target: Int
    public init(target: Int) { self.target = target }

    /// Lowest IR version that may carry a given opset (onnx/helper.py VERSION_TABLE).
    public static func minimumIRVersion(opset: Int) -> Int64 {
        switch opset {
        case ...8: return 3
        case 9: return 4
        case 10: return 5
        case 11: return 6
        case 12...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        case 21...22: return 10
        case 23...24: return 11
        default: return 12
        }
    }

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        let from = Int(context.opsetImports.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version ?? 1)
        if target < from {
            let rewrites = try OpsetDowngrade(from: from, target: target).run(&graph, context: context)
            context.opset = target
            return PassResult(rewrites: max(rewrites, context.depth == 0 ? 1 : 0))
        }
        guard target > from else { return .unchanged }
        guard from >= 7 else {
            throw EdgeError.unsupported("opset conversion from opset \(from) is not supported (7 or later is)")
        }
        let types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:]
        var nodes: [Node] = []
        var rewrites = 0
        func crosses(_ v: Int) -> Bool { from < v && target >= v }
        func int64Input(_ values: [Int64], _ base: String) -> String {
            graph.addInitializer(Tensor(shape: [values.count], scalars: values), base: base, context: context)
        }
        func scalarInput(_ value: Float, like x: String, _ base: String) -> String {
            let dtype = types[x]?.elementType ?? .float
            let t = Tensor.make(dtype, shape: [], values: [Double(value)]) ?? .scalar(value)
            return graph.addInitializer(t, base: base, context: context)
        }
        for var node in graph.nodes {
            guard node.isStandardDomain else { nodes.append(node); continue }
            let base = node.name.isEmpty ? (node.outputs.first ?? node.opType) : node.name
            var changed = false
            switch node.opType {
            case "Upsample" where crosses(10), "Scatter" where crosses(11):
                throw EdgeError.unsupported("node '\(node.displayName)' (\(node.opType)) has no equivalent at opset \(target)")
            case "Slice" where crosses(10):
                if let starts = node.ints("starts"), let ends = node.ints("ends") {
                    var inputs = [node.inputs[0], int64Input(starts, "\(base)_starts"), int64Input(ends, "\(base)_ends")]
                    if let axes = node.ints("axes") { inputs.append(int64Input(axes, "\(base)_axes")) }
                    node.inputs = inputs
                    for a in ["starts", "ends", "axes"] { node.removeAttribute(a) }
                    changed = true
                }
            case "TopK" where crosses(10):
                if let k = node.int("k") {
                    node.inputs = [node.inputs[0], int64Input([k], "\(base)_k")]
                    node.removeAttribute("k")
                    changed = true
                }
            case "Clip" where crosses(11):
                let x = node.inputs[0]
                var inputs = [x]
                inputs.append(node.float("min").map { scalarInput($0, like: x, "\(base)_min") } ?? "")
                if let hi = node.float("max") { inputs.append(scalarInput(hi, like: x, "\(base)_max")) }
                while inputs.last == "" { inputs.removeLast() }
                node.inputs = inputs
                node.removeAttribute("min"); node.removeAttribute("max")
                changed = true
            case "Pad" where crosses(11):
                guard let pads = node.ints("pads") ?? node.ints("paddings") else { break }
                let x = node.inputs[0]
                var inputs = [x, int64Input(pads, "\(base)_pads")]
                if let value = node.float("value"), value != 0 { inputs.append(scalarInput(value, like: x, "\(base)_value")) }
                node.inputs = inputs
                for a in ["pads", "paddings", "value"] { node.removeAttribute(a) }
                changed = true
            case "Resize" where crosses(11):
                // Resize-10: (X, scales), asymmetric coordinates, nearest rounds down.
                let scales = node.inputs.count > 1 ? node.inputs[1] : ""
                let roi = target >= 13 ? "" : graph.addInitializer(Tensor(shape: [0], scalars: [Float]()), base: "\(base)_roi", context: context)
                node.inputs = [node.inputs[0], roi, scales]
                node.setAttribute("coordinate_transformation_mode", .string(Array("asymmetric".utf8)))
                if (node.string("mode") ?? "nearest") == "nearest" { node.setAttribute("nearest_mode", .string(Array("floor".utf8))) }
                changed = true
            case "Dropout" where crosses(12):
                if let ratio = node.float("ratio") {
                    node.inputs = [node.inputs[0], scalarInput(ratio, like: node.inputs[0], "\(base)_ratio")]
                    node.removeAttribute("ratio")
                    changed = true
                }
            case "Split" where crosses(13):
                if let split = node.ints("split") {
                    node.inputs = [node.inputs[0], int64Input(split, "\(base)_split")]
                    node.removeAttribute("split")
                    changed = true
                }
            case "Squeeze" where crosses(13), "Unsqueeze" where crosses(13), "ReduceSum" where crosses(13):
                if let axes = node.ints("axes") {
                    node.inputs = [node.inputs[0], int64Input(axes, "\(base)_axes")]
                    node.removeAttribute("axes")
                    changed = true
                }
            case "ReduceMean" where crosses(18), "ReduceMax" where crosses(18), "ReduceMin" where crosses(18),
                 "ReduceProd" where crosses(18), "ReduceL1" where crosses(18), "ReduceL2" where crosses(18),
                 "ReduceLogSum" where crosses(18), "ReduceLogSumExp" where crosses(18), "ReduceSumSquare" where crosses(18):
                if let axes = node.ints("axes") {
                    node.inputs = [node.inputs[0], int64Input(axes, "\(base)_axes")]
                    node.removeAttribute("axes")
                    changed = true
                }
            case "Softmax" where crosses(13), "LogSoftmax" where crosses(13), "Hardmax" where crosses(13):
                let x = node.inputs[0]
                let axis = node.int("axis") ?? 1
                let rank = types[x]?.shape?.count
                if let rank, (axis < 0 ? Int(axis) + rank : Int(axis)) == rank - 1 {
                    node.setAttribute("axis", .int(Int64(rank - 1)))
                } else {
                    // Old semantics: coerce to 2-D [∏ d<axis, ∏ d≥axis], normalize each row.
                    let flat = context.freshName("\(base)_2d"), normalized = context.freshName("\(base)_rows")
                    let shape = context.freshName("\(base)_shape")
                    nodes.append(Node(name: context.freshName("\(base)_flatten"), opType: "Flatten", inputs: [x], outputs: [flat],
                                      attributes: [Attribute("axis", .int(axis))]))
                    nodes.append(Node(name: context.freshName("\(base)_inshape"), opType: "Shape", inputs: [x], outputs: [shape]))
                    var op = node
                    op.inputs = [flat]
                    op.outputs = [normalized]
                    op.setAttribute("axis", .int(-1))
                    nodes.append(op)
                    nodes.append(Node(name: context.freshName("\(base)_reshape"), opType: "Reshape", inputs: [normalized, shape],
                                      outputs: node.outputs))
                    rewrites += 1
                    continue
                }
                changed = true
            default:
                break
            }
            if changed { rewrites += 1 }
            nodes.append(node)
        }
        graph.nodes = nodes
        context.opset = target
        // Opset change itself is a rewrite even when no node needed migrating.
        return PassResult(rewrites: max(rewrites, context.depth == 0 ? 1 : 0))
    }
}
