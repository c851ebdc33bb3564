import EdgeIR
import EdgeKernels
import Foundation

/// Shared machinery of the integer operators (MatMulInteger, ConvInteger, QLinearMatMul,
/// QLinearConv and the QDQ-lowered forms): MatMul shape broadcasting, exact int8 GEMM over batches,
/// int8 convolution with weights packed once per input size, and requantization.
struct IntegerMatMulShape {
    let m: Int, k: Int, n: Int
    let outputShape: [Int]
    /// Element offsets of each batch's A and B matrix.
    let aOffsets: [Int], bOffsets: [Int]

    /// NumPy matmul shapes: 1-D A is [1, K] (the row dropped afterwards), 1-D B is [K, 1]; the
    /// batch dimensions broadcast.
    init(a: [Int], b: [Int], _ what: @autoclosure () -> String) throws {
        guard !a.isEmpty, !b.isEmpty else { throw EdgeError.badInput("\(what()): MatMul operands must have rank ≥ 1") }
        let a2 = a.count == 1 ? [1, a[0]] : a
        let b2 = b.count == 1 ? [b[0], 1] : b
        m = a2[a2.count - 2]; k = a2[a2.count - 1]; n = b2[b2.count - 1]
        guard b2[b2.count - 2] == k else {
            throw EdgeError.badInput("\(what()): inner dimensions differ: A \(a), B \(b)")
        }
        let aBatch = Array(a2.dropLast(2)), bBatch = Array(b2.dropLast(2))
        let rank = max(aBatch.count, bBatch.count)
        let pa = [Int](repeating: 1, count: rank - aBatch.count) + aBatch
        let pb = [Int](repeating: 1, count: rank - bBatch.count) + bBatch
        var batch = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            guard pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1 else {
                throw EdgeError.badInput("\(what()): batch dimensions of A \(a) and B \(b) do not broadcast")
            }
            batch[d] = pa[d] == 1 ? pb[d] : pa[d]
        }
        let count = batch.reduce(1, *)
        var ao = [Int](repeating: 0, count: count), bo = [Int](repeating: 0, count: count)
        let sa = Shapes.strides(pa), sb = Shapes.strides(pb), sBatch = Shapes.strides(batch)
        for index in 0..<count {
            var ia = 0, ib = 0
            for d in 0..<rank {
                let coord = (index / sBatch[d]) % batch[d]
                if pa[d] != 1 { ia += coord * sa[d] }
                if pb[d] != 1 { ib += coord * sb[d] }
            }
            ao[index] = ia * m * k
            bo[index] = ib * k * n
        }
        aOffsets = ao; bOffsets = bo
        var out = batch
        if a.count > 1 { out.append(m) }
        if b.count > 1 { out.append(n) }
        outputShape = out
    }

    var batchCount: Int { aOffsets.count }
}

enum IntegerOps {
    static func isByte(_ t: DType) -> Bool { t == .int8 || t == .uint8 }

    /// A zero point for A (scalar, or one per row of A) / B (scalar, or one per column of B).
    static func zeroPoints(_ t: Tensor?, expected: DType, count: Int, role: String, _ c: ExecutionContext) throws -> [Int32] {
        guard let t else { return [0] }
        guard t.dtype == expected else {
            throw EdgeError.badInput("\(c.nodeDescription): \(role) zero point is \(t.dtype), expected \(expected) like its tensor")
        }
        let v = try QuantTypes.int32Values(t, c.nodeDescription)
        guard v.count == 1 || v.count == count else {
            throw EdgeError.badInput("\(c.nodeDescription): \(role) zero point has \(v.count) elements, expected 1 or \(count)")
        }
        return v
    }

    /// C[batch] (int32) = Σ (A − za)(B − zb) for every broadcast batch.
    static func matmul(_ a: Tensor, _ b: Tensor, aZero: [Int32], bZero: [Int32], packedB: PackedInt8Matrix?,
                       _ c: ExecutionContext) throws -> (Tensor, IntegerMatMulShape) {
        try matmul(a, b, bShape: b.shape, bType: b.dtype, aZero: aZero, bZero: bZero, packedB: packedB, c)
    }

