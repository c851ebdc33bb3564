import EdgeIR
import EdgeKernels

/// QLinearMatMul and QLinearConv: 8-bit operands, exact int32 accumulation of
/// (a − a_zero_point)·(b − b_zero_point) (+ the int32 bias of QLinearConv), then requantization
///   y = saturate(roundHalfEven(Float(acc) · (a_scale·b_scale / y_scale)) + y_zero_point)
/// with the multiplier in float32, as ONNX Runtime's MLAS requantization and integer
/// accelerators compute it (the ONNX reference multiplies in float64; results differ only when a
/// product lands within float32 rounding of a .5 tie).
///
/// The `com.edgeopt` domain holds the same kernels in the forms the QDQ lowering emits
/// (`QDQLowering`): `QLinearConv` and `QLinearGemm` (QLinearMatMul + an int32 bias per output column
/// as input 8), both with optional `output_min`/`output_max` attributes: a Relu or Clip fused before
/// the final QuantizeLinear becomes a clamp of the quantized output (exact, since quantization is
/// monotone: Q(clip(y, lo, hi)) = clamp(Q(y), Q(lo), Q(hi))).
enum QLinearOperators {
    static let domain = "com.edgeopt"

    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearMatMul", versions: 10...OperatorRegistry.latestOpset) { b in try QLinearMatMulKernel(b, withBias: false) },
        OperatorSpec("QLinearConv", versions: 10...OperatorRegistry.latestOpset) { b in try QLinearConvKernel(b) },
        OperatorSpec("QLinearGemm", domain: domain, versions: 1...1) { b in try QLinearMatMulKernel(b, withBias: true) },
        OperatorSpec("QLinearConv", domain: domain, versions: 1...1) { b in try QLinearConvKernel(b) },
    ]

    /// The saturation range of the 8-bit output, narrowed by `output_min`/`output_max`.
    static func outputRange(_ b: KernelBuildContext) -> (Int32?, Int32?) {
        (b.int("output_min").map { Int32(clamping: $0) }, b.int("output_max").map { Int32(clamping: $0) })
    }

    static func requantizer(aScale: Tensor, bScale: Tensor, yScale: Tensor, yZero: Tensor?, outputType: DType,
                            perColumnB: Bool, range: (Int32?, Int32?), _ c: ExecutionContext) throws -> Requantizer {
        guard IntegerOps.isByte(outputType) else {
            throw EdgeError.badInput("\(c.nodeDescription): output type \(outputType) must be int8 or uint8")
        }
        for (name, s) in [("A/x", aScale), ("B/w", bScale), ("y", yScale)] where !s.dtype.isFloatingPoint {
            throw EdgeError.badInput("\(c.nodeDescription): \(name) scale must be a float tensor, got \(s.dtype)")
        }
        let zp = try IntegerOps.zeroPoints(yZero, expected: outputType, count: 1, role: "output", c)[0]
        let multipliers = Requantizer.multipliers(aScale: aScale, bScale: bScale, yScale: yScale)
        let layout: Requantizer.Layout
        if bScale.elementCount > 1 && perColumnB {
            guard aScale.elementCount == 1, yScale.elementCount == 1 else {
                throw EdgeError.badInput("\(c.nodeDescription): per-column B scales with per-row A or output scales are not supported")
            }
            layout = .perColumn
        } else {
            layout = multipliers.count > 1 ? .perRow : .perTensor
        }
        let signed = outputType == .int8
        let lo = max(range.0 ?? Int32.min, signed ? -128 : 0), hi = min(range.1 ?? Int32.max, signed ? 127 : 255)
        return Requantizer(multipliers: multipliers, layout: layout, zeroPoint: zp, signed: signed, lo: lo, hi: max(hi, lo))
    }
}

final class QLinearMatMulKernel: TensorKernel {
    let packedB: PackedMatrix?
    let withBias: Bool
    let range: (Int32?, Int32?)

