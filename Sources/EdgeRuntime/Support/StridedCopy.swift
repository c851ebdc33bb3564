import EdgeIR

/// Gathers a strided view of a tensor into a contiguous buffer: the element at output index
/// (i0, …, ik) comes from `base + Σ ij·strides[j]` (strides may be 0 or negative). Transpose,
/// Slice, Expand and DepthToSpace are all this one loop.
enum StridedCopy {
    static func copy<T>(_ src: UnsafePointer<T>, base: Int, strides: [Int], shape: [Int], into dst: UnsafeMutablePointer<T>) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        if shape.isEmpty { dst[0] = src[base]; return }
        let (s, d) = coalesced(strides: strides, shape: shape)
        copyRows(src, base: base, strides: s, shape: d, into: dst, rows: 0..<(total / d[d.count - 1]))
    }

    /// The same view with fewer axes: size-1 axes dropped, and an axis merged into the next one
    /// when its stride steps exactly over that axis (stride_a = stride_b · size_b), so the pair is
    /// one run in the source as it is in the contiguous output. A channel shuffle
    /// [1, g, c/g, h, w] with perm (0, 2, 1, 3, 4) becomes [c/g, g, h·w]: copies of whole planes.
    /// Never empty: a single element comes back as shape [1].
    static func coalesced(strides: [Int], shape: [Int]) -> (strides: [Int], shape: [Int]) {
        var outS: [Int] = [], outD: [Int] = []
        for (stride, size) in zip(strides, shape) where size != 1 {
            if let last = outS.last, last == stride * size {
                outD[outD.count - 1] *= size
                outS[outS.count - 1] = stride
            } else {
                outS.append(stride); outD.append(size)
            }
        }
        return outS.isEmpty ? ([1], [1]) : (outS, outD)
    }

    /// Copies output rows `rows` (a row = one run along the last axis; rows are numbered in
    /// row-major order over the other axes) of the view into `dst`, which holds the whole output.
    static func copyRows<T>(_ src: UnsafePointer<T>, base: Int, strides: [Int], shape: [Int],
                            into dst: UnsafeMutablePointer<T>, rows: Range<Int>) {
        if rows.isEmpty { return }
        let rank = shape.count
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        // Counter of the outer axes at the first row, and its source offset.
        var counter = [Int](repeating: 0, count: rank)
        var offset = base
        var r = rows.lowerBound
        for d in stride(from: rank - 2, through: 0, by: -1) {
            counter[d] = r % shape[d]
            r /= shape[d]
            offset += counter[d] * strides[d]
        }
        var out = rows.lowerBound * inner
        let end = rows.upperBound * inner
        while out < end {
            let p = src + offset
            if innerStride == 1 {
                (dst + out).update(from: p, count: inner)
            } else {
                for j in 0..<inner { dst[out + j] = p[j * innerStride] }
            }
            out += inner
            var d = rank - 2
            while d >= 0 {
                counter[d] += 1
                offset += strides[d]
                if counter[d] < shape[d] { break }
                offset -= strides[d] * shape[d]
                counter[d] = 0
                d -= 1
            }
        }
    }

    /// `copy` split across the session's threads by output rows, for views of at least
    /// `parallelElements` elements (smaller ones cost more in hand-offs than they gain).
    static func parallelCopy<T>(_ src: UnsafePointer<T>, base: Int, strides: [Int], shape: [Int],
                                into dst: UnsafeMutablePointer<T>, _ c: ExecutionContext) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        if shape.isEmpty { dst[0] = src[base]; return }
        let (s, d) = coalesced(strides: strides, shape: shape)
        let inner = d[d.count - 1], rows = total / inner
        if total < parallelElements || rows < 2 {
            copyRows(src, base: base, strides: s, shape: d, into: dst, rows: 0..<rows)
            return
        }
        c.parallelFor(rows, grain: max(1, parallelElements / 2 / inner)) { range in
            copyRows(src, base: base, strides: s, shape: d, into: dst, rows: range)
        }
    }

    /// Below this many elements a copy runs on one thread (≈ 16 µs of memory traffic at 4 bytes).
    static let parallelElements = 1 << 14

    /// `copy` for any tensor: elements moved by size (strings by index, sub-byte types unpacked
    /// and repacked).
    static func tensor(_ x: Tensor, base: Int, strides: [Int], shape: [Int], _ c: ExecutionContext) throws -> Tensor {
        if x.dtype == .string {
            let count = shape.reduce(1, *)
            var indices = [Int](repeating: 0, count: count)
            let source = Array(0..<max(x.elementCount, 1))
            source.withUnsafeBufferPointer { s in
                indices.withUnsafeMutableBufferPointer { d in
                    copy(s.baseAddress!, base: base, strides: strides, shape: shape, into: d.baseAddress!)
                }
            }
            return Tensor(strings: indices.map { x.strings[$0] }, shape: shape)
        }
        if x.dtype.bitWidth < 8 {
            let unpacked = x.unpackedSubByte()
            var moved = try tensor(unpacked.reinterpreted(as: .uint8), base: base, strides: strides, shape: shape, c)
            moved.dtype = .uint8
            return moved.packedSubByte(x.dtype)
        }
        let out = try c.allocate(x.dtype, shape)
        switch x.dtype.elementSize {
        case 1: parallelCopy(x.pointer(UInt8.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt8.self), c)
        case 2: parallelCopy(x.pointer(UInt16.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt16.self), c)
        case 4: parallelCopy(x.pointer(UInt32.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt32.self), c)
        case 8: parallelCopy(x.pointer(UInt64.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt64.self), c)
        case 16: parallelCopy(x.pointer(SIMD2<UInt64>.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(SIMD2<UInt64>.self), c)
        default: throw EdgeError.badInput("\(c.nodeDescription): element type \(x.dtype) is not supported")
        }
        return out
    }
}

extension Tensor {
    /// The same bytes read as another element type of equal width (for byte moves).
    func reinterpreted(as dtype: DType) -> Tensor {
        var t = self
        t.dtype = dtype
        return t
    }

    /// Tensor of the given elements and shape, sub-byte types unpacked (one element per byte).
    var isSubByte: Bool { dtype != .string && dtype.bitWidth < 8 }
}
