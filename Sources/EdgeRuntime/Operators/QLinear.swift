import EdgeIR
import EdgeKernels
import Foundation

/// QLinearMatMul and QLinearConv: 8-bit operands, exact int32 accumulation of
/// (a − a_zero_point)·(b − b_zero_point) (+ the int32 bias of QLinearConv), then requantization
///   y = saturate(roundHalfEven(Float(acc) · (a_scale·b_scale / y_scale)) + y_zero_point)
/// with the multiplier in float32, as ONNX Runtime's MLAS requantization and integer
/// accelerators compute it (the ONNX reference multiplies in float64; results differ only when a
/// product lands within float32 rounding of a .5 tie).
///
/// The `ai.edgeopt` domain holds the same kernels in the forms the QDQ lowering emits
/// (`QDQLowering`): `QLinearConv` and `QLinearGemm` (QLinearMatMul + an int32 bias per output column
/// as input 8), both with optional `output_min`/`output_max` attributes: a Relu or Clip fused before
/// the final QuantizeLinear becomes a clamp of the quantized output (exact, since quantization is
/// monotone: Q(clip(y, lo, hi)) = clamp(Q(y), Q(lo), Q(hi))).
enum QLinearOperators {
    static let domain = QDQLowering.domain

    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearMatMul", versions: 10...OperatorRegistry.latestOpset) { b in try QLinearMatMulKernel(b, withBias: false) },
        OperatorSpec("QLinearConv", versions: 10...OperatorRegistry.latestOpset) { b in try QLinearConvKernel(b) },
        OperatorSpec("QLinearGemm", domain: domain, versions: 1...1) { b in try QLinearMatMulKernel(b, withBias: true) },
        OperatorSpec("QLinearConv", domain: domain, versions: 1...1) { b in try QLinearConvKernel(b) },
        // ONNX Runtime's QOperator-format Gemm (what `quantize_static(..., QuantFormat.QOperator)` emits).
        OperatorSpec("QGemm", domain: "com.microsoft", versions: 1...1) { b in try QGemmKernel(b) },
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
        for (name, s) in [("A/x", aScale), ("B/w", bScale), ("y", yScale)] where !s.dtype.isFloatingPoint || s.elementCount == 0 {
            throw EdgeError.badInput("\(c.nodeDescription): \(name) scale must be a non-empty float tensor, got \(s.dtype) \(s.shape)")
        }
        let zp = try IntegerOps.zeroPoints(yZero, expected: outputType, count: 1, role: "output", c)[0]
        let layout: Requantizer.Layout
        let counts = Set([aScale.elementCount, bScale.elementCount, yScale.elementCount].filter { $0 > 1 })
        if bScale.elementCount > 1 && perColumnB {
            guard aScale.elementCount == 1, yScale.elementCount == 1 else {
                throw EdgeError.badInput("\(c.nodeDescription): per-column B scales with per-row A or output scales are not supported")
            }
            layout = .perColumn
        } else {
            guard counts.count <= 1 else {
                throw EdgeError.badInput("\(c.nodeDescription): scales of \(aScale.shape), \(bScale.shape) and \(yScale.shape) do not combine")
            }
            layout = counts.isEmpty ? .perTensor : .perRow
        }
        let multipliers = Requantizer.multipliers(aScale: aScale, bScale: bScale, yScale: yScale)
        let signed = outputType == .int8
        let lo = max(range.0 ?? Int32.min, signed ? -128 : 0), hi = min(range.1 ?? Int32.max, signed ? 127 : 255)
        return Requantizer(multipliers: multipliers, layout: layout, zeroPoint: zp, signed: signed, lo: lo, hi: max(hi, lo))
    }
}

/// Int8 kernels that hold packed weights (int8 VNNI panels, or exact floats) and report their
/// bytes for memory accounting. QLinearMatMul/QLinearGemm and QLinearConv with constant weights
/// and zero points also take the weights over (`bakedInputs` [3]), so the session drops the
/// original int8 tensor; the others keep reading it.
protocol HoldsPackedInt8Weights: BakesConstants {}
extension HoldsPackedInt8Weights {
    var bakedInputs: [Int] { [] }
    func bake(_ options: SessionOptions) {}
}

