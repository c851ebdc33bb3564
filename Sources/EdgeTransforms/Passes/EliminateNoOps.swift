import EdgeIR

/// Removes Cast, Reshape, Transpose, Pad and Slice nodes that return their input unchanged.
///
///     Before:  x:f32[1,64] ─► Cast(to=float) ─► Reshape([1,64]) ─► Transpose(perm=[0,1]) ─► y
///     After:   x ─► y
///
/// A node is a no-op when
/// - Cast: the input already has the target element type;
/// - Reshape: the input shape is fully known and equals the target shape;
/// - Transpose: `perm` is the identity;
/// - Pad: every pad amount is zero (constant `pads`, any mode);
/// - Slice: for every sliced axis, step 1 and the clamped range is the whole (known) dimension.
/// Shapes and types come from shape inference over the declared input shapes, so a removal holds
/// for every input the model accepts.
public struct EliminateNoOps: GraphPass {
    public static let name = "eliminate-noops"
    public static let summary = "remove Cast/Reshape/Transpose/Pad/Slice nodes that do nothing"

    public init() {}

    public func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        guard graph.nodes.contains(where: { $0.isOp("Cast", "Reshape", "Transpose", "Pad", "Slice") }) else { return .unchanged }
        let types = (try? ShapeInference.infer(graph: graph, opsetImports: context.opsetImports).types) ?? [:]
        var rewrites = 0
        var i = 0
        var index = GraphIndex(graph)
        while i < graph.nodes.count {
            let node = graph.nodes[i]
            if node.isOp("Cast", "Reshape", "Transpose", "Pad", "Slice"), let input = node.input(0), let output = node.outputs.first, node.outputs.count == 1,
               isNoOp(node, index: index, types: types, opset: context.opset), graph.forward(output, to: input) {
                graph.nodes.remove(at: i)
                rewrites += 1
                index = GraphIndex(graph)
            } else {
                i += 1
            }
        }
        return PassResult(rewrites: rewrites)
    }

    func isNoOp(_ node: Node, index: GraphIndex, types: [String: TensorType], opset: Int) -> Bool {
        guard node.isStandardDomain, let x = node.input(0) else { return false }
        let inType = types[x] ?? index.constant(x).map { TensorType($0.dtype, fixed: $0.shape) }
        switch node.opType {
        case "Cast":
            guard let to = node.int("to"), let dtype = inType?.elementType, dtype != .undefined else { return false }
            return Int64(dtype.rawValue) == to
        case "Reshape":
            guard let shape = inType?.fixedShape, let target = node.input(1).flatMap({ index.constant($0) })?.int64Values()
            else { return false }
            guard target.count == shape.count else { return false }
            // 0 copies the input dimension (unless allowzero=1), -1 infers the one missing size.
            let allowZero = node.int("allowzero") == 1
            for (k, t) in target.enumerated() {
                if t == Int64(shape[k]) { continue }
                if t == 0, !allowZero { continue }
                if t == -1, target.filter({ $0 == -1 }).count == 1 { continue }
                return false
            }
            return true
        case "Transpose":
            guard let perm = node.ints("perm") else {
                // Default perm reverses the axes: a no-op only for rank ≤ 1.
                guard let rank = inType?.shape?.count else { return false }
                return rank <= 1
            }
            return perm.enumerated().allSatisfy { Int64($0.offset) == $0.element }
        case "Pad":
            let pads: [Int64]?
            if opset < 11 { pads = node.ints("pads") ?? node.ints("paddings") } else { pads = node.input(1).flatMap { index.constant($0) }?.int64Values() }
            guard let pads, !pads.isEmpty else { return false }
            return pads.allSatisfy { $0 == 0 }
        case "Slice":
            guard let shape = inType?.fixedShape else { return false }
            let starts: [Int64], ends: [Int64], axes: [Int64]?, steps: [Int64]?
            if opset < 10 {
                guard let s = node.ints("starts"), let e = node.ints("ends") else { return false }
                starts = s; ends = e; axes = node.ints("axes"); steps = nil
            } else {
                guard let s = node.input(1).flatMap({ index.constant($0) })?.int64Values(),
                      let e = node.input(2).flatMap({ index.constant($0) })?.int64Values() else { return false }
                starts = s; ends = e
                if let a = node.input(3) { guard let v = index.constant(a)?.int64Values() else { return false }; axes = v } else { axes = nil }
                if let st = node.input(4) { guard let v = index.constant(st)?.int64Values() else { return false }; steps = v } else { steps = nil }
            }
            guard starts.count == ends.count else { return false }
            for k in starts.indices {
                var axis = Int(axes?[k] ?? Int64(k))
                if axis < 0 { axis += shape.count }
                guard axis >= 0, axis < shape.count else { return false }
                let step = steps?[k] ?? 1
                guard step == 1 else { return false }
                let r = SliceMath.clamp(start: starts[k], end: ends[k], step: 1, dim: shape[axis])
                guard r.start == 0, r.end == shape[axis] else { return false }
            }
            return true
        default:
            return false
        }
    }
}
