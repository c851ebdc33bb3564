import EdgeIR
import Foundation

/// Reductions: ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum
/// ReduceLogSumExp ReduceSumSquare, ArgMax ArgMin, TopK, CumSum. Accumulation is in double;
/// results round once to the element type. An empty reduction gives the operation's identity
/// (0 for sums, 1 for products, -inf for max and log-sums, +inf for min, NaN for mean).
enum ReduceOperators {
    static let operators: [OperatorSpec] = [
        reduce("ReduceSum", axesInputFrom: 13, .sum),
        reduce("ReduceMean", axesInputFrom: 18, .mean),
        reduce("ReduceMax", axesInputFrom: 18, .max),
        reduce("ReduceMin", axesInputFrom: 18, .min),
        reduce("ReduceProd", axesInputFrom: 18, .prod),
        reduce("ReduceL1", axesInputFrom: 18, .l1),
        reduce("ReduceL2", axesInputFrom: 18, .l2),
        reduce("ReduceLogSum", axesInputFrom: 18, .logSum),
        reduce("ReduceLogSumExp", axesInputFrom: 18, .logSumExp),
        reduce("ReduceSumSquare", axesInputFrom: 18, .sumSquare),
        argReduce("ArgMax", max: true), argReduce("ArgMin", max: false),
        OperatorSpec("TopK") { b in
            let axisAttr = b.int("axis", -1), largest = b.int("largest", 1) != 0, kAttr = b.opset < 10 ? b.int("k") : nil
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let k = try kAttr ?? (ShapeOperators.intValues(i.required(1, c), c, "K").first ?? -1)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                guard k >= 0 && k <= x.shape[axis] else { throw EdgeError.badInput("\(c.nodeDescription): K=\(k) is out of range for axis size \(x.shape[axis])") }
                let values = try CastOperators.readFloatsOrInts(x, c)
                let exactInts = x.dtype == .int64 ? x.scalars(as: Int64.self) : nil
                let n = x.shape[axis], outer = Shapes.product(x.shape[..<axis]), inner = Shapes.product(x.shape[(axis + 1)...])
                var shape = x.shape
                shape[axis] = k
                var picked = [Int](repeating: 0, count: outer * k * inner)
                var indices = [Int64](repeating: 0, count: outer * k * inner)
                for o in 0..<outer {
                    for r in 0..<inner {
                        let at = { (j: Int) in (o * n + j) * inner + r }
                        let order = (0..<n).sorted { a, b2 in
                            let va = values[at(a)], vb = values[at(b2)]
                            if let e = exactInts { let ia = e[at(a)], ib = e[at(b2)]; if ia != ib { return largest ? ia > ib : ia < ib }; return a < b2 }
                            if va.isNaN || vb.isNaN { if va.isNaN != vb.isNaN { return largest ? va.isNaN : vb.isNaN }; return a < b2 }
                            if va != vb { return largest ? va > vb : va < vb }
                            return a < b2
                        }
                        for j in 0..<k {
                            picked[(o * k + j) * inner + r] = at(order[j])
                            indices[(o * k + j) * inner + r] = Int64(order[j])
                        }
                    }
                }
                return [try IndexingOperators.take(x, picked, shape, c), Tensor(shape: shape, scalars: indices)]
            }
        },
        OperatorSpec("CumSum") { b in
            let exclusive = b.int("exclusive", 0) != 0, reverse = b.int("reverse", 0) != 0
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                guard let axisValue = try i.required(1, c).intArray()?.first else { throw EdgeError.badInput("\(c.nodeDescription): axis must be an integer") }
                let axis = try Shapes.axis(axisValue, rank: x.rank, c.nodeDescription)
                let n = x.shape[axis], outer = Shapes.product(x.shape[..<axis]), inner = Shapes.product(x.shape[(axis + 1)...])
                let out = try c.allocate(x.dtype, x.shape)
                struct Scan: NumericVisitor {
                    let x: Tensor, out: Tensor, n: Int, outer: Int, inner: Int, exclusive: Bool, reverse: Bool
                    func visit<T: NumericScalar>(_: T.Type) throws {
                        let p = x.pointer(T.self), o = out.mutablePointer(T.self)
                        let integer = !T.isFloatingPoint
                        for a in 0..<outer {
                            for r in 0..<inner {
                                var acc = 0.0
                                var accInt: Int64 = 0
                                for step in 0..<n {
                                    let j = reverse ? n - 1 - step : step
                                    let at = (a * n + j) * inner + r
                                    if exclusive { o[at] = integer ? T(fromDouble: Double(accInt)) : T(fromDouble: acc) }
                                    if integer { accInt &+= Int64(p[at].doubleValue) } else { acc += p[at].doubleValue }
                                    if !exclusive { o[at] = integer ? T(fromDouble: Double(accInt)) : T(fromDouble: acc) }
                                }
                            }
                        }
                    }
                }
                try DTypeDispatch.numeric(x.dtype, Scan(x: x, out: out, n: n, outer: outer, inner: inner, exclusive: exclusive, reverse: reverse), c.nodeDescription)
                return [out]
            }
        },
    ]

    enum Kind: Sendable { case sum, mean, max, min, prod, l1, l2, logSum, logSumExp, sumSquare }

    static func reduce(_ name: String, axesInputFrom: Int, _ kind: Kind) -> OperatorSpec {
        OperatorSpec(name) { b in
            let keepDims = b.int("keepdims", 1) != 0
            let noop = b.int("noop_with_empty_axes", 0) != 0
            let axesFromInput = b.opset >= axesInputFrom
            let attrAxes = axesFromInput ? nil : b.ints("axes")
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                var axes: [Int]
                if axesFromInput {
                    axes = try i.optional(1).map { try ShapeOperators.intValues($0, c, "axes") } ?? []
                    if axes.isEmpty && noop { return [x] }
                } else {
                    axes = attrAxes ?? []
                }
                if axes.isEmpty { axes = Array(0..<x.rank) }
                let reduced = try Set(axes.map { try Shapes.axis($0, rank: x.rank, c.nodeDescription) })
                return [try reduce(x, axes: reduced, keepDims: keepDims, kind, c)]
            }
        }
    }

    /// Moves the reduced axes last (strided copy) and reduces each contiguous block.
    static func reduce(_ x: Tensor, axes: Set<Int>, keepDims: Bool, _ kind: Kind, _ c: ExecutionContext) throws -> Tensor {
        let kept = (0..<x.rank).filter { !axes.contains($0) }
        let gone = (0..<x.rank).filter { axes.contains($0) }
        if x.dtype == .float, kind == .sum || kind == .mean, !gone.isEmpty, gone == Array((x.rank - gone.count)..<x.rank) {
            return try sumTrailing(x, reducedAxes: gone.count, mean: kind == .mean, keepDims: keepDims, c)
        }
        let values = try CastOperators.readFloatsOrInts(x, c)
        let strides = Shapes.strides(x.shape)
        let perm = kept + gone
        var ordered = [Double](repeating: 0, count: values.count)
        if !values.isEmpty {
            values.withUnsafeBufferPointer { s in
                ordered.withUnsafeMutableBufferPointer { d in
                    StridedCopy.copy(s.baseAddress!, base: 0, strides: perm.map { strides[$0] }, shape: perm.map { x.shape[$0] }, into: d.baseAddress!)
                }
            }
        }
        let block = Shapes.product(gone.map { x.shape[$0] })
        let outCount = Shapes.product(kept.map { x.shape[$0] })
        var results = [Double](repeating: 0, count: outCount)
        for o in 0..<outCount {
            let slice = ordered[(o * block)..<((o + 1) * block)]
            switch kind {
            case .sum: results[o] = slice.reduce(0, +)
            case .mean: results[o] = slice.reduce(0, +) / Double(block)
            case .max: results[o] = slice.reduce(-Double.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
            case .min: results[o] = slice.reduce(Double.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
            case .prod: results[o] = slice.reduce(1, *)
            case .l1: results[o] = slice.reduce(0) { $0 + Swift.abs($1) }
            case .l2: results[o] = slice.reduce(0) { $0 + $1 * $1 }.squareRoot()
            case .logSum: results[o] = Foundation.log(slice.reduce(0, +))
            case .logSumExp:
                let m = slice.max() ?? -.infinity
                results[o] = m.isFinite ? m + Foundation.log(slice.reduce(0) { $0 + Foundation.exp($1 - m) }) : Foundation.log(slice.reduce(0) { $0 + Foundation.exp($1) })
            case .sumSquare: results[o] = slice.reduce(0) { $0 + $1 * $1 }
            }
        }
        let shape = keepDims ? x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element } : kept.map { x.shape[$0] }
        if x.dtype == .bool {
            // Empty bool max/min: false/true (the identities of or/and).
            if block == 0 && (kind == .max || kind == .min) { results = results.map { _ in kind == .min ? 1 : 0 } }
            return try CastOperators.storeIntegers(results.map { $0 != 0 ? 1 : 0 }, as: .bool, shape: shape, c)
        }
        if x.dtype.isInteger && (kind == .max || kind == .min) && block == 0 {
            // Integer identity elements: the type's extremes.
            let out = try c.allocate(x.dtype, shape)
            try CastOperators.storeDoubles(results.map { $0 > 0 ? 1e300 : -1e300 }, into: out, c)
            return out
        }
        let out = try c.allocate(x.dtype, shape)
        try CastOperators.storeDoubles(results, into: out, c)
        return out
    }

    /// Float sum/mean over trailing axes (squeeze-excitation and head means over H, W): each output
    /// reads one contiguous block in place, with no copy to Double, and blocks run in parallel.
    /// Accumulation is in Double, as on the general path, so results are the same to rounding.
    static func sumTrailing(_ x: Tensor, reducedAxes: Int, mean: Bool, keepDims: Bool, _ c: ExecutionContext) throws -> Tensor {
        let rank = x.rank
        let block = Shapes.product(Array(x.shape[(rank - reducedAxes)...]))
        let outCount = Shapes.product(Array(x.shape[..<(rank - reducedAxes)]))
        let shape = keepDims ? x.shape.enumerated().map { $0.offset >= rank - reducedAxes ? 1 : $0.element } : Array(x.shape[..<(rank - reducedAxes)])
        let out = try c.allocate(.float, shape)
        let o = out.mutablePointer(Float.self)
        let scale = mean ? 1 / Double(block) : 1
        withExtendedLifetime(x) {
            let p = x.pointer(Float.self)
            c.parallelFor(outCount, grain: max(1, (1 << 15) / max(block, 1))) { range in
                for k in range {
                    let row = p + k * block
                    // Four independent accumulators: the adds pipeline instead of waiting on one chain.
                    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                    var j = 0
                    while j + 4 <= block {
                        s0 += Double(row[j]); s1 += Double(row[j + 1]); s2 += Double(row[j + 2]); s3 += Double(row[j + 3])
                        j += 4
                    }
                    while j < block { s0 += Double(row[j]); j += 1 }
                    o[k] = Float(((s0 + s1) + (s2 + s3)) * scale)
                }
            }
        }
        return out
    }

    static func argReduce(_ name: String, max: Bool) -> OperatorSpec {
        OperatorSpec(name) { b in
            let axisAttr = b.int("axis", 0), keepDims = b.int("keepdims", 1) != 0, last = b.int("select_last_index", 0) != 0
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                let values = try CastOperators.readFloatsOrInts(x, c)
                let n = x.shape[axis], outer = Shapes.product(x.shape[..<axis]), inner = Shapes.product(x.shape[(axis + 1)...])
                guard n > 0 else { throw EdgeError.badInput("\(c.nodeDescription): cannot take \(name) over an empty axis") }
                var result = [Int64](repeating: 0, count: outer * inner)
                for o in 0..<outer {
                    for r in 0..<inner {
                        var best = values[o * n * inner + r], at = 0
                        for j in 1..<Swift.max(n, 1) {
                            let v = values[(o * n + j) * inner + r]
                            let better = max ? (v > best || (last && v == best)) : (v < best || (last && v == best))
                            if better && !best.isNaN { best = v; at = j }
                        }
                        result[o * inner + r] = Int64(at)
                    }
                }
                var shape = x.shape
                if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
                return [Tensor(shape: shape, scalars: result)]
            }
        }
    }
}
