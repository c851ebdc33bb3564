import EdgeIR

/// Indexing: Gather GatherElements GatherND ScatterND ScatterElements NonZero OneHot Trilu.
/// Negative indices count from the end; an index out of range is a bad-input error naming the
/// node (never an out-of-bounds read).
enum IndexingOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Gather") { b in
            let axisAttr = b.int("axis", 0)
            return ClosureKernel { i, c in
                let x = try i.required(0, c), indices = try i.required(1, c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                let idx = try resolved(indices, dimension: x.shape[axis], c)
                let outer = Shapes.product(x.shape[..<axis]), inner = Shapes.product(x.shape[(axis + 1)...])
                let shape = Array(x.shape[..<axis]) + indices.shape + Array(x.shape[(axis + 1)...])
                // Output element (o, j, r) = x(o, idx[j], r): a list of source element offsets.
                var sources: [Int] = []
                sources.reserveCapacity(outer * idx.count * inner)
                for o in 0..<outer { for j in idx { let base = (o * x.shape[axis] + j) * inner; for r in 0..<inner { sources.append(base + r) } } }
                return [try take(x, sources, shape, c)]
            }
        },
        OperatorSpec("GatherElements") { b in
            let axisAttr = b.int("axis", 0)
            return ClosureKernel { i, c in
                let x = try i.required(0, c), indices = try i.required(1, c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                guard indices.rank == x.rank else { throw EdgeError.badInput("\(c.nodeDescription): indices rank differs from data rank") }
                let idx = try resolved(indices, dimension: x.shape[axis], c)
                let xs = Shapes.strides(x.shape)
                var sources = [Int](repeating: 0, count: idx.count)
                forEachIndex(indices.shape) { linear, coord in
                    var off = 0
                    for d in 0..<x.rank { off += (d == axis ? idx[linear] : coord[d]) * xs[d] }
                    sources[linear] = off
                }
                for d in 0..<x.rank where d != axis && indices.shape[d] > x.shape[d] {
                    throw EdgeError.badInput("\(c.nodeDescription): indices shape \(indices.shape) exceeds data \(x.shape)")
                }
                return [try take(x, sources, indices.shape, c)]
            }
        },
        OperatorSpec("GatherND") { b in
            let batchDims = b.int("batch_dims", 0)
            return ClosureKernel { i, c in
                let x = try i.required(0, c), indices = try i.required(1, c)
                guard let idx = indices.intArray(), indices.rank >= 1 else { throw EdgeError.badInput("\(c.nodeDescription): bad indices") }
                let k = indices.shape[indices.rank - 1]
                guard batchDims + k <= x.rank else { throw EdgeError.badInput("\(c.nodeDescription): index depth too large") }
                let batch = Shapes.product(x.shape[..<batchDims])
                let inner = Shapes.product(x.shape[(batchDims + k)...])
                let tuples = idx.count / Swift.max(k, 1) / Swift.max(batch, 1)
                let xs = Shapes.strides(x.shape)
                let batchStride = batchDims > 0 ? xs[batchDims - 1] : 0
                var sources: [Int] = []
                for bIndex in 0..<batch {
                    for t in 0..<(k == 0 ? Shapes.product(indices.shape[..<(indices.rank - 1)]) / Swift.max(batch, 1) : tuples) {
                        var off = bIndex * batchStride
                        for d in 0..<k {
                            var v = idx[(bIndex * tuples + t) * k + d]
                            let dim = x.shape[batchDims + d]
                            if v < 0 { v += dim }
                            guard v >= 0 && v < dim else { throw EdgeError.badInput("\(c.nodeDescription): index \(v) out of range") }
                            off += v * xs[batchDims + d]
                        }
                        for r in 0..<inner { sources.append(off + r) }
                    }
                }
                let shape = Array(indices.shape[..<(indices.rank - 1)]) + Array(x.shape[(batchDims + k)...])
                return [try take(x, sources, shape, c)]
            }
        },
        OperatorSpec("ScatterND") { b in
            let reduction = b.string("reduction", "none")
            return ClosureKernel { i, c in
                let x = try i.required(0, c), indices = try i.required(1, c), updates = try i.required(2, c)
                guard let idx = indices.intArray(), indices.rank >= 1 else { throw EdgeError.badInput("\(c.nodeDescription): bad indices") }
                let k = indices.shape[indices.rank - 1]
                guard k <= x.rank else { throw EdgeError.badInput("\(c.nodeDescription): index depth too large") }
                let inner = Shapes.product(x.shape[k...])
                let xs = Shapes.strides(x.shape)
                var targets: [Int] = []
                for t in 0..<(idx.count / Swift.max(k, 1)) {
                    var off = 0
                    for d in 0..<k {
                        var v = idx[t * k + d]
                        if v < 0 { v += x.shape[d] }
                        guard v >= 0 && v < x.shape[d] else { throw EdgeError.badInput("\(c.nodeDescription): index \(v) out of range") }
                        off += v * xs[d]
                    }
                    for r in 0..<inner { targets.append(off + r) }
                }
                guard targets.count == updates.elementCount else { throw EdgeError.badInput("\(c.nodeDescription): updates shape does not match indices") }
                return [try scatter(x, targets, updates, reduction, c)]
            }
        },
        OperatorSpec("ScatterElements") { b in scatterElements(b) },
        OperatorSpec("Scatter", versions: 9...10) { b in scatterElements(b) },
        OperatorSpec("NonZero") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                let values = x.dtype == .bool ? x.doubleValues() : try CastOperators.readFloatsOrInts(x, c)
                var coords: [[Int]] = []
                forEachIndex(x.shape) { linear, coord in if values[linear] != 0 { coords.append(coord) } }
                let rank = x.rank
                var out = [Int64](repeating: 0, count: rank * coords.count)
                for (j, coord) in coords.enumerated() { for d in 0..<rank { out[d * coords.count + j] = Int64(coord[d]) } }
                return [Tensor(shape: [rank, coords.count], scalars: out)]
            }
        },
        OperatorSpec("OneHot") { b in
            let axisAttr = b.int("axis", -1)
            return ClosureKernel { i, c in
                let indices = try i.required(0, c), depthT = try i.required(1, c), values = try i.required(2, c)
                guard let depthValue = depthT.doubleValues().first, values.elementCount == 2 else {
                    throw EdgeError.badInput("\(c.nodeDescription): depth must be a scalar and values hold two elements")
                }
                let depth = Int(depthValue)
                let idx = indices.doubleValues().map { Int($0) }
                let rank = indices.rank + 1
                let axis = try Shapes.axis(axisAttr, rank: rank, c.nodeDescription)
                var shape = indices.shape
                shape.insert(depth, at: axis)
                let outer = Shapes.product(indices.shape[..<axis]), inner = Shapes.product(indices.shape[axis...])
                // sources: 0 → off value, 1 → on value.
                var sources = [Int](repeating: 0, count: outer * depth * inner)
                for o in 0..<outer {
                    for r in 0..<inner {
                        var v = idx[o * inner + r]
                        if v < 0 { v += depth }
                        if v >= 0 && v < depth { sources[(o * depth + v) * inner + r] = 1 }
                    }
                }
                return [try take(values, sources, shape, c)]
            }
        },
        OperatorSpec("Trilu") { b in
            let upper = b.int("upper", 1) != 0
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                guard x.rank >= 2 else { throw EdgeError.badInput("\(c.nodeDescription): input must have rank ≥ 2") }
                let k = try i.optional(1).map { try ShapeOperators.intValues($0, c, "k").first ?? 0 } ?? 0
                let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
                let out = try ElementwiseOperators.copy(x, c)
                let size = x.dtype.elementSize
                let p = out.mutableRawPointer
                for m in 0..<(x.elementCount / Swift.max(rows * cols, 1)) {
                    for r in 0..<rows {
                        for col in 0..<cols {
                            let keep = upper ? col - r >= k : col - r <= k
                            if !keep { (p + ((m * rows + r) * cols + col) * size).initializeMemory(as: UInt8.self, repeating: 0, count: size) }
                        }
                    }
                }
                return [out]
            }
        },
    ]

    static func scatterElements(_ b: KernelBuildContext) -> OpKernel {
        let axisAttr = b.int("axis", 0)
        let reduction = b.string("reduction", "none")
        return ClosureKernel { i, c in
            let x = try i.required(0, c), indices = try i.required(1, c), updates = try i.required(2, c)
            let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
            guard indices.shape == updates.shape, indices.rank == x.rank else {
                throw EdgeError.badInput("\(c.nodeDescription): indices and updates must share a shape of the data's rank")
            }
            let idx = try resolved(indices, dimension: x.shape[axis], c)
            let xs = Shapes.strides(x.shape)
            var targets = [Int](repeating: 0, count: idx.count)
            var bad = false
            forEachIndex(indices.shape) { linear, coord in
                var off = 0
                for d in 0..<x.rank {
                    let v = d == axis ? idx[linear] : coord[d]
                    if v >= x.shape[d] { bad = true }
                    off += v * xs[d]
                }
                targets[linear] = off
            }
            if bad { throw EdgeError.badInput("\(c.nodeDescription): indices shape exceeds the data") }
            return [try scatter(x, targets, updates, reduction, c)]
        }
    }

    /// Indices made non-negative and checked against `dimension`.
    static func resolved(_ indices: Tensor, dimension: Int, _ c: ExecutionContext) throws -> [Int] {
        guard var idx = indices.intArray() else { throw EdgeError.badInput("\(c.nodeDescription): indices must be integers") }
        for k in 0..<idx.count {
            if idx[k] < 0 { idx[k] += dimension }
            guard idx[k] >= 0 && idx[k] < dimension else {
                throw EdgeError.badInput("\(c.nodeDescription): index \(idx[k] < 0 ? idx[k] - dimension : idx[k]) is out of range for dimension \(dimension)")
            }
        }
        return idx
    }

    /// Calls body(linearIndex, coordinates) for every element of `shape`, row-major.
    static func forEachIndex(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
        let total = Shapes.product(shape)
        guard total > 0 else { return }
        var coord = [Int](repeating: 0, count: shape.count)
        for linear in 0..<total {
            body(linear, coord)
            var d = shape.count - 1
            while d >= 0 {
                coord[d] += 1
                if coord[d] < shape[d] { break }
                coord[d] = 0
                d -= 1
            }
        }
    }

    /// out[j] = x[sources[j]] for any element type.
    static func take(_ x: Tensor, _ sources: [Int], _ shape: [Int], _ c: ExecutionContext) throws -> Tensor {
        if x.dtype == .string { return Tensor(strings: sources.map { x.strings[$0] }, shape: shape) }
        if x.isSubByte {
            var t = try take(x.unpackedSubByte().reinterpreted(as: .uint8), sources, shape, c)
            t.dtype = .uint8
            return t.packedSubByte(x.dtype)
        }
        let out = try c.allocate(x.dtype, shape)
        func move<T>(_: T.Type) {
            let p = x.pointer(T.self), o = out.mutablePointer(T.self)
            for (j, s) in sources.enumerated() { o[j] = p[s] }
        }
        switch x.dtype.elementSize {
        case 1: move(UInt8.self)
        case 2: move(UInt16.self)
        case 4: move(UInt32.self)
        case 8: move(UInt64.self)
        default: throw EdgeError.badInput("\(c.nodeDescription): element type \(x.dtype) is not supported")
        }
        return out
    }

    /// Copy of x with updates written (or reduced) at the target element offsets, in order.
    static func scatter(_ x: Tensor, _ targets: [Int], _ updates: Tensor, _ reduction: String, _ c: ExecutionContext) throws -> Tensor {
        guard updates.dtype == x.dtype else { throw EdgeError.badInput("\(c.nodeDescription): updates type differs from data") }
        if reduction == "none" {
            if x.dtype == .string {
                var strings = x.strings
                for (j, t) in targets.enumerated() { strings[t] = updates.strings[j] }
                return Tensor(strings: strings, shape: x.shape)
            }
            let out = try ElementwiseOperators.copy(x, c)
            let size = x.dtype.elementSize
            for (j, t) in targets.enumerated() {
                (out.mutableRawPointer + t * size).copyMemory(from: updates.rawPointer + j * size, byteCount: size)
            }
            return [out][0]
        }
        struct Reduce: NumericVisitor {
            let out: Tensor, updates: Tensor, targets: [Int], reduction: String
            func visit<T: NumericScalar>(_: T.Type) throws {
                let o = out.mutablePointer(T.self), u = updates.pointer(T.self)
                for (j, t) in targets.enumerated() {
                    let a = o[t].doubleValue, b = u[j].doubleValue
                    switch reduction {
                    case "add": o[t] = T(fromDouble: a + b)
                    case "mul": o[t] = T(fromDouble: a * b)
                    case "max": o[t] = Swift.max(o[t], u[j])
                    case "min": o[t] = Swift.min(o[t], u[j])
                    default: throw EdgeError.badInput("unknown reduction '\(reduction)'")
                    }
                }
            }
        }
        let out = try ElementwiseOperators.copy(x, c)
        try DTypeDispatch.numeric(x.dtype, Reduce(out: out, updates: updates, targets: targets, reduction: reduction), c.nodeDescription)
        return out
    }
}
