import EdgeIR
import EdgeKernels
import Foundation

/// ONNX Runtime's `com.microsoft::DynamicQuantizeLSTM` (contrib opset 1): an ONNX LSTM whose W and
/// R are 8-bit and stored transposed, gates i o f c along the last axis:
///
///     W [directions, input, 4·hidden], R [directions, hidden, 4·hidden]      int8 or uint8
///     W_scale, R_scale (float) and W_zero_point, R_zero_point (W's type):
///         [directions] (one per direction) or [directions, 4·hidden] (one per gate column)
///
/// Inputs 3–7 (B, sequence_lens, initial_h, initial_c, P) and the attributes are LSTM's; there is
/// no `layout` (X is [seq, batch, input]).
///
/// Both products are 8-bit with int32 accumulation, as ONNX Runtime computes them. The left
/// operand A — X over the first max(sequence_lens) steps of a direction at once, and H_{t−1} at
/// every step (a row whose sequence ended before the previous step enters as zeros, as ONNX
/// Runtime's zero-filled output rows do when Y is an output) — is quantized to uint8 from its own
/// range:
///
///     lo = min(0, min A), hi = max(0, max A), s = (hi − lo) / 255 (1 when hi = lo)
///     z = roundHalfEven(clamp(−lo / s, 0, 255)),   A_q = clamp(roundHalfEven(A / s) + z, 0, 255)
///     out[r, j] = (s · s_w[j]) · Σ_k (A_q[r, k] − z) · (W_q[k, j] − z_w[j])
///
/// The sum is exact in int32 and scaled by one float multiply. The gate equations are then the
/// float LSTM's (`RecurrentKernel`). ONNX Runtime run with several threads and a batch of more
/// than one may quantize H in slices of the batch rather than whole; with one thread it quantizes
/// the whole batch, as here.
enum DynamicQuantizeLSTMOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("DynamicQuantizeLSTM", domain: "com.microsoft", versions: 1...1) { b in try DynamicQuantizeLSTMKernel(b) },
    ]
}

final class DynamicQuantizeLSTMKernel: TensorKernel, HoldsPackedInt8Weights {
    var bakedBytes: Int {
        guard let (w, r) = constantWeights else { return 0 }
        return (w.packed + r.packed).reduce(0) { $0 + $1.byteCount }
    }
    let lstm: RecurrentKernel
    /// W and R packed when the session compiles (they are constants in every real model).
    let constantWeights: (w: Int8ProjectionWeights, r: Int8ProjectionWeights)?

    init(_ b: KernelBuildContext) throws {
        if b.node.attribute("layout") != nil { throw b.error("DynamicQuantizeLSTM has no layout attribute (X is [seq, batch, input])") }
        lstm = try RecurrentKernel(b, cell: .lstm)
        if let w = b.constantInput(1), let r = b.constantInput(2), let ws = b.constantInput(8), let wz = b.constantInput(9),
           let rs = b.constantInput(10), let rz = b.constantInput(11) {
            constantWeights = (try Int8ProjectionWeights(w, scale: ws, zeroPoint: wz, role: "W", b.nodeDescription),
                               try Int8ProjectionWeights(r, scale: rs, zeroPoint: rz, role: "R", b.nodeDescription))
        } else {
            constantWeights = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let weights = try constantWeights ?? (
            Int8ProjectionWeights(i.required(1, c), scale: i.required(8, c), zeroPoint: i.required(9, c), role: "W", c.nodeDescription),
            Int8ProjectionWeights(i.required(2, c), scale: i.required(10, c), zeroPoint: i.required(11, c), role: "R", c.nodeDescription))
        return try lstm.evaluate(i, c, defaultHidden: weights.r.k) { inputSize, hidden, directions in
            let gh = 4 * hidden
            guard weights.w.directions == directions, weights.w.k == inputSize, weights.w.n == gh,
                  weights.r.directions == directions, weights.r.k == hidden, weights.r.n == gh else {
                throw EdgeError.badInput("\(c.nodeDescription): W [\(weights.w.directions), \(weights.w.k), \(weights.w.n)] / R [\(weights.r.directions), \(weights.r.k), \(weights.r.n)] must be [\(directions), \(inputSize), \(gh)] / [\(directions), \(hidden), \(gh)]")
            }
            return Int8RecurrentProjections(w: weights.w, r: weights.r)
        }
    }
}

/// One 8-bit weight [directions, K, N] with its scales and zero points, packed per direction for
/// `Kernels.gemmInt8` (`PackedInt8Matrix`: int8 VNNI panels, or the exact floats (W_q − z_w)).
struct Int8ProjectionWeights: Sendable {
    let directions: Int, k: Int, n: Int
    let packed: [PackedInt8Matrix]
    /// s_w per direction, one per column.
    let scales: [[Float]]

