import EdgeKernelsVNNI

/// Output scale of a requantization: one multiplier, or one per row (output channel).
public enum QuantMultiplier {
    case scalar(Float)
    case perRow(UnsafePointer<Float>)
}

extension Kernels {
    /// int32 accumulators → int8/uint8 as ONNX QLinearConv / QLinearMatMul define it:
    /// y = clamp(roundHalfEven(Float(acc + bias) · multiplier) + zeroPoint, lo, hi),
    /// multiplier = x_scale·w_scale / y_scale computed by the caller in Float (as ONNX Runtime does).
    /// `lo`/`hi` default to the output type's range (a fused Relu/Clip narrows them); a NaN product
    /// (only from a NaN multiplier) gives the zero point.
    /// src, dst: rows × cols (row-major, contiguous); bias: optional int32 per row, added first.
    /// With a pool, rows are split across threads once the block is large enough to pay for it.
    public static func requantize(_ src: UnsafePointer<Int32>, rows: Int, cols: Int, bias: UnsafePointer<Int32>? = nil,
                                  multiplier: QuantMultiplier, zeroPoint: Int32, outputSigned: Bool,
                                  lo: Int32? = nil, hi: Int32? = nil,
                                  dst: UnsafeMutableRawPointer, pool: ThreadPool? = nil) {
        RowRequantization(multiplier: multiplier, bias: bias, zeroPoint: zeroPoint, outputSigned: outputSigned, lo: lo, hi: hi)
            .apply(src, rows: rows, cols: cols, dst: dst, pool: pool)
    }

    /// One row of `requantize`: 16 lanes at a time where the VNNI kernels run (the scalar loop
    /// calls rintf per value and took more time than the VNNI GEMMs it follows), the scalar formula
    /// otherwise and for a NaN scale (the vector row would clamp the zero point into [lo, hi]).
    static func requantizeRow(_ src: UnsafePointer<Int32>, _ count: Int, _ bias: Int32, _ scale: Float, _ zeroPoint: Int32,
                              _ lo: Float, _ hi: Float, _ outputSigned: Bool, _ dst: UnsafeMutableRawPointer) {
        if VNNI.active && !scale.isNaN {
            VNNIKernels.requantizeRow(src, count, bias, scale, zeroPoint, lo, hi, dst)
            return
        }
        for i in 0..<count {
            var v = (Float(src[i] &+ bias) * scale).rounded(.toNearestOrEven) + Float(zeroPoint)
            v = v.isNaN ? Float(zeroPoint) : Swift.min(Swift.max(v, lo), hi)  // NaN only from a NaN scale
            if outputSigned { dst.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self) }
            else { dst.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self) }
        }
    }
}

/// A requantization applied by a kernel to its own int32 results instead of a separate pass over
/// an int32 tensor (`Kernels.convInt8Requantized`): per row (output channel) r,
///   dst = clamp(roundHalfEven(Float(acc + bias[r]) · multiplier(r)) + zeroPoint, lo, hi)
/// — the formula and arithmetic of `Kernels.requantize`, so the bytes are the same.
/// Pointers must stay valid for the duration of the call.
public struct RowRequantization {
    public let multiplier: QuantMultiplier
    /// int32 bias per row, or nil.
    public let bias: UnsafePointer<Int32>?
    public let zeroPoint: Int32
    public let outputSigned: Bool
    let lo: Float, hi: Float

    /// `lo`/`hi` default to the output type's range (a fused Relu/Clip narrows them).
    public init(multiplier: QuantMultiplier, bias: UnsafePointer<Int32>?, zeroPoint: Int32, outputSigned: Bool,
                lo: Int32? = nil, hi: Int32? = nil) {
        self.multiplier = multiplier
        self.bias = bias
        self.zeroPoint = zeroPoint
        self.outputSigned = outputSigned
        self.lo = Float(lo ?? (outputSigned ? -128 : 0))
        self.hi = Float(hi ?? (outputSigned ? 127 : 255))
    }

    @inline(__always) func scale(_ r: Int) -> Float {
        switch multiplier {
        case let .scalar(s): return s
        case let .perRow(p): return p[r]
        }
    }

    /// The same requantization for rows `first...` (row r here is row first + r of self).
    func rows(from first: Int) -> RowRequantization {
        var m = multiplier
        if case let .perRow(p) = multiplier { m = .perRow(p + first) }
        return RowRequantization(multiplier: m, bias: bias.map { $0 + first }, zeroPoint: zeroPoint, outputSigned: outputSigned,
                                 flo: lo, fhi: hi)
    }

    private init(multiplier: QuantMultiplier, bias: UnsafePointer<Int32>?, zeroPoint: Int32, outputSigned: Bool, flo: Float, fhi: Float) {
        self.multiplier = multiplier; self.bias = bias; self.zeroPoint = zeroPoint; self.outputSigned = outputSigned
        lo = flo; hi = fhi
    }

    /// Requantizes `count` accumulators of row r into dst.
    @inline(__always) func row(_ r: Int, _ src: UnsafePointer<Int32>, _ count: Int, _ dst: UnsafeMutableRawPointer) {
        Kernels.requantizeRow(src, count, bias?[r] ?? 0, scale(r), zeroPoint, lo, hi, outputSigned, dst)
    }

    /// As `row`, for accumulators held as exact integer floats (|x| < 2²⁴); `scratch` holds
    /// `count` int32 where the vector kernel does not run.
    func floatRow(_ r: Int, _ src: UnsafePointer<Float>, _ count: Int, _ dst: UnsafeMutableRawPointer,
                  scratch: UnsafeMutablePointer<Int32>) {
        let s = scale(r)
        if VNNI.active && !s.isNaN {
            VNNIKernels.requantizeFloatRow(src, count, bias?[r] ?? 0, s, zeroPoint, lo, hi, dst)
            return
        }
        for i in 0..<count { scratch[i] = Int32(src[i]) }
        row(r, scratch, count, dst)
    }

    /// Requantizes rows × cols accumulators (row-major, contiguous) into dst. With a pool, rows are
    /// split across threads once the block is large enough to pay for it.
    func apply(_ src: UnsafePointer<Int32>, rows: Int, cols: Int, dst: UnsafeMutableRawPointer, pool: ThreadPool?) {
        let body: (Int) -> Void = { r in row(r, src + r * cols, cols, dst + r * cols) }
        // ~1 ns per element on one core: below 64k elements a fork/join costs more than it saves.
        if let pool, pool.threadCount > 1, rows > 1, rows * cols >= 65_536 {
            pool.parallelFor(rows, body)
        } else {
            for r in 0..<rows { body(r) }
        }
    }

    /// Whether every multiplier of rows 0..<rows is finite: the only case the VNNI kernels'
    /// in-register epilogue computes (`VNNIKernels.requantizeRow` sends the others to its scalar
    /// loop).
    func finite(rows: Int) -> Bool {
        switch multiplier {
        case let .scalar(s): return s.isFinite
        case let .perRow(p): return (0..<rows).allSatisfy { p[$0].isFinite }
        }
    }
}
