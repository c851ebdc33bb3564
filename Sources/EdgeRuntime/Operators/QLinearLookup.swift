import EdgeIR

/// com.microsoft QLinearSigmoid and QLinearLeakyRelu(X, X_scale, X_zero_point, Y_scale,
/// Y_zero_point) (QLinearLeakyRelu: attribute alpha, default 0.01) — what ONNX Runtime's QOperator
/// quantizer emits for a Sigmoid (EfficientNet's SiLU and squeeze-excitation gates) or LeakyRelu.
///
/// ONNX Runtime runs both as a 256-entry table indexed by the input byte
/// (contrib_ops/cpu/quantization/qlinear_lookup_table.cc, QlinearBuildLookupTable), reproduced so
/// that results are bit-identical:
///     x    = sx · Float(q − zx)                                       (float32)
///     t[q] = roundHalfEven(clamp(f(x) / sy, qmin − zy, qmax − zy)) + zy   (MlasQuantizeLinear)
/// with f(x) = x ≥ 0 ? x : alpha·x for LeakyRelu, and for Sigmoid MLAS's logistic on x86-64
/// (MlasLogisticKernelFma3, Eigen's rational approximation), not 1/(1 + e^−x):
///     v = clamp(x, −18, 18),  v² = v·v,
///     p = v · fma(v², fma(v², fma(v², fma(v², α9, α7), α5), α3), α1)
///     q = fma(v², fma(v², fma(v², fma(v², fma(v², β10, β8), β6), β4), β2), β0)
///     f = max(p / q + 0.5, 0)
/// (every step float32, fma with one rounding).
enum QLinearLookupOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearSigmoid", domain: "com.microsoft", versions: 1...1) { _ in
            QLinearLookupKernel(name: "QLinearSigmoid") { $0.map(logistic) }
        },
        OperatorSpec("QLinearLeakyRelu", domain: "com.microsoft", versions: 1...1) { b in
            let alpha = b.float("alpha", 0.01)
            return QLinearLookupKernel(name: "QLinearLeakyRelu") { $0.map { $0 >= 0 ? $0 : alpha * $0 } }
        },
    ]

    /// MLAS's logistic (see the type's comment); the constants are Eigen's.
    static func logistic(_ x: Float) -> Float {
        let v = Swift.min(Swift.max(x, -18), 18)
        let v2 = v * v
        var p = fma(v2, 4.37031012579801e-11, 1.15627324459942e-07)
        p = fma(v2, p, 6.08574864600143e-05)
        p = fma(v2, p, 8.51377133304701e-03)
        p = fma(v2, p, 2.48287947061529e-01)
        var q = fma(v2, 6.10247389755681e-13, 5.76102136993427e-09)
        q = fma(v2, q, 6.29106785017040e-06)
        q = fma(v2, q, 1.70198817374094e-03)
        q = fma(v2, q, 1.16817656904453e-01)
        q = fma(v2, q, 9.93151921023180e-01)
        p = v * p
        return Swift.max(p / q + 0.5, 0)
    }

    /// a·b + c with one rounding.
    @inline(__always) static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float { c.addingProduct(a, b) }

    /// ONNX Runtime's QlinearBuildLookupTable: the byte-indexed table of
    /// quantize(f(dequantize(q))) for an 8-bit input and output of the same type.
    static func table(sx: Float, zx: Int32, sy: Float, zy: Int32, signed: Bool, _ f: ([Float]) -> [Float]) -> [UInt8] {
        let x: [Float] = (0..<256).map { byte in sx * Float((signed ? Int32(Int8(truncatingIfNeeded: byte)) : Int32(byte)) - zx) }
        let y = f(x)
        let (qmin, qmax) = QLinearBinaryOperators.range(signed ? .int8 : .uint8)
        let lo = Float(qmin - zy), hi = Float(qmax - zy)
        return y.map { v in
            UInt8(truncatingIfNeeded: Int32(Swift.min(Swift.max(v / sy, lo), hi).rounded(.toNearestOrEven)) + zy)
        }
    }
}

final class QLinearLookupKernel: TensorKernel {
    let name: String
    let f: @Sendable ([Float]) -> [Float]
    init(name: String, _ f: @escaping @Sendable ([Float]) -> [Float]) { self.name = name; self.f = f }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let (x, sx, zx, sy, zy) = try QLinearBinaryOperators.unaryQuantization(i, c, x: "X", y: "Y")
        let table = QLinearLookupOperators.table(sx: sx, zx: zx, sy: sy, zy: zy, signed: x.dtype == .int8, f)
        let out = try c.allocate(x.dtype, x.shape)
        let count = x.elementCount
        guard count > 0 else { return [out] }
        let dst = out.mutableRawPointer.assumingMemoryBound(to: UInt8.self)
        x.withUnsafeBytes { raw in
            let src = raw.bindMemory(to: UInt8.self).baseAddress!
            table.withUnsafeBufferPointer { t in
                c.parallelFor(count, grain: 1 << 16) { range in
                    for k in range { dst[k] = t[Int(src[k])] }
                }
            }
        }
        return [out]
    }
}