final class QLinearMatMulKernel: TensorKernel, BakesConstants {
    var bakedBytes: Int { packedB?.byteCount ?? 0 }
    /// A packed constant B is all the kernel reads of input 3.
    var bakedInputs: [Int] { packedB != nil ? [3] : [] }
    func bake(_ options: SessionOptions) {}
    let packedB: PackedInt8Matrix?
    /// Shape and type of the constant B (when packed).
    let bShape: [Int], bType: DType
    let withBias: Bool
    let range: (Int32?, Int32?)

    init(_ b: KernelBuildContext, withBias: Bool) throws {
        self.withBias = withBias
        packedB = try IntegerOperators.packConstantB(b, weightIndex: 3, zeroPointIndex: 5)
        bShape = b.constantInput(3)?.shape ?? []
        bType = b.constantInput(3)?.dtype ?? .uint8
        range = QLinearOperators.outputRange(b)
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let a = try i.required(0, c), aScale = try i.required(1, c)
        let b: Tensor? = packedB != nil ? nil : try i.required(3, c)
        let bShape = b?.shape ?? self.bShape, bType = b?.dtype ?? self.bType
        let bScale = try i.required(4, c)
        let yScale = try i.required(6, c)
        let yZero = i.optional(7)
        let rows = a.rank >= 2 ? a.shape[a.rank - 2] : 1
        let cols = bShape.count >= 2 ? bShape[bShape.count - 1] : 1
        for (name, s, count) in [("a", aScale, rows), ("b", bScale, cols), ("y", yScale, rows)]
        where s.elementCount != 1 && (s.rank != 1 || s.elementCount != count) {
            throw EdgeError.badInput("\(c.nodeDescription): \(name)_scale shape \(s.shape) is neither a scalar nor 1-D of \(count)")
        }
        let za = try IntegerOps.zeroPoints(i.optional(2), expected: a.dtype, count: rows, role: "A", c)
        let zb = try IntegerOps.zeroPoints(i.optional(5), expected: bType, count: cols, role: "B", c)
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
        let (acc, shape) = try IntegerOps.matmul(a, b, bShape: bShape, bType: bType, aZero: za, bZero: zb, packedB: packedB, c)
        let out = try c.allocate(outputType, shape.outputShape)
        if out.elementCount > 0 {
            rq.apply(acc.pointer(Int32.self), batches: shape.batchCount, rows: shape.m, cols: shape.n,
                     bias: bias, biasPerColumn: true, into: out.mutableRawPointer, pool: c.kernelPool)
        }
        return [out]
    }
}

final class QLinearConvKernel: TensorKernel, BakesConstants, @unchecked Sendable {
    // @unchecked Sendable: `cached` is only touched under `lock`.
    var bakedBytes: Int { conv.packedBytes }
    /// Constant weights with a valid constant zero point are packed by `bake` and dropped.
    var bakedInputs: [Int] { bakeZeroPoints != nil ? [3] : [] }
    func bake(_ options: SessionOptions) { if let z = bakeZeroPoints { conv.bake(wZero: z) } }
    let conv: IntegerConv
    let constant: Bool
    let bakeZeroPoints: [Int32]?
    let range: (Int32?, Int32?)
    /// Scales, zero points and bias are all constant (or absent): their checks and derived values
    /// are computed on the first run and reused (they cost ~8% of quantized MobileNetV2's run
    /// time when rebuilt per node and run).
    let constantParameters: Bool
    private let lock = NSLock()
    private var cached: Parameters?

    /// What the scales, zero points and bias give for an input type.
    struct Parameters {
        let xType: DType
        let xZero: Int32, wZero: [Int32]
        let rq: Requantizer
        let bias: [Int32]?
        let outputType: DType
    }

