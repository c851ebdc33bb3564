import EdgeIR

/// Global average pooling of 8-bit tensors, computed as ONNX Runtime computes it:
///
/// com.microsoft QLinearGlobalAveragePool(X, x_scale, x_zero_point, y_scale, y_zero_point),
/// attribute channels_last (0: N×C×spatial, 1: N×spatial×C) — what ONNX Runtime's QDQ fusion
/// makes of DQ → GlobalAveragePool → Q. MLAS (MlasQLinearGlobalAveragePoolNchw and the NHWC form)
/// sums the integers exactly and requantizes once:
///     acc = Σ q − zx·N                         (int32, N = spatial size)
///     y   = clamp(roundHalfEven(Float(acc) · m), qmin − zy, qmax − zy) + zy,
///     m   = x_scale / (y_scale · Float(N))     (float32, in that order)
///
/// ai.edgeopt DequantizeGlobalAveragePool(X, x_scale, x_zero_point) → float: the fused
/// DQ → GlobalAveragePool that `QDQLowering` emits when the pooled value stays float (its reader
/// is not a QuantizeLinear). ONNX Runtime runs that GlobalAveragePool with MLAS's global kernel,
/// whose float sum is not sequential: four lanes accumulate elements j, j+4, j+8, … of each
/// plane, the lanes are combined as (l0 + l2) + (l1 + l3), the N mod 4 trailing elements are
/// added one by one, and the sum is divided by Float(N). Each element is first dequantized as
/// Float(q − z)·s (DequantizeLinear's float32 formula), so the result is bit-identical to ONNX
/// Runtime's and a later QuantizeLinear sees the same ties.
enum QLinearPoolOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearGlobalAveragePool", domain: "com.microsoft", versions: 1...1) { b in
            QLinearGlobalAveragePoolKernel(channelsLast: b.int("channels_last", 0) != 0)
        },
        OperatorSpec("DequantizeGlobalAveragePool", domain: QDQLowering.domain, versions: 1...1) { _ in DequantizeGlobalAveragePoolKernel() },
    ]

    /// (planes, size, stride between a plane's elements, offset of plane p, output shape) for
    /// N×C×spatial (channels first) or N×spatial×C (channels last).
    static func layout(_ shape: [Int], channelsLast: Bool, _ c: ExecutionContext) throws
        -> (planes: Int, size: Int, step: Int, start: (Int) -> Int, outShape: [Int]) {
        guard shape.count >= 3 else { throw EdgeError.badInput("\(c.nodeDescription): input must be N×C×spatial, got \(shape)") }
        let n = shape[0]
        if channelsLast {
            let channels = shape[shape.count - 1]
            let size = Shapes.product(shape[1..<(shape.count - 1)])
            return (n * channels, size, channels, { p in (p / channels) * size * channels + p % channels },
                    [n] + Array(repeating: 1, count: shape.count - 2) + [channels])
        }
        let size = Shapes.product(shape[2...])
        return (n * shape[1], size, 1, { p in p * size }, [n, shape[1]] + Array(repeating: 1, count: shape.count - 2))
    }
}

final class QLinearGlobalAveragePoolKernel: TensorKernel {
    let channelsLast: Bool
    init(channelsLast: Bool) { self.channelsLast = channelsLast }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let (x, sx, zx, sy, zy) = try QLinearBinaryOperators.unaryQuantization(i, c)
        let l = try QLinearPoolOperators.layout(x.shape, channelsLast: channelsLast, c)
        guard l.size < 0x1000000 else { throw EdgeError.badInput("\(c.nodeDescription): spatial size \(l.size) is too large") }
        let out = try c.allocate(x.dtype, l.outShape)
        guard out.elementCount > 0 else { return [out] }
        let m = sx / (sy * Float(l.size))
        let (qmin, qmax) = QLinearBinaryOperators.range(x.dtype)
        let lo = Float(qmin - zy), hi = Float(qmax - zy)
        let bias = 0 &- zx &* Int32(l.size)  // wrapping, like the sum (int32 accumulation)
        let signed = x.dtype == .int8
        let src = x.rawPointer, dst = out.mutableRawPointer
        let size = l.size, step = l.step
        // Σ over one plane straight from the bytes (no widened int32 copy of X; a contiguous
        // plane's loop vectorises).
        @inline(__always) func planeSum<T: FixedWidthInteger>(_ p: UnsafePointer<T>) -> Int32 {
            var acc: Int32 = 0
            if step == 1 { for k in 0..<size { acc &+= Int32(truncatingIfNeeded: p[k]) } }
            else { for k in 0..<size { acc &+= Int32(truncatingIfNeeded: p[k * step]) } }
            return acc
        }
        for p in 0..<l.planes {
            let start = src + l.start(p)
            let sum = signed ? planeSum(start.assumingMemoryBound(to: Int8.self)) : planeSum(start.assumingMemoryBound(to: UInt8.self))
            let v = Swift.min(Swift.max(Float(bias &+ sum) * m, lo), hi).rounded(.toNearestOrEven)
            QLinearBinaryOperators.store(Int32(v) + zy, dst, p, signed: signed)
        }
        return [out]
    }
}

final class DequantizeGlobalAveragePoolKernel: TensorKernel {
    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c)
        guard IntegerOps.isByte(x.dtype) else { throw EdgeError.badInput("\(c.nodeDescription): X must be int8 or uint8, got \(x.dtype)") }
        let scale = try i.required(1, c)
        guard scale.dtype == .float, scale.elementCount == 1 else {
            throw EdgeError.badInput("\(c.nodeDescription): x_scale must be a float32 scalar, got \(scale.dtype) \(scale.shape)")
        }
        let s = scale.scalars(as: Float.self)[0]
        let z = try IntegerOps.zeroPoints(i.optional(2), expected: x.dtype, count: 1, role: "x", c)[0]
        let l = try QLinearPoolOperators.layout(x.shape, channelsLast: false, c)
        let out = try c.allocate(.float, l.outShape)
        guard out.elementCount > 0 else { return [out] }
        let values = QLinearBinaryOperators.widened(x)
        let dst = out.mutablePointer(Float.self)
        let size = l.size, count = Float(size)
        values.withUnsafeBufferPointer { pv in
            let base = pv.baseAddress!
            c.parallelFor(l.planes, grain: 16) { range in
                for plane in range {
                    let q = base + plane * size
                    @inline(__always) func v(_ j: Int) -> Float { Float(q[j] - z) * s }
                    var lanes = SIMD4<Float>(repeating: 0)
                    var j = 0
                    while j + 4 <= size {
                        lanes += SIMD4(v(j), v(j + 1), v(j + 2), v(j + 3))
                        j += 4
                    }
                    var sum = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
                    while j < size { sum += v(j); j += 1 }
                    dst[plane] = sum / count
                }
            }
        }
        return [out]
    }
}
