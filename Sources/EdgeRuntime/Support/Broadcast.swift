import EdgeIR

/// NumPy-style multidirectional broadcasting of N inputs to one output shape, with adjacent
/// dimensions merged where every input agrees on being broadcast or not, so the inner loop runs
/// over the longest possible contiguous stretch.
public struct BroadcastPlan {
    public let outputShape: [Int]
    /// Merged output dimensions.
    let dims: [Int]
    /// Per input, per merged dimension: element stride (0 where broadcast).
    let strides: [[Int]]

    public init(_ shapes: [[Int]], what: @autoclosure () -> String) throws {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for shape in shapes {
            for (i, d) in shape.enumerated() {
                let axis = rank - shape.count + i
                if out[axis] == 1 { out[axis] = d }
                else if d != 1 && d != out[axis] {
                    throw EdgeError.badInput("\(what()): shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) cannot be broadcast together")
                }
            }
        }
        // A zero-size dimension wins over 1.
        for shape in shapes {
            for (i, d) in shape.enumerated() where d == 0 { out[rank - shape.count + i] = 0 }
        }
        outputShape = out
        // Per input: is each output axis broadcast (size 1 in the input while > 1 in the output)?
        let broadcast: [[Bool]] = shapes.map { shape in
            (0..<rank).map { axis in
                let i = axis - (rank - shape.count)
                return i < 0 || shape[i] == 1
            }
        }
        var dims: [Int] = []
        var flags: [[Bool]] = []
        for axis in 0..<rank where out[axis] != 1 {
            let column = broadcast.map { $0[axis] }
            if let last = flags.last, last == column {
                dims[dims.count - 1] *= out[axis]
            } else {
                dims.append(out[axis])
                flags.append(column)
            }
        }
        if dims.isEmpty {
            dims = [1]
            flags = [Array(repeating: true, count: shapes.count)]
        }
        var strides: [[Int]] = Array(repeating: Array(repeating: 0, count: dims.count), count: shapes.count)
        for k in 0..<shapes.count {
            var s = 1
            for d in stride(from: dims.count - 1, through: 0, by: -1) {
                if flags[d][k] { strides[k][d] = 0 } else { strides[k][d] = s; s *= dims[d] }
            }
        }
        self.dims = dims
        self.strides = strides
    }

    public var outputCount: Int { outputShape.reduce(1, *) }

    /// Calls `body(outputOffset, inputOffsets, count, innerStrides)` for each contiguous run of
    /// the output; input k's element j of the run is at `inputOffsets[k] + j * innerStrides[k]`.
    public func forEachRun(_ body: (Int, UnsafePointer<Int>, Int, UnsafePointer<Int>) -> Void) {
        let n = strides.count
        let rank = dims.count
        guard outputCount > 0 else { return }
        let inner = dims[rank - 1]
        withUnsafeTemporaryAllocation(of: Int.self, capacity: n * 2 + rank) { buffer in
            let offsets = buffer.baseAddress!
            let innerStrides = offsets + n
            let counter = offsets + 2 * n
            for k in 0..<n { offsets[k] = 0; innerStrides[k] = strides[k][rank - 1] }
            for d in 0..<rank { counter[d] = 0 }
            var out = 0
            let total = outputCount
            while out < total {
                body(out, offsets, inner, innerStrides)
                out += inner
                // Odometer over the outer dimensions.
                var d = rank - 2
                while d >= 0 {
                    counter[d] += 1
                    for k in 0..<n { offsets[k] += strides[k][d] }
                    if counter[d] < dims[d] { break }
                    for k in 0..<n { offsets[k] -= strides[k][d] * dims[d] }
                    counter[d] = 0
                    d -= 1
                }
            }
        }
    }
}

/// Elementwise loops over broadcast inputs.
public enum Elementwise {
    /// out[i] = op(a[i'], b[i'']) with broadcasting.
    @inline(__always)
    public static func binary<A, B, C>(_ a: UnsafePointer<A>, _ b: UnsafePointer<B>, _ out: UnsafeMutablePointer<C>,
                                       plan: BroadcastPlan, _ op: (A, B) -> C) {
        plan.forEachRun { o, offsets, count, inner in
            let pa = a + offsets[0], pb = b + offsets[1], po = out + o
            let sa = inner[0], sb = inner[1]
            if sa == 1 && sb == 1 {
                for j in 0..<count { po[j] = op(pa[j], pb[j]) }
            } else if sa == 1 {
                let vb = pb[0]
                for j in 0..<count { po[j] = op(pa[j], vb) }
            } else if sb == 1 {
                let va = pa[0]
                for j in 0..<count { po[j] = op(va, pb[j]) }
            } else {
                let v = op(pa[0], pb[0])
                for j in 0..<count { po[j] = v }
            }
        }
    }

    @inline(__always)
    public static func ternary<A, B, C, D>(_ a: UnsafePointer<A>, _ b: UnsafePointer<B>, _ c: UnsafePointer<C>,
                                           _ out: UnsafeMutablePointer<D>, plan: BroadcastPlan, _ op: (A, B, C) -> D) {
        plan.forEachRun { o, offsets, count, inner in
            let pa = a + offsets[0], pb = b + offsets[1], pc = c + offsets[2], po = out + o
            let sa = inner[0], sb = inner[1], sc = inner[2]
            for j in 0..<count { po[j] = op(pa[j * sa], pb[j * sb], pc[j * sc]) }
        }
    }

    /// Copies `input` broadcast to `plan.outputShape` (Expand), any element size.
    public static func expand(_ input: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, elementSize: Int, plan: BroadcastPlan) {
        plan.forEachRun { o, offsets, count, inner in
            let src = input + offsets[0] * elementSize
            let dst = out + o * elementSize
            if inner[0] == 1 {
                dst.copyMemory(from: src, byteCount: count * elementSize)
            } else {
                for j in 0..<count { (dst + j * elementSize).copyMemory(from: src, byteCount: elementSize) }
            }
        }
    }
}