    init(_ b: KernelBuildContext) throws {
        conv = IntegerConv(b, weightIndex: 3)
        let weights = conv.constantZeroPoints(b, zeroPointIndex: 5)
        constant = weights.constant
        bakeZeroPoints = weights.bake
        range = QLinearOperators.outputRange(b)
        constantParameters = constant && [1, 2, 4, 5, 6, 7, 8].allSatisfy { !b.hasInput($0) || b.constantInput($0) != nil }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c)
        let w: Tensor? = bakeZeroPoints != nil ? nil : try i.required(3, c)
        guard let wShape = w?.shape ?? conv.bakedShape ?? conv.constantWeights?.shape,
              let wType = w?.dtype ?? conv.bakedType ?? conv.constantWeights?.dtype else {
            throw EdgeError.badInput("\(c.nodeDescription): the weights input is missing")
        }
        let p: Parameters
        if constantParameters {
            if let hit = lock.withLock({ cached }), hit.xType == x.dtype {
                p = hit
            } else {
                p = try parameters(i, x: x, wShape: wShape, wType: wType, c)
                lock.withLock { cached = p }
            }
        } else {
            p = try parameters(i, x: x, wShape: wShape, wType: wType, c)
        }
        return [try conv.runRequantized(x: x, w: w ?? conv.constantWeights, xZero: p.xZero, wZero: p.wZero, constant: constant,
                                        rq: p.rq, bias: p.bias, outputType: p.outputType, c)]
    }

    /// Checks the scales, zero points and bias and derives the requantization from them.
    private func parameters(_ i: [Tensor?], x: Tensor, wShape: [Int], wType: DType, _ c: ExecutionContext) throws -> Parameters {
        let xScale = try i.required(1, c)
        let wScale = try i.required(4, c)
        let yScale = try i.required(6, c)
        let yZero = i.optional(7)
        let cOut = wShape.first ?? 1
        guard xScale.elementCount == 1, yScale.elementCount == 1 else {
            throw EdgeError.badInput("\(c.nodeDescription): x_scale and y_scale must be scalars")
        }
        guard wScale.elementCount == 1 || wScale.elementCount == cOut else {
            throw EdgeError.badInput("\(c.nodeDescription): w_scale has \(wScale.elementCount) elements, expected 1 or \(cOut)")
        }
        let zx = try IntegerOps.zeroPoints(i.optional(2), expected: x.dtype, count: 1, role: "x", c)
        let zw = try IntegerOps.zeroPoints(i.optional(5), expected: wType, count: cOut, role: "w", c)
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
        return Parameters(xType: x.dtype, xZero: zx[0], wZero: zw, rq: rq, bias: bias, outputType: outputType)
    }
}

/// com.microsoft QGemm: Y = alpha·(A − za)·op(B − zb) scaled by a_scale·b_scale, plus C; with
/// y_scale the result is requantized (C is then int32 in accumulator units, added before the
/// float multiply, as ONNX Runtime does), without it Y is float32 (C float).
final class QGemmKernel: TensorKernel, BakesConstants {
    var bakedBytes: Int { packedB?.byteCount ?? 0 }
    /// A packed constant B is all the kernel reads of input 3, so the session drops the original.
    var bakedInputs: [Int] { packedB != nil ? [3] : [] }
    func bake(_ options: SessionOptions) {}
    let alpha: Float
    let transA: Bool
    let transB: Bool
    let packedB: PackedInt8Matrix?
    /// The transposed constant B when it could not be packed (a run-time zero point).
    let constantB: Tensor?
    /// op(B)'s shape [K, N] and type when packed.
    let packedShape: [Int], packedType: DType

