import EdgeIR
import Foundation

/// Shape and layout operators: Reshape Flatten Squeeze Unsqueeze Transpose Concat Split Slice
/// Expand Tile Pad DepthToSpace SpaceToDepth Shape Size Identity Dropout (inference). Reshape-like
/// operators return their input's storage with a new shape (no copy).
enum ShapeOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Reshape") { b in
            let allowZero = b.int("allowzero", 0) != 0
            let legacyShape = b.opset < 5 ? b.ints("shape") : nil
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let requested = try legacyShape ?? intValues(i.required(1, c), c, "shape")
                return [x.reshaped(try reshapeTarget(x.shape, requested, allowZero: allowZero, c))]
            }
        },
        OperatorSpec("Flatten") { b in
            let axisAttr = b.int("axis", 1)
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let axis = axisAttr < 0 ? axisAttr + x.rank : axisAttr
                guard axis >= 0 && axis <= x.rank else { throw EdgeError.badInput("\(c.nodeDescription): axis \(axisAttr) out of range") }
                return [x.reshaped([Shapes.product(x.shape[..<axis]), Shapes.product(x.shape[axis...])])]
            }
        },
        OperatorSpec("Squeeze") { b in
            let attrAxes = b.opset < 13 ? b.ints("axes") : nil
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let given = try attrAxes ?? i.optional(1).map { try intValues($0, c, "axes") }
                var shape = x.shape
                if let given {
                    let axes = try Set(given.map { try Shapes.axis($0, rank: x.rank, c.nodeDescription) })
                    for a in axes where x.shape[a] != 1 {
                        throw EdgeError.badInput("\(c.nodeDescription): cannot squeeze axis \(a) of size \(x.shape[a])")
                    }
                    shape = x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
                } else {
                    shape = x.shape.filter { $0 != 1 }
                }
                return [x.reshaped(shape)]
            }
        },
        OperatorSpec("Unsqueeze") { b in
            let attrAxes = b.opset < 13 ? b.ints("axes") : nil
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let given = try attrAxes ?? intValues(i.required(1, c), c, "axes")
                let rank = x.rank + given.count
                let axes = try Set(given.map { try Shapes.axis($0, rank: rank, c.nodeDescription) })
                guard axes.count == given.count else { throw EdgeError.badInput("\(c.nodeDescription): repeated axes \(given)") }
                var shape: [Int] = []
                var k = 0
                for a in 0..<rank {
                    if axes.contains(a) { shape.append(1) } else { shape.append(x.shape[k]); k += 1 }
                }
                return [x.reshaped(shape)]
            }
        },
        OperatorSpec("Transpose") { b in
            let permAttr = b.ints("perm")
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let perm = permAttr ?? Array((0..<x.rank).reversed())
                guard perm.count == x.rank, Set(perm) == Set(0..<x.rank) else {
                    throw EdgeError.badInput("\(c.nodeDescription): perm \(perm) is not a permutation of rank \(x.rank)")
                }
                return [try transpose(x, perm, c)]
            }
        },
        OperatorSpec("Concat") { b in
            guard let axisAttr = b.int("axis") else { throw b.error("attribute 'axis' is missing") }
            return ClosureKernel { i, c in [try concat(i.compactMap { $0 }, axis: axisAttr, c)] }
        },
        OperatorSpec("Split") { b in
            let axisAttr = b.int("axis", 0)
            let splitAttr = b.opset < 13 ? b.ints("split") : nil
            let numOutputs = b.int("num_outputs") ?? b.node.outputs.count
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let axis = try Shapes.axis(axisAttr, rank: x.rank, c.nodeDescription)
                var sizes = try splitAttr ?? i.optional(1).map { try intValues($0, c, "split") }
                if sizes == nil {
                    let n = numOutputs, d = x.shape[axis]
                    guard n > 0 else { throw EdgeError.badInput("\(c.nodeDescription): no outputs") }
                    let chunk = (d + n - 1) / n
                    sizes = (0..<n).map { k in Swift.max(0, Swift.min(chunk, d - k * chunk)) }
                }
                guard sizes!.reduce(0, +) == x.shape[axis], sizes!.allSatisfy({ $0 >= 0 }) else {
                    throw EdgeError.badInput("\(c.nodeDescription): split \(sizes!) does not sum to dimension \(x.shape[axis])")
                }
                var outputs: [Tensor] = []
                var start = 0
                for size in sizes! {
                    outputs.append(try slice(x, starts: [start], ends: [start + size], axes: [axis], steps: [1], c))
                    start += size
                }
                return outputs
            }
        },
        OperatorSpec("Slice") { b in
            let legacy = b.opset < 10
            let attrStarts = b.ints("starts"), attrEnds = b.ints("ends"), attrAxes = b.ints("axes")
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
                if legacy {
                    guard let s = attrStarts, let e = attrEnds else { throw EdgeError.badInput("\(c.nodeDescription): starts/ends missing") }
                    (starts, ends, axes, steps) = (s, e, attrAxes, nil)
                } else {
                    starts = try intValues(i.required(1, c), c, "starts")
                    ends = try intValues(i.required(2, c), c, "ends")
                    axes = try i.optional(3).map { try intValues($0, c, "axes") }
                    steps = try i.optional(4).map { try intValues($0, c, "steps") }
                }
                guard starts.count == ends.count else { throw EdgeError.badInput("\(c.nodeDescription): starts and ends differ in length") }
                let resolvedAxes = try (axes ?? Array(0..<starts.count)).map { try Shapes.axis($0, rank: x.rank, c.nodeDescription) }
                return [try slice(x, starts: starts, ends: ends, axes: resolvedAxes, steps: steps ?? Array(repeating: 1, count: starts.count), c)]
            }
        },
        OperatorSpec("Expand") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                let shape = try intValues(i.required(1, c), c, "shape")
                let plan = try BroadcastPlan([x.shape, shape], what: c.nodeDescription)
                return [try broadcast(x, to: plan.outputShape, c)]
            }
        },
        OperatorSpec("Tile") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                let repeats = try intValues(i.required(1, c), c, "repeats")
                guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
                    throw EdgeError.badInput("\(c.nodeDescription): repeats \(repeats) do not match rank \(x.rank)")
                }
                // Tile = broadcast of x viewed as [1, d0, 1, d1, ...] to [r0, d0, r1, d1, ...].
                let strides = Shapes.strides(x.shape)
                var shape: [Int] = [], viewStrides: [Int] = []
                for d in 0..<x.rank {
                    shape += [repeats[d], x.shape[d]]
                    viewStrides += [0, strides[d]]
                }
                let out = try StridedCopy.tensor(x, base: 0, strides: viewStrides, shape: shape, c)
                return [out.reshaped(zip(x.shape, repeats).map { $0 * $1 })]
            }
        },
        OperatorSpec("Pad") { b in try PadKernel(b) },
        OperatorSpec("DepthToSpace") { b in
            let blocksize = b.int("blocksize", 0)
            let crd = b.string("mode", "DCR") == "CRD"
            guard blocksize > 0 else { throw b.error("blocksize must be positive") }
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                guard x.rank == 4, x.shape[1] % (blocksize * blocksize) == 0 else {
                    throw EdgeError.badInput("\(c.nodeDescription): input \(x.shape) is not NCHW with C divisible by blocksize²")
                }
                let (n, ch, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
                let cOut = ch / (blocksize * blocksize)
                let view: [Int], perm: [Int]
                if crd {
                    view = [n, cOut, blocksize, blocksize, h, w]; perm = [0, 1, 4, 2, 5, 3]
                } else {
                    view = [n, blocksize, blocksize, cOut, h, w]; perm = [0, 3, 4, 1, 5, 2]
                }
                return [try transpose(x.reshaped(view), perm, c).reshaped([n, cOut, h * blocksize, w * blocksize])]
            }
        },
        OperatorSpec("SpaceToDepth") { b in
            let blocksize = b.int("blocksize", 0)
            let crd = b.string("mode", "DCR") == "CRD"
            guard blocksize > 0 else { throw b.error("blocksize must be positive") }
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                guard x.rank == 4, x.shape[2] % blocksize == 0, x.shape[3] % blocksize == 0 else {
                    throw EdgeError.badInput("\(c.nodeDescription): input \(x.shape) is not NCHW with H, W divisible by blocksize")
                }
                let (n, ch, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
                let view = [n, ch, h / blocksize, blocksize, w / blocksize, blocksize]
                // DCR: channel = (bh·bs + bw)·C + c;  CRD: channel = c·bs² + bh·bs + bw.
                return [try transpose(x.reshaped(view), crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4], c)
                    .reshaped([n, ch * blocksize * blocksize, h / blocksize, w / blocksize])]
            }
        },
        OperatorSpec("Shape") { b in
            let startAttr = b.int("start", 0), endAttr = b.int("end")
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                func clampAxis(_ a: Int) -> Int { Swift.min(Swift.max(a < 0 ? a + x.rank : a, 0), x.rank) }
                let start = clampAxis(startAttr), end = clampAxis(endAttr ?? x.rank)
                let dims = start < end ? Array(x.shape[start..<end]) : []
                return [Tensor(shape: [dims.count], scalars: dims.map { Int64($0) })]
            }
        },
        OperatorSpec("Size") { _ in ClosureKernel { i, c in [Tensor.scalar(Int64(try i.required(0, c).elementCount))] } },
        OperatorSpec("Identity") { _ in ValueClosureKernel { i, _ in [i.first ?? nil] } },
        OperatorSpec("Dropout") { b in
            // Inference returns the input (mask all true). Training mode draws the keep mask from
            // uniform(0, 1) ≥ ratio with NumPy's legacy MT19937 stream seeded by `seed`, so a given
            // seed reproduces the reference; kept values are scaled by 1/(1 − ratio).
            let wantsMask = b.node.outputs.count > 1 && !b.node.outputs[1].isEmpty
            let legacyRatio = b.opset < 12 ? b.float("ratio", 0.5) : nil
            let seed = b.int("seed")
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                let ratio = legacyRatio.map(Double.init) ?? i.optional(1)?.doubleValues().first ?? 0.5
                let training = (i.optional(2)?.doubleValues().first ?? 0) != 0
                guard training && ratio != 0 else {
                    guard wantsMask else { return [x] }
                    let mask = try c.allocate(.bool, x.shape)
                    mask.mutableRawPointer.initializeMemory(as: UInt8.self, repeating: 1, count: x.elementCount)
                    return [x, mask]
                }
                guard ratio >= 0 && ratio < 1 else { throw EdgeError.badInput("\(c.nodeDescription): ratio \(ratio) is not in [0, 1)") }
                var generator = MersenneTwister(seed: UInt32(truncatingIfNeeded: seed ?? Int(Date().timeIntervalSince1970)))
                let keep = (0..<x.elementCount).map { _ in generator.nextDouble() >= ratio }
                let scale = Float(1) / (Float(1) - Float(ratio))
                let values = try x.asFloat32(c).floatArray()
                let y = Tensor(shape: x.shape, scalars: (0..<values.count).map { keep[$0] ? values[$0] * scale : 0 })
                let mask = try CastOperators.storeIntegers(keep.map { $0 ? 1 : 0 }, as: .bool, shape: x.shape, c)
                return [x.dtype == .float ? y : try CastOperators.cast(y, to: x.dtype, c), mask]
            }
        },
    ]

    /// Integer values of a shape-like input.
    static func intValues(_ t: Tensor, _ c: ExecutionContext, _ what: String) throws -> [Int] {
        guard let v = t.intArray() else { throw EdgeError.badInput("\(c.nodeDescription): \(what) must be an integer tensor") }
        return v
    }

    /// Reshape's target: 0 copies the input dimension (unless allowzero), -1 is inferred.
    static func reshapeTarget(_ input: [Int], _ requested: [Int], allowZero: Bool, _ c: ExecutionContext) throws -> [Int] {
        var shape = requested
        var inferred: Int? = nil
        for (k, d) in requested.enumerated() {
            if d == 0 && !allowZero {
                guard k < input.count else { throw EdgeError.badInput("\(c.nodeDescription): shape \(requested) copies a dimension the input \(input) lacks") }
                shape[k] = input[k]
            } else if d == -1 {
                guard inferred == nil else { throw EdgeError.badInput("\(c.nodeDescription): shape \(requested) has two -1") }
                inferred = k
            } else if d < 0 {
                throw EdgeError.badInput("\(c.nodeDescription): invalid shape \(requested)")
            }
        }
        let total = Shapes.product(input)
        if let k = inferred {
            let known = shape.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
            guard known > 0, total % known == 0 else {
                throw EdgeError.badInput("\(c.nodeDescription): cannot reshape \(input) to \(requested)")
            }
            shape[k] = total / known
        }
        guard Shapes.product(shape) == total else {
            throw EdgeError.badInput("\(c.nodeDescription): cannot reshape \(input) (\(total) elements) to \(requested)")
        }
        return shape
    }

    static func transpose(_ x: Tensor, _ perm: [Int], _ c: ExecutionContext) throws -> Tensor {
        let strides = Shapes.strides(x.shape)
        return try StridedCopy.tensor(x, base: 0, strides: perm.map { strides[$0] }, shape: perm.map { x.shape[$0] }, c)
    }

    static func broadcast(_ x: Tensor, to shape: [Int], _ c: ExecutionContext) throws -> Tensor {
        let rank = shape.count
        let strides = Shapes.strides(x.shape)
        var viewStrides = [Int](repeating: 0, count: rank)
        for (k, d) in x.shape.enumerated() {
            let axis = rank - x.rank + k
            viewStrides[axis] = d == 1 ? 0 : strides[k]
        }
        return try StridedCopy.tensor(x, base: 0, strides: viewStrides, shape: shape, c)
    }

    static func concat(_ inputs: [Tensor], axis axisAttr: Int, _ c: ExecutionContext) throws -> Tensor {
        guard let first = inputs.first else { throw EdgeError.badInput("\(c.nodeDescription): no inputs") }
        let rank = first.rank
        let axis = try Shapes.axis(axisAttr, rank: rank, c.nodeDescription)
        var shape = first.shape
        shape[axis] = 0
        for t in inputs {
            guard t.rank == rank, t.dtype == first.dtype,
                  (0..<rank).allSatisfy({ $0 == axis || t.shape[$0] == first.shape[$0] }) else {
                throw EdgeError.badInput("\(c.nodeDescription): cannot concatenate \(inputs.map { "\($0.dtype)\($0.shape)" }) on axis \(axis)")
            }
            shape[axis] += t.shape[axis]
        }
        let outer = Shapes.product(shape[..<axis])
        let innerOf = { (t: Tensor) in Shapes.product(t.shape[axis...]) }
        if first.dtype == .string || first.isSubByte {
            // Rare types: index-based concatenation.
            var parts = inputs.map { $0.isSubByte ? $0.unpackedSubByte().reinterpreted(as: .uint8) : $0 }
            if first.dtype == .string {
                var strings: [[UInt8]] = []
                for o in 0..<outer { for t in parts { let n = innerOf(t); strings += t.strings[(o * n)..<((o + 1) * n)] } }
                return Tensor(strings: strings, shape: shape)
            }
            var bytes: [UInt8] = []
            for o in 0..<outer { for t in parts { let n = innerOf(t); let p = t.pointer(UInt8.self); bytes += UnsafeBufferPointer(start: p + o * n, count: n) } }
            parts = []
            return Tensor(shape: shape, scalars: bytes).packedSubByte(first.dtype)
        }
        let size = first.dtype.elementSize
        let out = try c.allocate(first.dtype, shape)
        // The output is `outer` rows, each the inputs' slices one after the other. Threads take
        // equal byte ranges of the output (not whole inputs: a channel concat of 112 and 24
        // planes would leave one thread idle most of the time).
        let sources = inputs.map { $0.rawPointer }, rowBytes = inputs.map { innerOf($0) * size }
        let outRow = rowBytes.reduce(0, +), total = outer * outRow
        guard total > 0 else { return out }
        let dst = out.mutableRawPointer
        c.parallelFor(total, grain: concatParallelBytes) { range in
            var o = range.lowerBound / outRow, pos = o * outRow
            while pos < range.upperBound {
                for (t, n) in rowBytes.enumerated() {
                    let lo = Swift.max(pos, range.lowerBound), hi = Swift.min(pos + n, range.upperBound)
                    if lo < hi { (dst + lo).copyMemory(from: sources[t] + o * n + (lo - pos), byteCount: hi - lo) }
                    pos += n
                }
                o += 1
            }
        }
        return out
    }

    /// A thread's share of a Concat is at least this many bytes (smaller copies take less time
    /// than handing them to another thread).
    static let concatParallelBytes = 1 << 16

    /// Slice with ONNX clamping rules; negative steps walk backwards.
    static func slice(_ x: Tensor, starts: [Int], ends: [Int], axes: [Int], steps: [Int], _ c: ExecutionContext) throws -> Tensor {
        var begin = [Int](repeating: 0, count: x.rank)
        var step = [Int](repeating: 1, count: x.rank)
        var shape = x.shape
        for (k, axis) in axes.enumerated() {
            let d = x.shape[axis]
            let s = k < steps.count ? steps[k] : 1
            guard s != 0 else { throw EdgeError.badInput("\(c.nodeDescription): slice step is 0") }
            var start = starts[k], end = ends[k]
            if start < 0 { start += d }
            if end < 0 { end += d }
            if s > 0 {
                start = Swift.min(Swift.max(start, 0), d)
                end = Swift.min(Swift.max(end, 0), d)
                shape[axis] = end > start ? (end - start + s - 1) / s : 0
            } else {
                start = Swift.min(Swift.max(start, -1), d - 1)
                end = Swift.min(Swift.max(end, -1), d - 1)
                shape[axis] = start > end ? (start - end - s - 1) / (-s) : 0
            }
            begin[axis] = start
            step[axis] = s
        }
        let strides = Shapes.strides(x.shape)
        var base = 0
        for d in 0..<x.rank where shape[d] > 0 { base += begin[d] * strides[d] }
        return try StridedCopy.tensor(x, base: base, strides: (0..<x.rank).map { strides[$0] * step[$0] }, shape: shape, c)
    }
}