    /// As above; `b` may be nil when B is a constant 2-D matrix held only as `packedB` (shape and
    /// type given separately).
    static func matmul(_ a: Tensor, _ b: Tensor?, bShape: [Int], bType: DType, aZero: [Int32], bZero: [Int32],
                       packedB: PackedInt8Matrix?, _ c: ExecutionContext) throws -> (Tensor, IntegerMatMulShape) {
        guard isByte(a.dtype), isByte(bType) else {
            throw EdgeError.badInput("\(c.nodeDescription): operands must be int8 or uint8, got \(a.dtype) and \(bType)")
        }
        let shape = try IntegerMatMulShape(a: a.shape, b: bShape, c.nodeDescription)
        let out = try c.allocate(.int32, shape.outputShape, zeroed: true)
        let cp = out.mutablePointer(Int32.self)
        let m = shape.m, n = shape.n, k = shape.k
        if m == 0 || n == 0 { return (out, shape) }
        if k == 0 { cp.update(repeating: 0, count: out.elementCount); return (out, shape) }
        try aZero.withUnsafeBufferPointer { za in
            try bZero.withUnsafeBufferPointer { zb in
                let aZP: ZeroPoint = za.count == 1 ? .scalar(za[0]) : .perIndex(za.baseAddress!)
                let bZP: ZeroPoint = zb.count == 1 ? .scalar(zb[0]) : .perIndex(zb.baseAddress!)
                for batch in 0..<shape.batchCount {
                    let ap = a.rawPointer + shape.aOffsets[batch]
                    let dst = cp + batch * m * n
                    if let packedB, shape.bOffsets[batch] == 0 {
                        Kernels.gemmInt8(m: m, a: ap, aSigned: a.dtype == .int8, lda: k, aZeroPoint: aZP,
                                         packedB: packedB, c: dst, ldc: n, pool: c.kernelPool)
                    } else {
                        guard let b, shape.bOffsets[batch] + k * n <= b.elementCount else {
                            throw EdgeError.badInput("\(c.nodeDescription): B holds too few elements")
                        }
                        Kernels.gemmInt8(m: m, n: n, k: k, a: ap, aSigned: a.dtype == .int8, lda: k, aZeroPoint: aZP,
                                         b: b.rawPointer + shape.bOffsets[batch], bSigned: bType == .int8, ldb: n,
                                         bZeroPoint: bZP, c: dst, ldc: n, pool: c.kernelPool)
                    }
                }
            }
        }
        return (out, shape)
    }
}

/// Int8 convolution state shared by ConvInteger and QLinearConv: attributes, and constant weights
/// packed once (`Int8ConvWeights`: int8 VNNI panels, or exact (w − zw) floats) and re-targeted
/// to each input size without copying.
final class IntegerConv: @unchecked Sendable {
    // @unchecked: `cache` is only touched under `lock`.
    let window: WindowAttributes
    let group: Int
    /// The constant weights until `bake` packs them (then only their shape and type are kept).
    private(set) var constantWeights: Tensor?
    private(set) var bakedShape: [Int]? = nil
    private(set) var bakedType: DType? = nil
    private let lock = NSLock()
    private var packed: Int8ConvWeights?
    private var cache: [[Int]: Int8ConvWeights] = [:]
    /// The last input shape and type `prepare` accepted with the constant weights, and its result:
    /// a session runs one shape again and again, and re-resolving the window, geometry and cache
    /// entry per run cost ~2% of quantized MobileNetV2.
    private var lastPrepared: (shape: [Int], type: DType, wZero: [Int32], result: (Int8ConvWeights, [Int]))?

    init(_ b: KernelBuildContext, weightIndex: Int) {
        window = WindowAttributes(b)
        group = b.int("group", 1)
        constantWeights = b.constantInput(weightIndex)
    }

