import EdgeIR
import EdgeKernels

/// com.microsoft QLinearAdd and QLinearMul (ONNX Runtime's contrib operators, what its QDQ fusion
/// makes of DQ(A), DQ(B) → Add | Mul → Q):
///   inputs A, A_scale, A_zero_point?, B, B_scale, B_zero_point?, C_scale, C_zero_point?
/// with per-tensor scales, A and B of the same 8-bit type, C of that type, NumPy broadcasting.
///
/// The arithmetic is the one ONNX Runtime's MLAS kernels execute on x86-64, so that results are
/// bit-identical, ties included:
/// - Add (MlasQLinearAddU8KernelAvx2/S8KernelAvx2, what ONNX Runtime 1.31 runs on x86-64 with
///   AVX2): with the float32 ratios rA = sA/sC, rB = sB/sC, the zero points folded into
///       fixed = Float(zc) − fma(rA, Float(za), rB·Float(zb)),
///   and the raw integers a, b as floats,
///       v = fma(Float(a), rA, fma(Float(b), rB, fixed)),
///   rounded half to even and saturated (fma: one rounding). A scalar B (or a B broadcast along a
///   contiguous run) folds into the constant with the same fma, so the formula is unchanged; where
///   A is the broadcast operand ONNX Runtime swaps the operands and their parameters:
///       fixed' = Float(zc) − fma(rB, Float(zb), rA·Float(za)),  v = fma(Float(b), rB, fma(Float(a), rA, fixed')).
///   This differs from the float DQ → Add → Q of the ONNX spec by one step at ties (measured:
///   2,242 of 5,000 random int8 sums with scales 0.5/0.25/0.5 and zero points 3/−5/7; the fma
///   form was told apart from the unfused one on random scales and zero points, where only it
///   matched every value).
/// - Mul (MlasQLinearMul, SSE2): the product of the integers is exact in int32, then
///       v = Float((a − za)(b − zb)) · (sA·sB/sC) + Float(zc)
///   (the ratio evaluated left to right in float32, zc added in float before rounding), rounded
///   half to even and saturated to the type. This differs from float DQ → Mul → Q, which
///   multiplies the two dequantized values and divides by sC, by one step at rare ties.
enum QLinearBinaryOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearAdd", domain: "com.microsoft", versions: 1...1) { _ in QLinearBinaryKernel(isMul: false) },
        OperatorSpec("QLinearMul", domain: "com.microsoft", versions: 1...1) { _ in QLinearBinaryKernel(isMul: true) },
    ]

    /// A per-tensor float scale (a non-empty float tensor of one element).
    static func scalarScale(_ t: Tensor, _ name: String, _ c: ExecutionContext) throws -> Float {
        guard t.dtype == .float, t.elementCount == 1 else {
            throw EdgeError.badInput("\(c.nodeDescription): \(name) must be a float32 scalar, got \(t.dtype) \(t.shape)")
        }
        let s = t.scalars(as: Float.self)[0]
        guard s.isFinite, s > 0 else { throw EdgeError.badInput("\(c.nodeDescription): \(name) must be positive and finite, got \(s)") }
        return s
    }

    /// The quantized input and the quantization of a com.microsoft QLinear op with one 8-bit
    /// input and output, inputs (X, x_scale, x_zero_point, y_scale, y_zero_point): per-tensor
    /// scales, zero points of X's type (absent = 0). `x`/`y` name them in errors as the op's spec does.
    static func unaryQuantization(_ i: [Tensor?], _ c: ExecutionContext, x xName: String = "x", y yName: String = "y") throws
        -> (x: Tensor, sx: Float, zx: Int32, sy: Float, zy: Int32) {
        let x = try i.required(0, c)
        guard IntegerOps.isByte(x.dtype) else { throw EdgeError.badInput("\(c.nodeDescription): X must be int8 or uint8, got \(x.dtype)") }
        return (x, try scalarScale(try i.required(1, c), "\(xName)_scale", c),
                try IntegerOps.zeroPoints(i.optional(2), expected: x.dtype, count: 1, role: xName, c)[0],
                try scalarScale(try i.required(3, c), "\(yName)_scale", c),
                try IntegerOps.zeroPoints(i.optional(4), expected: x.dtype, count: 1, role: yName, c)[0])
    }

    /// The 8-bit range of `type` as Int32 bounds.
    static func range(_ type: DType) -> (Int32, Int32) { type == .int8 ? (-128, 127) : (0, 255) }

    /// Stores an Int32 already within the type's range.
    @inline(__always) static func store(_ v: Int32, _ dst: UnsafeMutableRawPointer, _ k: Int, signed: Bool) {
        if signed { dst.storeBytes(of: Int8(truncatingIfNeeded: v), toByteOffset: k, as: Int8.self) }
        else { dst.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: k, as: UInt8.self) }
    }

    /// The 8-bit tensor's values widened to Int32.
    static func widened(_ t: Tensor) -> [Int32] {
        t.dtype == .int8 ? t.scalars(as: Int8.self).map { Int32($0) } : t.scalars(as: UInt8.self).map { Int32($0) }
    }
}

