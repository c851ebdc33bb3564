/// A small int64/float evaluator for the shape-computation subgraphs exporters emit
/// (`Shape→Gather→Unsqueeze→Concat→Reshape`, `Shape→Slice→Cast→Mul→Cast→Resize`, …).
///
/// Two kinds of result: a fully known `ConstantValue` (only for values up to
/// `ConstantValue.maxElements` elements), or for 0-D/1-D integer values a vector of `Dim`s that
/// may be partly symbolic (`Shape(x)` of `x[batch,3,224,224]` is `[batch,3,224,224]`), which is
/// what lets a symbolic batch dimension survive a `Reshape` driven by such a chain.
enum FoldedValue {
    case constant(ConstantValue)
    case shape([Dim])
    case none
}

enum ConstantEvaluator {
    static func evaluate(_ c: ShapeContext, outputTypes: [TensorType?]) -> [FoldedValue] {
        guard c.node.isStandardDomain, c.node.subgraphs.isEmpty else { return [] }
        // Only outputs small enough to materialize are folded (and their extents multiply safely).
        let out0 = (outputTypes.first ?? nil).flatMap { t -> TensorType? in
            guard let s = t.fixedShape, let n = DimMath.product(s), n <= ConstantValue.maxElements else { return nil }
            return t
        }
        switch c.node.opType {
        case "Constant":
            guard let t = c.node.constantValue, let v = ConstantValue(tensor: t) else { return [] }
            return [.constant(v)]
        case "Shape":
            guard var dims = c.shape(0) else { return [] }
            if c.opset >= 15 {
                let r = dims.count
                let start = clampAxis(c.int("start", default: 0), r)
                let end = clampAxis(c.int("end", default: Int64(r)), r)
                dims = start < end ? Array(dims[start..<end]) : []
            }
            return [shapeResult(dims, scalar: false)]
        case "Size":
            guard let dims = c.shape(0), let p = DimProduct(dims), p.symbols.isEmpty else { return [] }
            return [.constant(.int64([Int64(p.coefficient)], shape: []))]
        case "Identity":
            return [passThrough(c, 0)]
        case "Cast":
            let to = DType(rawValue: Int(c.int("to", default: 1))) ?? .undefined
            if let v = c.constant(0) { return [.constant(v.cast(to: to))] }
            if to.isInteger, let s = c.shapeValue(0) { return [.shape(s)] }
            return []
        case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
            guard let shape = out0?.fixedShape else { return [] }
            if let v = c.constant(0), v.count == shape.reduce(1, *) { return [.constant(v.reshaped(shape))] }
            if shape.count <= 1, let s = c.shapeValue(0), s.count == shape.reduce(1, *) { return [shapeResult(s, scalar: shape.isEmpty)] }
            return []
        case "Gather":
            return [gather(c, outputShape: out0?.fixedShape)]
        case "Concat":
            return [concat(c)]
        case "Slice":
            return [slice(c)]
        case "Add", "Sub", "Mul", "Div", "Mod", "Pow", "Max", "Min",
             "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where":
            return [elementwise(c, outputShape: out0?.fixedShape, outputType: out0?.elementType)]
        case "Neg", "Abs", "Floor", "Ceil", "Round", "Sqrt", "Not", "Reciprocal", "Relu", "Sign":
            guard let v = c.constant(0) else { return [] }
            return [.constant(unary(c.node.opType, v))]
        case "Range":
            guard let s = c.constant(0), let l = c.constant(1), let d = c.constant(2),
                  s.count == 1, l.count == 1, d.count == 1, d.double(0) != 0 else { return [] }
            let steps = ((l.double(0) - s.double(0)) / d.double(0)).rounded(.up)
            guard steps.isFinite, steps <= Double(ConstantValue.maxElements) else { return [] }
            let count = steps <= 0 ? 0 : Int(steps)
            if s.isFloating || d.isFloating {
                return [.constant(ConstantValue(dtype: s.dtype, shape: [count], floats: (0..<count).map { s.double(0) + Double($0) * d.double(0) }))]
            }
            return [.constant(ConstantValue(dtype: s.dtype, shape: [count], ints: (0..<count).map { s.ints[0] &+ Int64($0) &* d.ints[0] }))]
        case "ConstantOfShape":
            guard let shape = c.ints(0), shape.allSatisfy({ $0 >= 0 }) else { return [] }
            var count = 1
            for d in shape {
                let (p, o) = count.multipliedReportingOverflow(by: Int(d))
                if o || p > ConstantValue.maxElements { return [] }
                count = p
            }
            let fill = c.node.tensor("value").flatMap { ConstantValue(tensor: $0) }
                ?? ConstantValue(dtype: .float, shape: [], floats: [0])
            guard fill.count == 1 else { return [] }
            let dims = shape.map { Int($0) }
            if fill.isFloating { return [.constant(ConstantValue(dtype: fill.dtype, shape: dims, floats: Array(repeating: fill.floats[0], count: count)))] }
            return [.constant(ConstantValue(dtype: fill.dtype, shape: dims, ints: Array(repeating: fill.ints[0], count: count)))]
        case "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin":
            // Only whole-tensor reductions, which is what shape code uses (element counts).
            guard let v = c.constant(0), v.count > 0, let shape = out0?.fixedShape, shape.reduce(1, *) == 1 else { return [] }
            let op = c.node.opType
            if v.isFloating {
                let x = v.floats
                let r = op == "ReduceProd" ? x.reduce(1, *) : op == "ReduceSum" ? x.reduce(0, +) : op == "ReduceMax" ? x.max()! : x.min()!
                return [.constant(ConstantValue(dtype: v.dtype, shape: shape, floats: [r]))]
            }
            let x = v.ints
            let r = op == "ReduceProd" ? x.reduce(1, &*) : op == "ReduceSum" ? x.reduce(0, &+) : op == "ReduceMax" ? x.max()! : x.min()!
            return [.constant(ConstantValue(dtype: v.dtype, shape: shape, ints: [r]))]
        default:
            return []
        }
    }

