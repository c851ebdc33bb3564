import EdgeKernelsVNNI

/// Output scale of a requantization: one multiplier, or one per row (output channel).
public enum QuantMultiplier {
    case scalar(Float)
    case perRow(UnsafePointer<Float>)
}

extension Kernels {
    /// int32 accumulators → int8/uint8 as ONNX QLinearConv / QLinearMatMul define it:
    /// y = saturate(roundHalfEven(Float(acc + bias) · multiplier) + zeroPoint),
    /// multiplier = x_scale·w_scale / y_scale computed by the caller in Float (as ONNX Runtime does).
    /// src, dst: rows × cols (row-major, contiguous); bias: optional int32 per row, added first.
    public static func requantize(_ src: UnsafePointer<Int32>, rows: Int, cols: Int, bias: UnsafePointer<Int32>? = nil,
                                  multiplier: QuantMultiplier, zeroPoint: Int32, outputSigned: Bool,
                                  dst: UnsafeMutableRawPointer) {
        let lo: Float = outputSigned ? -128 : 0, hi: Float = outputSigned ? 127 : 255
        if VNNI.enabled(nil) {
            // The same formula, 16 lanes at a time (the scalar loop below calls rintf per value
            // and took more time than the VNNI GEMMs it follows).
            for r in 0..<rows {
                let scale: Float
                switch multiplier {
                case let .scalar(s): scale = s
                case let .perRow(p): scale = p[r]
                }
                VNNIKernels.requantizeRow(src + r * cols, cols, bias?[r] ?? 0, scale, zeroPoint, lo, hi, dst + r * cols)
            }
            return
        }
        for r in 0..<rows {
            let scale: Float
            switch multiplier {
            case let .scalar(s): scale = s
            case let .perRow(p): scale = p[r]
            }
            let b = bias?[r] ?? 0
            for c in 0..<cols {
                let i = r * cols + c
                var v = (Float(src[i] &+ b) * scale).rounded(.toNearestOrEven) + Float(zeroPoint)
                v = v.isNaN ? Float(zeroPoint) : Swift.min(Swift.max(v, lo), hi)  // NaN only from a NaN scale
                if outputSigned { dst.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self) }
                else { dst.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self) }
            }
        }
    }
}