    /// Packs the constant weights once for every input size (with their constant zero points
    /// `wZero`, already validated by the caller) and drops the original tensor.
    func bake(wZero: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        guard let w = constantWeights, packed == nil else { return }
        let g = ConvWeights.packingGeometry(inChannels: w.shape[1] * group, outChannels: w.shape[0], groups: group,
                                            kernelSize: Array(w.shape[2...]))
        packed = Int8ConvWeights(weights: w.rawPointer, signed: w.dtype == .int8, zeroPoints: wZero, geometry: g)
        bakedShape = w.shape
        bakedType = w.dtype
        constantWeights = nil
    }

    /// Whether the weights and their zero point (input `zeroPointIndex`; absent means 0) are both
    /// constants, and if so the zero points `bake` may pack them with (nil when it cannot).
    func constantZeroPoints(_ b: KernelBuildContext, zeroPointIndex: Int) -> (constant: Bool, bake: [Int32]?) {
        let constant = constantWeights != nil && (!b.hasInput(zeroPointIndex) || b.constantInput(zeroPointIndex) != nil)
        var zero: [Int32]? = nil
        if constant, let w = constantWeights {
            if let z = b.constantInput(zeroPointIndex) {
                if z.dtype == w.dtype { zero = try? QuantTypes.int32Values(z, b.nodeDescription) }
            } else {
                zero = [0]
            }
        }
        return (constant, canBake(wZero: zero) ? zero : nil)
    }

    /// Whether constant weights of this shape and zero points can be packed by `bake` (else the
    /// run-time checks report the problem).
    func canBake(wZero: [Int32]?) -> Bool {
        guard let w = constantWeights, let wZero, IntegerOps.isByte(w.dtype), w.rank >= 3, group > 0,
              w.shape[0] % group == 0, w.shape.allSatisfy({ $0 > 0 }), wZero.count == 1 || wZero.count == w.shape[0] else { return false }
        let g = ConvWeights.packingGeometry(inChannels: w.shape[1] * group, outChannels: w.shape[0], groups: group,
                                            kernelSize: Array(w.shape[2...]))
        return g.problem == nil
    }

    /// Bytes of the packed constant weights (0 before the first run, or for run-time weights).
    var packedBytes: Int {
        lock.lock(); defer { lock.unlock() }
        return packed?.byteCount ?? 0
    }

    /// int32 output [N, C_out, spatial…] = conv(x − xZero, w − wZero) with zero padding in the
    /// shifted domain (the input padded with its zero point).
    /// `w` is nil once `bake` packed the constant weights.
    func run(x: Tensor, w: Tensor?, xZero: Int32, wZero: [Int32], constant: Bool, _ c: ExecutionContext) throws -> Tensor {
        let (packed, outShape) = try prepare(x: x, w: w, wZero: wZero, constant: constant, c)
        let out = try c.allocate(.int32, outShape)
        if out.elementCount > 0 {
            Kernels.convInt8(packed, batch: x.shape[0], input: x.rawPointer, inputSigned: x.dtype == .int8,
                             inputZeroPoint: xZero, output: out.mutablePointer(Int32.self), pool: c.kernelPool)
        }
        return out
    }