    private static func clampAxis(_ a: Int64, _ rank: Int) -> Int {
        let v = a < 0 ? Int(a) + rank : Int(min(a, Int64(rank)))
        return min(max(v, 0), rank)
    }

    private static func shapeResult(_ dims: [Dim], scalar: Bool) -> FoldedValue {
        if dims.allSatisfy({ $0.value != nil }) {
            return .constant(.int64(dims.map { Int64($0.value!) }, shape: scalar ? [] : [dims.count]))
        }
        return .shape(dims)
    }

    private static func passThrough(_ c: ShapeContext, _ i: Int) -> FoldedValue {
        if let v = c.constant(i) { return .constant(v) }
        if let s = c.shapeValue(i) { return .shape(s) }
        return .none
    }

    private static func gather(_ c: ShapeContext, outputShape: [Int]?) -> FoldedValue {
        guard let indices = c.ints(1) else { return .none }
        let axis = Int(c.int("axis", default: 0))
        if let data = c.constant(0), let outputShape, outputShape.reduce(1, *) <= ConstantValue.maxElements {
            let rank = data.shape.count
            guard let a = DimMath.normalize(axis: Int64(axis), rank: rank) else { return .none }
            let outer = data.shape[..<a].reduce(1, *)
            let n = data.shape[a]
            let inner = data.shape[(a + 1)...].reduce(1, *)
            var flat: [Int] = []
            for o in 0..<outer {
                for idx in indices {
                    let k = idx < 0 ? Int(idx) + n : Int(idx)
                    guard (0..<n).contains(k) else { return .none }
                    for i in 0..<inner { flat.append((o * n + k) * inner + i) }
                }
            }
            guard flat.count == outputShape.reduce(1, *) else { return .none }
            return .constant(data.gathered(flat, shape: outputShape))
        }
        // A 1-D shape vector indexed by constants: pick elements, symbolic ones included.
        if axis == 0 || axis == -1, let dims = c.shapeValue(0), c.rank(0) == 1 {
            var picked: [Dim] = []
            for idx in indices {
                let k = idx < 0 ? Int(idx) + dims.count : Int(idx)
                guard dims.indices.contains(k) else { return .none }
                picked.append(dims[k])
            }
            return shapeResult(picked, scalar: c.rank(1) == 0)
        }
        return .none
    }

