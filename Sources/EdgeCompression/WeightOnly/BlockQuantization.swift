import EdgeIR

/// The integer grid of a block-wise weight quantization: bit width and symmetry.
///
/// - Symmetric (signed, zero point 0): s = max|w| / qmax with qmax = 2^(bits−1) − 1 (7 for int4,
///   127 for int8), q = clamp(roundHalfEven(w / s), −qmax, qmax). The grid is [−7, 7] rather than
///   [−8, 7] so that the largest magnitude on either side is represented without clipping (the
///   worst-case error stays s/2).
/// - Asymmetric (unsigned): the block's range [lo, hi] is widened to contain 0, s = (hi − lo) / qmax
///   with qmax = 2^bits − 1 (15 for uint4, 255 for uint8), z = clamp(roundHalfEven(−lo / s), 0, qmax),
///   q = clamp(roundHalfEven(w / s) + z, 0, qmax).
/// Dequantization is ŵ = (q − z)·s either way. A block of zeros gets s = 1 (any scale is exact).
public struct BlockGrid: Sendable, Equatable {
    public var bits: Int
    public var symmetric: Bool

    public init(bits: Int, symmetric: Bool) {
        self.bits = bits
        self.symmetric = symmetric
    }

    public var qmin: Int32 { symmetric ? -((1 << (bits - 1)) - 1) : 0 }
    public var qmax: Int32 { symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 }

    /// ONNX element type of the stored integers.
    public var storageType: DType {
        switch (bits, symmetric) {
        case (4, true): return .int4
        case (4, false): return .uint4
        case (_, true): return .int8
        default: return .uint8
        }
    }

    /// Scale and zero point for values spanning [lo, hi].
    @inline(__always)
    public func parameters(lo: Float, hi: Float) -> (scale: Float, zero: Int32) {
        if symmetric {
            let m = Swift.max(abs(lo), abs(hi))
            return (m > 0 && m.isFinite ? m / Float(qmax) : 1, 0)
        }
        let l = Swift.min(lo, 0), h = Swift.max(hi, 0)
        let width = h - l
        let scale: Float = width > 0 && width.isFinite ? width / Float(qmax) : 1
        let z = (-l / scale).rounded(.toNearestOrEven)
        return (scale, Int32(Swift.min(Swift.max(z, 0), Float(qmax))))
    }

    @inline(__always)
    public func quantize(_ w: Float, scale: Float, zero: Int32) -> Int32 {
        let r = (w / scale).rounded(.toNearestOrEven)
        let q = r.isNaN ? 0 : Swift.min(Swift.max(r + Float(zero), Float(qmin)), Float(qmax))
        return Int32(q)
    }
}

/// Where the blocks of a weight lie: the tensor viewed as [outer, D, inner] around the block axis,
/// so that each (outer, inner) pair is one *line* of D values along the reduction axis, cut into
/// ⌈D / blockSize⌉ blocks. This is exactly ONNX's blocked DequantizeLinear layout (opset 21): the
/// scale tensor has the weight's shape with dimension `axis` replaced by the block count, and
/// scale[o, b, i] serves x[o, b·B ..< (b+1)·B, i].
public struct BlockLayout: Sendable, Equatable {
    public var shape: [Int]
    public var axis: Int
    public var blockSize: Int

    public init(shape: [Int], axis: Int, blockSize: Int) {
        self.shape = shape
        self.axis = axis
        self.blockSize = blockSize
    }

    public var outer: Int { shape[..<axis].reduce(1, *) }
    public var length: Int { shape[axis] }
    public var inner: Int { shape[(axis + 1)...].reduce(1, *) }
    public var lines: Int { outer * inner }
    public var blocks: Int { (length + blockSize - 1) / blockSize }
    public var scaleShape: [Int] {
        var s = shape
        s[axis] = blocks
        return s
    }

    /// Flat index of element k of `line` in the weight.
    @inline(__always)
    public func index(line: Int, _ k: Int) -> Int {
        let o = line / inner, i = line % inner
        return (o * length + k) * inner + i
    }