    /// `run` followed by `rq` (with `bias` per output channel) into an 8-bit tensor of `outputType`.
    func runRequantized(x: Tensor, w: Tensor?, xZero: Int32, wZero: [Int32], constant: Bool, rq: Requantizer,
                        bias: [Int32]?, outputType: DType, _ c: ExecutionContext) throws -> Tensor {
        let (packed, outShape) = try prepare(x: x, w: w, wZero: wZero, constant: constant, c)
        let out = try c.allocate(outputType, outShape)
        guard out.elementCount > 0 else { return out }
        // QLinearConv's layouts are per tensor or per output channel (perColumnB: false).
        precondition(rq.layout != .perColumn, "a conv requantizes per tensor or per output channel")
        rq.multipliers.withUnsafeBufferPointer { mp in
            let multiplier: QuantMultiplier = rq.layout == .perTensor ? .scalar(mp[0]) : .perRow(mp.baseAddress!)
            func run(_ bias: UnsafePointer<Int32>?) {
                Kernels.convInt8Requantized(packed, batch: x.shape[0], input: x.rawPointer, inputSigned: x.dtype == .int8,
                                            inputZeroPoint: xZero,
                                            requantization: RowRequantization(multiplier: multiplier, bias: bias, zeroPoint: rq.zeroPoint,
                                                                              outputSigned: rq.signed, lo: rq.lo, hi: rq.hi),
                                            output: out.mutableRawPointer, pool: c.kernelPool)
            }
            if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
        }
        return out
    }

    /// Validates the shapes and returns the packed weights for this input size and the output shape.
    private func prepare(x: Tensor, w: Tensor?, wZero: [Int32], constant: Bool,
                         _ c: ExecutionContext) throws -> (Int8ConvWeights, [Int]) {
        if constant, let last = lock.withLock({ lastPrepared }), last.shape == x.shape, last.type == x.dtype, last.wZero == wZero {
            return last.result
        }
        let result = try prepareUncached(x: x, w: w, wZero: wZero, constant: constant, c)
        if constant { lock.withLock { lastPrepared = (x.shape, x.dtype, wZero, result) } }
        return result
    }

    private func prepareUncached(x: Tensor, w: Tensor?, wZero: [Int32], constant: Bool,
                                 _ c: ExecutionContext) throws -> (Int8ConvWeights, [Int]) {
        guard let wShape = w?.shape ?? bakedShape, let wType = w?.dtype ?? bakedType else {
            throw EdgeError.badInput("\(c.nodeDescription): the weights input is missing")
        }
        guard IntegerOps.isByte(x.dtype), IntegerOps.isByte(wType) else {
            throw EdgeError.badInput("\(c.nodeDescription): input and weights must be int8 or uint8, got \(x.dtype) and \(wType)")
        }
        guard x.rank >= 3, wShape.count == x.rank else {
            throw EdgeError.badInput("\(c.nodeDescription): input \(x.shape) and weights \(wShape) must be N×C×spatial of one rank")
        }
        let spatial = Array(x.shape[2...])
        let r = try window.resolve(input: spatial, kernel: Array(wShape[2...]), c)
        let cIn = x.shape[1], cOut = wShape[0]
        guard group > 0, cIn % group == 0, wShape[1] * group == cIn, cOut % group == 0, Array(wShape[2...]) == r.kernel else {
            throw EdgeError.badInput("\(c.nodeDescription): weights \(wShape) do not fit input \(x.shape) with group \(group)")
        }
        guard wZero.count == 1 || wZero.count == cOut else {
            throw EdgeError.badInput("\(c.nodeDescription): weight zero point has \(wZero.count) elements, expected 1 or \(cOut)")
        }
        let geometry = ConvGeometry(inChannels: cIn, outChannels: cOut, groups: group, inputSize: spatial, kernelSize: r.kernel,
                                    strides: r.strides, dilations: r.dilations, padsBegin: r.padsBegin, padsEnd: r.padsEnd)
        if let problem = geometry.problem { throw EdgeError.badInput("\(c.nodeDescription): \(problem)") }
        let packed: Int8ConvWeights
        if constant {
            lock.lock()
            defer { lock.unlock() }
            if let hit = cache[spatial] {
                packed = hit
            } else {
                if self.packed == nil {
                    guard let w else { throw EdgeError.badInput("\(c.nodeDescription): the weights input is missing") }
                    self.packed = Int8ConvWeights(weights: w.rawPointer, signed: wType == .int8, zeroPoints: wZero, geometry: geometry)
                }
                packed = self.packed!.with(geometry: geometry)
                cache[spatial] = packed
            }
        } else {
            guard let w else { throw EdgeError.badInput("\(c.nodeDescription): the weights input is missing") }
            packed = Int8ConvWeights(weights: w.rawPointer, signed: wType == .int8, zeroPoints: wZero, geometry: geometry)
        }
        return (packed, [x.shape[0], cOut] + r.output)
    }
}

