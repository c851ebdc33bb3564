import EdgeIR

/// Gathers a strided view of a tensor into a contiguous buffer: the element at output index
/// (i0, …, ik) comes from `base + Σ ij·strides[j]` (strides may be 0 or negative). Transpose,
/// Slice, Expand and DepthToSpace are all this one loop.
enum StridedCopy {
    static func copy<T>(_ src: UnsafePointer<T>, base: Int, strides: [Int], shape: [Int], into dst: UnsafeMutablePointer<T>) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        let rank = shape.count
        if rank == 0 { dst[0] = src[base]; return }
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        var counter = [Int](repeating: 0, count: rank)
        var offset = base
        var out = 0
        while out < total {
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
        case 1: copy(x.pointer(UInt8.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt8.self))
        case 2: copy(x.pointer(UInt16.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt16.self))
        case 4: copy(x.pointer(UInt32.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt32.self))
        case 8: copy(x.pointer(UInt64.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(UInt64.self))
        case 16: copy(x.pointer(SIMD2<UInt64>.self), base: base, strides: strides, shape: shape, into: out.mutablePointer(SIMD2<UInt64>.self))
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