final class QLinearBinaryKernel: TensorKernel {
    let isMul: Bool
    init(isMul: Bool) { self.isMul = isMul }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let a = try i.required(0, c), b = try i.required(3, c)
        guard IntegerOps.isByte(a.dtype), b.dtype == a.dtype else {
            throw EdgeError.badInput("\(c.nodeDescription): A and B must both be int8 or both uint8, got \(a.dtype) and \(b.dtype)")
        }
        let sa = try QLinearBinaryOperators.scalarScale(try i.required(1, c), "A_scale", c)
        let sb = try QLinearBinaryOperators.scalarScale(try i.required(4, c), "B_scale", c)
        let sc = try QLinearBinaryOperators.scalarScale(try i.required(6, c), "C_scale", c)
        let za = try IntegerOps.zeroPoints(i.optional(2), expected: a.dtype, count: 1, role: "A", c)[0]
        let zb = try IntegerOps.zeroPoints(i.optional(5), expected: a.dtype, count: 1, role: "B", c)[0]
        let zc = try IntegerOps.zeroPoints(i.optional(7), expected: a.dtype, count: 1, role: "C", c)[0]
        let plan = try BroadcastPlan([a.shape, b.shape], what: c.nodeDescription)
        let out = try c.allocate(a.dtype, plan.outputShape)
        guard out.elementCount > 0 else { return [out] }
        let (qmin, qmax) = QLinearBinaryOperators.range(a.dtype)
        let signed = a.dtype == .int8
        // Same-shape operands or a scalar B (and, for the commutative Mul, a scalar A): the
        // vectorised, threaded kernels with the same arithmetic (EdgeKernels/QuantizeKernels.swift).
        let count = plan.outputCount
        if a.elementCount == count && (b.elementCount == count || b.elementCount == 1) {
            if isMul {
                Kernels.qlinearMul(a.rawPointer, b.rawPointer, bIsScalar: b.elementCount == 1 && count > 1, signed: signed, count: count,
                                   za: za, zb: zb, ratio: sa * sb / sc, zc: zc, dst: out.mutableRawPointer, pool: c.kernelPool)
            } else {
                let ra = sa / sc, rb = sb / sc
                let fixed = Float(zc) - (rb * Float(zb)).addingProduct(ra, Float(za))
                Kernels.qlinearAdd(a.rawPointer, b.rawPointer, bIsScalar: b.elementCount == 1 && count > 1, signed: signed, count: count,
                                   ra: ra, rb: rb, fixed: fixed, zc: zc, dst: out.mutableRawPointer, pool: c.kernelPool)
            }
            return [out]
        }
        if isMul && a.elementCount == 1 && b.elementCount == count {
            Kernels.qlinearMul(b.rawPointer, a.rawPointer, bIsScalar: true, signed: signed, count: count,
                               za: zb, zb: za, ratio: sa * sb / sc, zc: zc, dst: out.mutableRawPointer, pool: c.kernelPool)
            return [out]
        }
        let av = QLinearBinaryOperators.widened(a), bv = QLinearBinaryOperators.widened(b)
        var result = [Int32](repeating: 0, count: plan.outputCount)
        av.withUnsafeBufferPointer { pa in
            bv.withUnsafeBufferPointer { pb in
                result.withUnsafeMutableBufferPointer { po in
                    if isMul {
                        let ratio = sa * sb / sc, zcf = Float(zc)
                        Elementwise.binary(pa.baseAddress!, pb.baseAddress!, po.baseAddress!, plan: plan) { x, y in
                            let v = (Float((x - za) * (y - zb)) * ratio + zcf).rounded(.toNearestOrEven)
                            return v.isNaN ? zc : Int32(Swift.min(Swift.max(v, Float(qmin)), Float(qmax)))
                        }
                    } else {
                        let ra = sa / sc, rb = sb / sc
                        let fixed = Float(zc) - (rb * Float(zb)).addingProduct(ra, Float(za))
                        let swapped = Float(zc) - (ra * Float(za)).addingProduct(rb, Float(zb))
                        let lo = Float(qmin), hi = Float(qmax)
                        @inline(__always) func finish(_ v: Float) -> Int32 {
                            let r = v.rounded(.toNearestOrEven)
                            return r.isNaN ? zc : Int32(Swift.min(Swift.max(r, lo), hi))
                        }
                        let xa = pa.baseAddress!, xb = pb.baseAddress!, o = po.baseAddress!
                        plan.forEachRun { start, offsets, count, inner in
                            let a = xa + offsets[0], b = xb + offsets[1], y = o + start
                            if inner[0] == 0 && inner[1] != 0 && count > 1 {
                                // A constant along the run: operands swapped, A folded into the constant.
                                let f = swapped.addingProduct(Float(a[0]), ra)
                                for j in 0..<count { y[j] = finish(f.addingProduct(Float(b[j * inner[1]]), rb)) }
                            } else {
                                for j in 0..<count {
                                    let t = fixed.addingProduct(Float(b[j * inner[1]]), rb)
                                    y[j] = finish(t.addingProduct(Float(a[j * inner[0]]), ra))
                                }
                            }
                        }
                    }
                }
            }
        }
        let dst = out.mutableRawPointer
        for k in 0..<result.count { QLinearBinaryOperators.store(result[k], dst, k, signed: signed) }
        return [out]
    }
}