    init(_ t: Tensor, scale: Tensor, zeroPoint: Tensor, role: String, _ what: String) throws {
        guard t.dtype == .int8 || t.dtype == .uint8, t.rank == 3 else {
            throw EdgeError.badInput("\(what): \(role) must be a 3-D int8 or uint8 tensor, got \(t.dtype) \(t.shape)")
        }
        directions = t.shape[0]; k = t.shape[1]; n = t.shape[2]
        let perDirection = [directions], perColumn = [directions, n]
        guard scale.dtype == .float, scale.shape == perDirection || scale.shape == perColumn else {
            throw EdgeError.badInput("\(what): \(role)_scale must be float \(perDirection) or \(perColumn), got \(scale.dtype) \(scale.shape)")
        }
        guard zeroPoint.dtype == t.dtype, zeroPoint.shape == scale.shape else {
            throw EdgeError.badInput("\(what): \(role)_zero_point must be \(t.dtype) shaped like \(role)_scale \(scale.shape), got \(zeroPoint.dtype) \(zeroPoint.shape)")
        }
        let s: [Float] = scale.scalars()
        let z = try QuantTypes.int32Values(zeroPoint, what)
        let columns = scale.shape.count == 2 ? n : 1
        let (k, n, signed) = (k, n, t.dtype == .int8)
        packed = (0..<directions).map { d in
            PackedInt8Matrix(packing: UnsafeRawPointer(t.pointer(UInt8.self) + d * k * n), signed: signed, k: k, n: n, ldb: n,
                             zeroPoints: Array(z[(d * columns)..<((d + 1) * columns)]))
        }
        scales = (0..<directions).map { d in
            columns == 1 ? [Float](repeating: s[d], count: n) : Array(s[(d * n)..<((d + 1) * n)])
        }
    }
}

/// The int8 products of `RecurrentProjections` (LSTM gates only: the recurrent product always
/// covers every gate column).
struct Int8RecurrentProjections: RecurrentProjections {
    let w: Int8ProjectionWeights, r: Int8ProjectionWeights

    func input(direction d: Int, x: UnsafePointer<Float>, rows: Int, bias: [Float],
               into out: UnsafeMutablePointer<Float>, _ c: ExecutionContext) throws {
        Self.product(a: x, rows: rows, weights: w, direction: d, bias: bias, into: out, ldc: w.n, c)
    }

    func recurrent(direction d: Int, a: UnsafePointer<Float>, rows: Int, firstColumn: Int, columns: Int,
                   bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, ldc: Int, _ c: ExecutionContext) throws {
        guard firstColumn == 0, columns == r.n, bias == nil else {
            throw EdgeError.unsupported("\(c.nodeDescription): the int8 recurrent product covers all gate columns")
        }
        Self.product(a: a, rows: rows, weights: r, direction: d, bias: nil, into: out, ldc: ldc, c)
    }

    /// out[r, j] = (s_a · s_w[j]) · Σ_k (A_q[r, k] − z_a)(W_q[k, j] − z_w[j]) (+ bias[j]).
    static func product(a: UnsafePointer<Float>, rows: Int, weights: Int8ProjectionWeights, direction d: Int, bias: [Float]?,
                        into out: UnsafeMutablePointer<Float>, ldc: Int, _ c: ExecutionContext) {
        let k = weights.k, n = weights.n
        guard rows > 0, n > 0 else { return }
        var q = [UInt8](repeating: 0, count: max(1, rows * k))
        let (scale, zero) = q.withUnsafeMutableBufferPointer { quantize(a, count: rows * k, into: $0.baseAddress!) }
        var acc = [Int32](repeating: 0, count: rows * n)
        if k > 0 {
            q.withUnsafeBufferPointer { qp in
                acc.withUnsafeMutableBufferPointer { cp in
                    Kernels.gemmInt8(m: rows, a: UnsafeRawPointer(qp.baseAddress!), aSigned: false, lda: k, aZeroPoint: .scalar(zero),
                                     packedB: weights.packed[d], c: cp.baseAddress!, ldc: n, pool: c.kernelPool)
                }
            }
        }
        let multiplier = weights.scales[d].map { scale * $0 }
        for row in 0..<rows {
            let o = out + row * ldc
            for j in 0..<n { o[j] = Float(acc[row * n + j]) * multiplier[j] + (bias?[j] ?? 0) }
        }
    }

    /// Dynamic uint8 quantization of `count` floats (ONNX Runtime's GetQuantizationParameter and
    /// QuantizeLinear); ±Inf saturate and NaN quantizes to the zero point.
    static func quantize(_ a: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<UInt8>) -> (scale: Float, zero: Int32) {
        var lo: Float = 0, hi: Float = 0
        for i in 0..<count {
            let v = a[i]
            guard v.isFinite else { continue }
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let scale: Float = hi == lo ? 1 : (hi - lo) / 255
        let zero = Swift.min(Swift.max(0 - lo / scale, 0), 255).rounded(.toNearestOrEven)
        for i in 0..<count {
            let v = (a[i] / scale).rounded(.toNearestOrEven) + zero
            q[i] = v.isNaN ? UInt8(zero) : UInt8(Swift.min(Swift.max(v, 0), 255))
        }
        return (scale, Int32(zero))
    }
}