/// Pad (constant, reflect, edge, wrap). Pads come from the attribute before opset 11 and from
/// inputs after (with optional `axes` from 18).
final class PadKernel: TensorKernel {
    let mode: String
    let legacyPads: [Int]?
    let legacyValue: Float
    init(_ b: KernelBuildContext) throws {
        mode = b.string("mode", "constant")
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else { throw b.error("unknown mode '\(mode)'") }
        legacyPads = b.opset < 11 ? (b.ints("pads") ?? b.ints("paddings")) : nil
        legacyValue = b.float("value", 0)
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c)
        let rank = x.rank
        var pads = try legacyPads ?? ShapeOperators.intValues(i.required(1, c), c, "pads")
        if let axesTensor = i.optional(3) {
            let axes = try ShapeOperators.intValues(axesTensor, c, "axes").map { try Shapes.axis($0, rank: rank, c.nodeDescription) }
            guard pads.count == 2 * axes.count else { throw EdgeError.badInput("\(c.nodeDescription): pads do not match axes") }
            var full = [Int](repeating: 0, count: 2 * rank)
            for (k, a) in axes.enumerated() { full[a] = pads[k]; full[rank + a] = pads[axes.count + k] }
            pads = full
        }
        guard pads.count == 2 * rank else { throw EdgeError.badInput("\(c.nodeDescription): pads \(pads) do not match rank \(rank)") }
        let shape = (0..<rank).map { x.shape[$0] + pads[$0] + pads[rank + $0] }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw EdgeError.badInput("\(c.nodeDescription): pads \(pads) remove more than the input holds") }
        // Source coordinate for each output coordinate along each axis (-1: constant fill).
        var maps: [[Int]] = []
        for d in 0..<rank {
            let n = x.shape[d]
            var map = [Int](repeating: -1, count: shape[d])
            for o in 0..<shape[d] {
                var s = o - pads[d]
                if s >= 0 && s < n { map[o] = s; continue }
                guard n > 0 else { continue }
                switch mode {
                case "edge": s = Swift.min(Swift.max(s, 0), n - 1)
                case "wrap": s = ((s % n) + n) % n
                case "reflect":
                    if n == 1 { s = 0 } else {
                        let period = 2 * (n - 1)
                        s = ((s % period) + period) % period
                        if s >= n { s = period - s }
                    }
                default: s = -1
                }
                map[o] = s
            }
            maps.append(map)
        }
        var padValue = Tensor.scalar(legacyValue)
        if let v = i.optional(2), v.elementCount > 0 { padValue = v }
        if padValue.dtype != x.dtype && x.dtype != .string { padValue = try CastOperators.cast(padValue, to: x.dtype, c) }
        if x.dtype == .string || x.isSubByte {
            throw EdgeError.badInput("\(c.nodeDescription): element type \(x.dtype) is not supported")
        }
        let out = try c.allocate(x.dtype, shape)
        let size = x.dtype.elementSize
        let strides = Shapes.strides(x.shape)
        let total = out.elementCount
        guard total > 0 else { return [out] }
        let src = x.rawPointer, dst = out.mutableRawPointer, fill = padValue.rawPointer
        var counter = [Int](repeating: 0, count: rank)
        for o in 0..<total {
            var offset = 0
            var inside = true
            for d in 0..<rank {
                let s = maps[d][counter[d]]
                if s < 0 { inside = false; break }
                offset += s * strides[d]
            }
            (dst + o * size).copyMemory(from: inside ? src + offset * size : fill, byteCount: size)
            var d = rank - 1
            while d >= 0 {
                counter[d] += 1
                if counter[d] < shape[d] { break }
                counter[d] = 0
                d -= 1
            }
        }
        return [out]
    }
}