    /// Flat index of block b of `line` in the scale tensor.
    @inline(__always)
    public func scaleIndex(line: Int, block b: Int) -> Int {
        let o = line / inner, i = line % inner
        return (o * blocks + b) * inner + i
    }
}

/// A weight quantized block-wise: integers in the weight's own layout, one scale (and, when
/// asymmetric, one zero point) per block.
public struct BlockQuantizedWeight: Sendable {
    public var layout: BlockLayout
    public var grid: BlockGrid
    /// Integers, flat in the weight's layout.
    public var values: [Int32]
    /// Scales and zero points, flat in `layout.scaleShape`.
    public var scales: [Float]
    public var zeros: [Int32]

    public init(layout: BlockLayout, grid: BlockGrid, values: [Int32], scales: [Float], zeros: [Int32]) {
        self.layout = layout
        self.grid = grid
        self.values = values
        self.scales = scales
        self.zeros = zeros
    }

    /// Round-to-nearest: each block's parameters from its own range, every value rounded
    /// independently.
    public static func roundToNearest(_ w: [Float], layout: BlockLayout, grid: BlockGrid) -> BlockQuantizedWeight {
        let count = layout.scaleShape.reduce(1, *)
        var scales = [Float](repeating: 1, count: count)
        var zeros = [Int32](repeating: 0, count: count)
        var q = [Int32](repeating: 0, count: w.count)
        let length = layout.length, size = layout.blockSize
        for line in 0..<layout.lines {
            for b in 0..<layout.blocks {
                let range = (b * size)..<Swift.min(length, (b + 1) * size)
                var lo = Float.infinity, hi = -Float.infinity
                for k in range {
                    let v = w[layout.index(line: line, k)]
                    if v.isFinite { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
                }
                if lo > hi { lo = 0; hi = 0 }
                let (s, z) = grid.parameters(lo: lo, hi: hi)
                let p = layout.scaleIndex(line: line, block: b)
                scales[p] = s
                zeros[p] = z
                for k in range {
                    let e = layout.index(line: line, k)
                    q[e] = grid.quantize(w[e], scale: s, zero: z)
                }
            }
        }
        return BlockQuantizedWeight(layout: layout, grid: grid, values: q, scales: scales, zeros: zeros)
    }

    /// ŵ = (q − z)·s in the weight's layout.
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for line in 0..<layout.lines {
            for k in 0..<layout.length {
                let e = layout.index(line: line, k)
                let p = layout.scaleIndex(line: line, block: k / layout.blockSize)
                out[e] = Float(values[e] - zeros[p]) * scales[p]
            }
        }
        return out
    }

    /// The integers as an ONNX tensor of the grid's storage type (int4/uint4 packed two per byte,
    /// low nibble first).
    public var valuesTensor: Tensor { Self.integerTensor(values, shape: layout.shape, type: grid.storageType) }
    public var scaleTensor: Tensor { Tensor(shape: layout.scaleShape, scalars: scales) }
    /// Nil when symmetric (zero point 0 is DequantizeLinear's default).
    public var zeroPointTensor: Tensor? {
        grid.symmetric ? nil : Self.integerTensor(zeros, shape: layout.scaleShape, type: grid.storageType)
    }

    static func integerTensor(_ v: [Int32], shape: [Int], type: DType) -> Tensor {
        switch type {
        case .int8: return Tensor(shape: shape, scalars: v.map { Int8(truncatingIfNeeded: $0) })
        case .uint8: return Tensor(shape: shape, scalars: v.map { UInt8(truncatingIfNeeded: $0) })
        default:
            var packed = [UInt8](repeating: 0, count: (v.count + 1) / 2)
            for (i, x) in v.enumerated() { packed[i / 2] |= (UInt8(truncatingIfNeeded: x) & 0x0F) << UInt8(4 * (i % 2)) }
            return Tensor(dtype: type, shape: shape, storage: packed.withUnsafeBytes { OwnedStorage(copying: $0) })
        }
    }
}