/// int32 accumulators → 8-bit, as ONNX Runtime and an integer accelerator do it:
///   y = clamp(roundHalfEven(Float(acc + bias) · multiplier) + y_zero_point, lo, hi)
/// with multiplier = a_scale·b_scale / y_scale computed once in float32 (float16 when the scales
/// are float16). `lo`/`hi` default to the type's range; a fused Relu/Clip narrows them.
struct Requantizer {
    enum Layout { case perTensor, perRow, perColumn }
    let multipliers: [Float]
    let layout: Layout
    let zeroPoint: Int32
    let signed: Bool
    let lo: Int32, hi: Int32

    /// Applies to `rows` × `cols` blocks (row = output channel / matrix row); `bias` per row
    /// (conv, layout perRow) or per column (matmul).
    func apply(_ acc: UnsafePointer<Int32>, batches: Int, rows: Int, cols: Int, bias: [Int32]?, biasPerColumn: Bool,
               into dst: UnsafeMutableRawPointer, pool: ThreadPool? = nil) {
        if layout != .perColumn && !biasPerColumn {
            multipliers.withUnsafeBufferPointer { mp in
                let bias = bias
                for b in 0..<batches {
                    let off = b * rows * cols
                    let mult: QuantMultiplier = layout == .perTensor ? .scalar(mp[0]) : .perRow(mp.baseAddress!)
                    if let bias {
                        bias.withUnsafeBufferPointer { bp in
                            Kernels.requantize(acc + off, rows: rows, cols: cols, bias: bp.baseAddress!, multiplier: mult,
                                               zeroPoint: zeroPoint, outputSigned: signed, lo: lo, hi: hi, dst: dst + off, pool: pool)
                        }
                    } else {
                        Kernels.requantize(acc + off, rows: rows, cols: cols, multiplier: mult,
                                           zeroPoint: zeroPoint, outputSigned: signed, lo: lo, hi: hi, dst: dst + off, pool: pool)
                    }
                }
            }
            return
        }
        let flo = Float(lo), fhi = Float(hi), fz = Float(zeroPoint)
        for b in 0..<batches {
            for r in 0..<rows {
                for col in 0..<cols {
                    let i = (b * rows + r) * cols + col
                    let m: Float
                    switch layout {
                    case .perTensor: m = multipliers[0]
                    case .perRow: m = multipliers[r]
                    case .perColumn: m = multipliers[col]
                    }
                    let bias = bias.map { $0[biasPerColumn ? col : r] } ?? 0
                    var v = (Float(acc[i] &+ bias) * m).rounded(.toNearestOrEven) + fz
                    v = v.isNaN ? fz : Swift.min(Swift.max(v, flo), fhi)
                    if signed { dst.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self) }
                    else { dst.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self) }
                }
            }
        }
    }

    /// multiplier[i] = (aScale · bScale[i]) / yScale in the scales' float type.
    static func multipliers(aScale: Tensor, bScale: Tensor, yScale: Tensor) -> [Float] {
        let a = aScale.floatArray(), b = bScale.floatArray(), y = yScale.floatArray()
        let count = max(a.count, b.count, y.count)
        let half = aScale.dtype == .float16 && bScale.dtype == .float16 && yScale.dtype == .float16
        return (0..<count).map { i in
            let av = a[a.count == 1 ? 0 : i], bv = b[b.count == 1 ? 0 : i], yv = y[y.count == 1 ? 0 : i]
            if half { return Float(Float16(Float(Float16(av * bv)) / yv)) }
            return av * bv / yv
        }
    }
}