    init(_ b: KernelBuildContext) throws {
        alpha = b.float("alpha", 1)
        transA = b.int("transA", 0) != 0
        transB = b.int("transB", 0) != 0
        var transposed: Tensor? = nil
        if transB, let w = b.constantInput(3), w.rank == 2, IntegerOps.isByte(w.dtype) {
            transposed = QDQLowering.transposed(w)
        }
        var packed: PackedInt8Matrix? = nil
        if let t = transposed, b.constantInput(5) != nil || !b.hasInput(5) {
            var zp: [Int32] = [0]
            if let z = b.constantInput(5) {
                zp = try QuantTypes.int32Values(z, b.nodeDescription)
                if z.dtype != t.dtype { zp = [] }  // reported at run time
            }
            if !zp.isEmpty && (zp.count == 1 || zp.count == t.shape[1]) && t.elementCount > 0 {
                packed = PackedInt8Matrix(packing: t.rawPointer, signed: t.dtype == .int8, k: t.shape[0],
                                          n: t.shape[1], ldb: t.shape[1], zeroPoints: zp)
            }
        } else if !transB {
            packed = try IntegerOperators.packConstantB(b, weightIndex: 3, zeroPointIndex: 5)
        }
        packedB = packed
        // The transposed copy is needed only when it was not packed.
        constantB = packed == nil ? transposed : nil
        let w = b.constantInput(3)
        packedShape = packed != nil ? (transB ? [w!.shape[1], w!.shape[0]] : w!.shape) : []
        packedType = w?.dtype ?? .uint8
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        var a = try i.required(0, c)
        let aScale = try i.required(1, c), bScale = try i.required(4, c)
        var bm: Tensor? = nil
        if packedB == nil {
            var t = try i.required(3, c)
            guard t.rank == 2 else { throw EdgeError.badInput("\(c.nodeDescription): B must be 2-D, got \(t.shape)") }
            if transB { t = constantB ?? QDQLowering.transposed(t) }
            bm = t
        }
        guard a.rank == 2 else {
            throw EdgeError.badInput("\(c.nodeDescription): A and B must be 2-D, got \(a.shape) and \(bm?.shape ?? packedShape)")
        }
        if transA { a = QDQLowering.transposed(a) }
        let bShape = bm?.shape ?? packedShape, bType = bm?.dtype ?? packedType
        let m = a.shape[0], n = bShape[1]
        let za = try IntegerOps.zeroPoints(i.optional(2), expected: a.dtype, count: 1, role: "A", c)
        let zb = try IntegerOps.zeroPoints(i.optional(5), expected: bType, count: n, role: "B", c)
        guard aScale.elementCount == 1, bScale.elementCount == 1 || bScale.elementCount == n else {
            throw EdgeError.badInput("\(c.nodeDescription): a_scale must be a scalar and b_scale a scalar or \(n) values")
        }
        let (acc, shape) = try IntegerOps.matmul(a, bm, bShape: bShape, bType: bType, aZero: za, bZero: zb, packedB: packedB, c)
        let bias = i.optional(6)
        if let bias, bias.elementCount != 1 && bias.elementCount != n && bias.elementCount != m * n {
            throw EdgeError.badInput("\(c.nodeDescription): C with shape \(bias.shape) does not broadcast to [\(m), \(n)]")
        }
        let av = aScale.floatArray()[0], bv = bScale.floatArray()
        func biasIndex(_ r: Int, _ col: Int) -> Int {
            guard let bias else { return 0 }
            return bias.elementCount == 1 ? 0 : (bias.elementCount == n ? col : r * n + col)
        }
        let ap = acc.pointer(Int32.self)
        if let yScaleTensor = i.optional(7) {
            let yZero = i.optional(8)
            let outputType = yZero?.dtype ?? .uint8
            guard IntegerOps.isByte(outputType), yScaleTensor.elementCount == 1 else {
                throw EdgeError.badInput("\(c.nodeDescription): y_scale must be a scalar and the output int8 or uint8")
            }
            guard bias == nil || bias!.dtype == .int32 else {
                throw EdgeError.badInput("\(c.nodeDescription): C must be int32 when the output is quantized")
            }
            let ys = yScaleTensor.floatArray()[0]
            let multipliers = (0..<bv.count).map { alpha * av * bv[$0] / ys }
            let zy = try IntegerOps.zeroPoints(yZero, expected: outputType, count: 1, role: "output", c)[0]
            let out = try c.allocate(outputType, shape.outputShape)
            let bp = bias?.pointer(Int32.self)
            let signed = outputType == .int8
            let lo: Float = signed ? -128 : 0, hi: Float = signed ? 127 : 255
            let dst = out.mutableRawPointer
            for r in 0..<m {
                for col in 0..<n {
                    let k = r * n + col
                    let sum = ap[k] &+ (bp?[biasIndex(r, col)] ?? 0)
                    var v = (Float(sum) * multipliers[multipliers.count == 1 ? 0 : col]).rounded(.toNearestOrEven) + Float(zy)
                    v = v.isNaN ? Float(zy) : Swift.min(Swift.max(v, lo), hi)
                    if signed { dst.storeBytes(of: Int8(v), toByteOffset: k, as: Int8.self) }
                    else { dst.storeBytes(of: UInt8(v), toByteOffset: k, as: UInt8.self) }
                }
            }
            return [out]
        }
        let scales = bv.map { alpha * av * $0 }
        let biasValues = bias?.floatArray()
        let out = try c.allocate(.float, shape.outputShape)
        let o = out.mutablePointer(Float.self)
        for r in 0..<m {
            for col in 0..<n {
                let k = r * n + col
                o[k] = Float(ap[k]) * scales[scales.count == 1 ? 0 : col] + (biasValues?[biasIndex(r, col)] ?? 0)
            }
        }
        return [out]
    }
}