    init(_ b: KernelBuildContext, withBias: Bool) throws {
        self.withBias = withBias
        packedB = try IntegerOperators.packConstantB(b, weightIndex: 3, zeroPointIndex: 5)
        range = QLinearOperators.outputRange(b)
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let a = try i.required(0, c), aScale = try i.required(1, c)
        let b = try i.required(3, c), bScale = try i.required(4, c)
        let yScale = try i.required(6, c)
        let yZero = i.optional(7)
        let rows = a.rank >= 2 ? a.shape[a.rank - 2] : 1
        let cols = b.rank >= 2 ? b.shape[b.rank - 1] : 1
        for (name, s, count) in [("a", aScale, rows), ("b", bScale, cols), ("y", yScale, rows)]
        where s.elementCount != 1 && (s.rank != 1 || s.elementCount != count) {
            throw EdgeError.badInput("\(c.nodeDescription): \(name)_scale shape \(s.shape) is neither a scalar nor 1-D of \(count)")
        }
        let za = try IntegerOps.zeroPoints(i.optional(2), expected: a.dtype, count: rows, role: "A", c)
        let zb = try IntegerOps.zeroPoints(i.optional(5), expected: b.dtype, count: cols, role: "B", c)
        let outputType = yZero?.dtype ?? a.dtype
        let rq = try QLinearOperators.requantizer(aScale: aScale, bScale: bScale, yScale: yScale, yZero: yZero,
                                                  outputType: outputType, perColumnB: true, range: range, c)
        var bias: [Int32]? = nil
        if withBias, let t = i.optional(8) {
            guard t.dtype == .int32, t.elementCount == cols else {
                throw EdgeError.badInput("\(c.nodeDescription): bias must be int32 with \(cols) elements, got \(t.dtype) \(t.shape)")
            }
            bias = t.scalars(as: Int32.self)
        }
        let (acc, shape) = try IntegerOps.matmul(a, b, aZero: za, bZero: zb, packedB: packedB, c)
        let out = try c.allocate(outputType, shape.outputShape)
        if out.elementCount > 0 {
            rq.apply(acc.pointer(Int32.self), batches: shape.batchCount, rows: shape.m, cols: shape.n,
                     bias: bias, biasPerColumn: true, into: out.mutableRawPointer)
        }
        return [out]
    }
}

final class QLinearConvKernel: TensorKernel {
    let conv: IntegerConv
    let constant: Bool
    let range: (Int32?, Int32?)

    init(_ b: KernelBuildContext) throws {
        conv = IntegerConv(b, weightIndex: 3)
        constant = conv.constantWeights != nil && (!b.hasInput(5) || b.constantInput(5) != nil)
        range = QLinearOperators.outputRange(b)
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c), xScale = try i.required(1, c)
        let w = try i.required(3, c), wScale = try i.required(4, c)
        let yScale = try i.required(6, c)
        let yZero = i.optional(7)
        let cOut = w.shape.first ?? 1
        guard xScale.elementCount == 1, yScale.elementCount == 1 else {
            throw EdgeError.badInput("\(c.nodeDescription): x_scale and y_scale must be scalars")
        }
        guard wScale.elementCount == 1 || wScale.elementCount == cOut else {
            throw EdgeError.badInput("\(c.nodeDescription): w_scale has \(wScale.elementCount) elements, expected 1 or \(cOut)")
        }
        let zx = try IntegerOps.zeroPoints(i.optional(2), expected: x.dtype, count: 1, role: "x", c)
        let zw = try IntegerOps.zeroPoints(i.optional(5), expected: w.dtype, count: cOut, role: "w", c)
        let outputType = yZero?.dtype ?? x.dtype
        let rq = try QLinearOperators.requantizer(aScale: xScale, bScale: wScale, yScale: yScale, yZero: yZero,
                                                  outputType: outputType, perColumnB: false, range: range, c)
        var bias: [Int32]? = nil
        if let t = i.optional(8) {
            guard t.dtype == .int32, t.elementCount == cOut else {
                throw EdgeError.badInput("\(c.nodeDescription): bias must be int32 with \(cOut) elements, got \(t.dtype) \(t.shape)")
            }
            bias = t.scalars(as: Int32.self)
        }
        let acc = try conv.run(x: x, w: w, xZero: zx[0], wZero: zw, constant: constant, c)
        let out = try c.allocate(outputType, acc.shape)
        if out.elementCount > 0 {
            let plane = Shapes.product(acc.shape[2...])
            rq.apply(acc.pointer(Int32.self), batches: acc.shape[0], rows: cOut, cols: plane,
                     bias: bias, biasPerColumn: false, into: out.mutableRawPointer)
        }
        return [out]
    }
}
