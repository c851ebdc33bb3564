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
        let flo = Float(lo ?? (outputSigned ? -128 : 0)), fhi = Float(hi ?? (outputSigned ? 127 : 255))
        let body: (Int) -> Void = { r in
            let scale: Float
            switch multiplier {
            case let .scalar(s): scale = s
            case let .perRow(p): scale = p[r]
            }
            requantizeRow(src + r * cols, cols, bias?[r] ?? 0, scale, zeroPoint, flo, fhi, outputSigned, dst + r * cols)
        }
        // ~1 ns per element on one core: below 64k elements a fork/join costs more than it saves.
        if let pool, pool.threadCount > 1, rows > 1, rows * cols >= 65_536 {
            pool.parallelFor(rows, body)
        } else {
            for r in 0..<rows { body(r) }
        }
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