    private static func concat(_ c: ShapeContext) -> FoldedValue {
        let present = (0..<c.inputCount).filter { c.hasInput($0) }
        guard !present.isEmpty else { return .none }
        // Fully known, rank 1: plain concatenation.
        if present.allSatisfy({ c.constant($0)?.shape.count == 1 }) {
            let values = present.map { c.constant($0)! }
            if values.allSatisfy({ !$0.isFloating }) {
                let all = values.flatMap(\.ints)
                return .constant(ConstantValue(dtype: values[0].dtype, shape: [all.count], ints: all))
            }
            if values.allSatisfy(\.isFloating) {
                let all = values.flatMap(\.floats)
                return .constant(ConstantValue(dtype: values[0].dtype, shape: [all.count], floats: all))
            }
            return .none
        }
        var dims: [Dim] = []
        for i in present {
            guard c.rank(i) == 1 || c.rank(i) == nil, let s = c.shapeValue(i) else { return .none }
            dims += s
        }
        return shapeResult(dims, scalar: false)
    }

    private static func slice(_ c: ShapeContext) -> FoldedValue {
        guard c.rank(0) == 1 || c.constant(0)?.shape.count == 1 else { return .none }
        let starts: [Int64], ends: [Int64], steps: [Int64]
        if c.opset < 10 {
            guard let s = c.ints("starts"), let e = c.ints("ends") else { return .none }
            starts = s; ends = e; steps = [1]
        } else {
            guard let s = c.ints(1), let e = c.ints(2) else { return .none }
            starts = s; ends = e
            if c.hasInput(4) { guard let st = c.ints(4) else { return .none }; steps = st } else { steps = [1] }
        }
        guard starts.count == 1, ends.count == 1, steps.count == 1, steps[0] != 0 else { return .none }
        let n: Int
        if let v = c.constant(0) { n = v.count } else if let s = c.shapeValue(0) { n = s.count } else { return .none }
        let picked = SliceMath.indices(start: starts[0], end: ends[0], step: steps[0], dim: n)
        if let v = c.constant(0) { return .constant(v.gathered(picked, shape: [picked.count])) }
        let s = c.shapeValue(0)!
        return shapeResult(picked.map { s[$0] }, scalar: false)
    }

    private static func unary(_ op: String, _ v: ConstantValue) -> ConstantValue {
        if v.isFloating {
            let f: (Double) -> Double
            switch op {
            case "Neg": f = { -$0 }
            case "Abs": f = { abs($0) }
            case "Floor": f = { $0.rounded(.down) }
            case "Ceil": f = { $0.rounded(.up) }
            case "Round": f = { $0.rounded(.toNearestOrEven) }
            case "Sqrt": f = { $0.squareRoot() }
            case "Reciprocal": f = { 1 / $0 }
            case "Relu": f = { max($0, 0) }
            case "Sign": f = { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
            default: f = { $0 }
            }
            return ConstantValue(dtype: v.dtype, shape: v.shape, floats: v.floats.map(f))
        }
        let f: (Int64) -> Int64
        switch op {
        case "Neg": f = { 0 &- $0 }
        case "Abs": f = { $0 == .min ? .max : abs($0) }
        case "Not": f = { $0 == 0 ? 1 : 0 }
        case "Relu": f = { max($0, 0) }
        case "Sign": f = { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
        default: f = { $0 }
        }
        return ConstantValue(dtype: v.dtype, shape: v.shape, ints: v.ints.map(f))
    }

    private static func elementwise(_ c: ShapeContext, outputShape: [Int]?, outputType: DType?) -> FoldedValue {
        let op = c.node.opType
        let arity = op == "Where" ? 3 : 2
        let values = (0..<arity).map { c.constant($0) }
        if values.allSatisfy({ $0 != nil }), let outputShape, outputShape.reduce(1, *) <= ConstantValue.maxElements {
            let vs = values.map { $0! }
            let count = outputShape.reduce(1, *)
            let maps = vs.map { broadcastIndex(from: $0.shape, to: outputShape) }
            guard maps.allSatisfy({ $0 != nil }) else { return .none }
            let idx = maps.map { $0! }
            if op == "Where" {
                let cond = vs[0]
                let x = vs[1], y = vs[2]
                let picked = (0..<count).map { i in cond.int(idx[0][i]) != 0 ? (0, idx[1][i]) : (1, idx[2][i]) }
                if x.isFloating || y.isFloating {
                    return .constant(ConstantValue(dtype: x.dtype, shape: outputShape, floats: picked.map { $0.0 == 0 ? x.double($0.1) : y.double($0.1) }))
                }
                return .constant(ConstantValue(dtype: x.dtype, shape: outputShape, ints: picked.map { $0.0 == 0 ? x.ints[$0.1] : y.ints[$0.1] }))
            }
            let a = vs[0], b = vs[1]
            let comparison = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"].contains(op)
            if comparison {
                let r: [Int64] = (0..<count).map { i in
                    let x = a.double(idx[0][i]), y = b.double(idx[1][i])
                    switch op {
                    case "Equal": return x == y ? 1 : 0
                    case "Less": return x < y ? 1 : 0
                    case "Greater": return x > y ? 1 : 0
                    case "LessOrEqual": return x <= y ? 1 : 0
                    case "GreaterOrEqual": return x >= y ? 1 : 0
                    case "And": return (x != 0 && y != 0) ? 1 : 0
                    case "Or": return (x != 0 || y != 0) ? 1 : 0
                    default: return ((x != 0) != (y != 0)) ? 1 : 0
                    }
                }
                return .constant(ConstantValue(dtype: .bool, shape: outputShape, ints: r))
            }
            if a.isFloating || b.isFloating {
                let r: [Double] = (0..<count).map { i in
                    let x = a.double(idx[0][i]), y = b.double(idx[1][i])
                    switch op {
                    case "Add": return x + y
                    case "Sub": return x - y
                    case "Mul": return x * y
                    case "Div": return x / y
                    case "Pow": return pow(x, y)
                    case "Max": return max(x, y)
                    case "Min": return min(x, y)
                    default: return c.int("fmod", default: 0) == 1 ? x.truncatingRemainder(dividingBy: y) : x - (x / y).rounded(.down) * y
                    }
                }
                return .constant(ConstantValue(dtype: a.isFloating ? a.dtype : b.dtype, shape: outputShape, floats: r))
            }
            var r: [Int64] = []
            r.reserveCapacity(count)
            for i in 0..<count {
                let x = a.ints[idx[0][i]], y = b.ints[idx[1][i]]
                switch op {
                case "Add": r.append(x &+ y)
                case "Sub": r.append(x &- y)
                case "Mul": r.append(x &* y)
                case "Div":
                    guard y != 0 else { return .none }
                    r.append(x == .min && y == -1 ? .min : x / y) // ONNX integer Div truncates.
                case "Pow":
                    let p = pow(Double(x), Double(y))
                    r.append(p.isNaN ? 0 : p >= 9.2e18 ? .max : p <= -9.2e18 ? .min : Int64(p))
                case "Max": r.append(max(x, y))
                case "Min": r.append(min(x, y))
                default:
                    guard y != 0 else { return .none }
                    let m = x % y
                    // fmod=0: the result takes the divisor's sign (Python semantics).
                    r.append(c.int("fmod", default: 0) == 0 && m != 0 && ((m < 0) != (y < 0)) ? m + y : m)
                }
            }
            return .constant(ConstantValue(dtype: a.dtype, shape: outputShape, ints: r))
        }
        // Shape vectors with some symbolic entries: keep names through ×1, +0, ÷1.
        guard op != "Where", let a = c.shapeValue(0) ?? c.constant(0).flatMap({ v in v.isFloating ? nil : v.ints.map { Dim.fixed(Int($0)) } }),
              let b = c.shapeValue(1) ?? c.constant(1).flatMap({ v in v.isFloating ? nil : v.ints.map { Dim.fixed(Int($0)) } }),
              (c.rank(0) ?? 1) <= 1, (c.rank(1) ?? 1) <= 1 else { return .none }
        let n = max(a.count, b.count)
        guard a.count == n || a.count == 1, b.count == n || b.count == 1 else { return .none }
        var dims: [Dim] = []
        for i in 0..<n {
            let x = a[a.count == 1 ? 0 : i], y = b[b.count == 1 ? 0 : i]
            switch (op, x, y) {
            case ("Mul", _, .fixed(1)), ("Div", _, .fixed(1)), ("Add", _, .fixed(0)), ("Sub", _, .fixed(0)): dims.append(x)
            case ("Mul", .fixed(1), _), ("Add", .fixed(0), _): dims.append(y)
            case ("Add", _, _): dims.append(x.combined(with: y) { $0 + $1 })
            case ("Sub", _, _): dims.append(x.combined(with: y) { $0 - $1 })
            case ("Mul", _, _): dims.append(x.combined(with: y) { $0 * $1 })
            case ("Div", _, _): dims.append(x.combined(with: y) { $1 == 0 ? nil : $0 / $1 })
            case ("Max", _, _): dims.append(x == y ? x : x.combined(with: y) { max($0, $1) })
            case ("Min", _, _): dims.append(x == y ? x : x.combined(with: y) { min($0, $1) })
            default: return .none
            }
        }
        return shapeResult(dims, scalar: (c.rank(0) ?? 1) == 0 && (c.rank(1) ?? 1) == 0)
    }

    /// For each flat output index, the flat index into a tensor of `shape` broadcast to `output`.
    static func broadcastIndex(from shape: [Int], to output: [Int]) -> [Int]? {
        let r = output.count
        guard shape.count <= r else { return nil }
        let padded = Array(repeating: 1, count: r - shape.count) + shape
        var strides = [Int](repeating: 0, count: r)
        var s = 1
        for d in stride(from: r - 1, through: 0, by: -1) {
            guard padded[d] == output[d] || padded[d] == 1 else { return nil }
            strides[d] = padded[d] == 1 ? 0 : s
            s *= padded[d]
        }
        let count = output.reduce(1, *)
        var result = [Int](repeating: 0, count: count)
        var coord = [Int](repeating: 0, count: r)
        for i in 0..<count {
            var flat = 0
            for d in 0..<r { flat += coord[d] * strides[d] }
            result[i] = flat
            var d = r - 1
            while d >= 0 {
                coord[d] += 1
                if coord[d] < output[d] { break }
                coord[d] = 0
                d -= 1
            }
        }
        return result
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ONNX Slice index arithmetic (opset 10+ semantics, also used for older attribute forms).
public enum SliceMath {
    /// Normalized start/end/step for one axis of extent `dim`: negative values count from the
    /// end, then starts/ends are clamped to [0, dim] for positive steps and [-1, dim-1] for
    /// negative ones (INT64_MAX/MIN mean "to the end").
    public static func clamp(start: Int64, end: Int64, step: Int64, dim: Int) -> (start: Int, end: Int) {
        let d = Int64(dim)
        var s = start < 0 ? start &+ d : start
        var e = end < 0 ? end &+ d : end
        if step > 0 {
            s = min(max(s, 0), d)
            e = min(max(e, 0), d)
        } else {
            s = min(max(s, -1), d - 1)
            e = min(max(e, -1), d - 1)
        }
        return (Int(s), Int(e))
    }

    /// Number of elements selected along one axis.
    public static func length(start: Int64, end: Int64, step: Int64, dim: Int) -> Int {
        let (s, e) = clamp(start: start, end: end, step: step, dim: dim)
        if step > 0 { return e > s ? DimMath.ceilDiv(e - s, Int(step)) : 0 }
        return s > e ? DimMath.ceilDiv(s - e, Int(-step)) : 0
    }

    public static func indices(start: Int64, end: Int64, step: Int64, dim: Int) -> [Int] {
        let (s, _) = clamp(start: start, end: end, step: step, dim: dim)
        let n = length(start: start, end: end, step: step, dim: dim)
        return (0..<n).map { s + $0 * Int(step) }
    }
}
