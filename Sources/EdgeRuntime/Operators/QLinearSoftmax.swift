import Foundation
import EdgeIR

/// com.microsoft QLinearSoftmax(X, x_scale, x_zero_point, y_scale, y_zero_point), attributes
/// opset (required) and axis — what ONNX Runtime's QDQ fusion makes of DQ → Softmax → Q. ONNX
/// Runtime 1.31 (contrib QLinearSoftmax → MlasComputeQSoftmax, x86-64 AVX-512 kernel) does not
/// dequantize; for each row of D codes (D = shape[axis] from opset 13 on, else the product of
/// the dims from axis) it computes, in float32 unless noted:
///
///     shift = max(0, ln(FLT_MAX / Float(D)) − 5) / x_scale           (ln and the division in double)
///     E[i]  = Float(exp((i − 255 + shift) · x_scale))                (i = 0…255, double exp)
///     e_k   = E[x_k − max_j x_j + 255]                               (int8: x_k + 127 − max, the
///                                                                     table stored at (i − 128) mod 256)
///     S     = Σ e_k in the kernel's order (`rowSum`)
///     s     = (1 / S) · ⌊1 / y_scale⌋
///     y_k   = clamp(roundHalfEven(e_k · s + y_zero_point))           (fused multiply-add for the
///                                                                     first ⌊D/16⌋·16 elements,
///                                                                     multiply then add for the rest)
///
/// x_zero_point cancels (only differences from the row maximum matter); the shift keeps S finite.
/// The floored 1/y_scale, the float table and the summation order make the codes differ from a
/// float DQ → Softmax → Q by a step on some elements, so matching ONNX Runtime needs this exact
/// arithmetic (checked against onnxruntime in Tests/interop/test_qlinear_softmax.py).
enum QLinearSoftmaxOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearSoftmax", domain: "com.microsoft", versions: 1...1) { b in
            guard let opset = b.int("opset") else { throw b.error("missing attribute 'opset'") }
            return QLinearSoftmaxKernel(opset: opset, axis: b.int("axis") ?? (opset < 13 ? 1 : -1))
        },
    ]

    /// The 256-entry exp table, indexed by the (shifted) code as ONNX Runtime stores it.
    static func table(xScale: Float, reduce: Int, signed: Bool) -> [Float] {
        let limit = Float.greatestFiniteMagnitude / Float(max(reduce, 1))
        let shift = max(0.0, log(Double(limit)) - 5) / Double(xScale)
        var table = [Float](repeating: 0, count: 256)
        for i in 0..<256 {
            let index = signed ? Int(UInt8(truncatingIfNeeded: i - 128)) : i
            table[index] = Float(exp((Double(i) - 255 + shift) * Double(xScale)))
        }
        return table
    }

    /// MLAS's AVX-512 row sum: blocks of 32 go into 16 lanes (elements i…i+15, then i+16…i+31),
    /// the lanes are reduced as ((l0+l4)+(l8+l12)) + ((l1+l5)+(l9+l13)) + … pairwise, and the
    /// remaining D mod 32 elements are added to that one by one.
    static func rowSum(_ e: UnsafeBufferPointer<Float>) -> Float {
        var lanes = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 32 <= e.count {
            lanes += SIMD16(e[i..<(i + 16)])
            lanes += SIMD16(e[(i + 16)..<(i + 32)])
            i += 32
        }
        func quad(_ j: Int) -> Float { (lanes[j] + lanes[4 + j]) + (lanes[8 + j] + lanes[12 + j]) }
        var total = (quad(0) + quad(1)) + (quad(2) + quad(3))
        while i < e.count { total += e[i]; i += 1 }
        return total
    }
}

final class QLinearSoftmaxKernel: TensorKernel {
    let opset: Int, axis: Int
    init(opset: Int, axis: Int) { self.opset = opset; self.axis = axis }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c)
        guard IntegerOps.isByte(x.dtype) else { throw EdgeError.badInput("\(c.nodeDescription): X must be int8 or uint8, got \(x.dtype)") }
        let sx = try QLinearBinaryOperators.scalarScale(try i.required(1, c), "x_scale", c)
        let sy = try QLinearBinaryOperators.scalarScale(try i.required(3, c), "y_scale", c)
        let zy = try IntegerOps.zeroPoints(i.optional(4), expected: x.dtype, count: 1, role: "y", c)[0]
        let rank = x.shape.count
        guard rank > 0, axis >= -rank, axis < rank else {
            throw EdgeError.badInput("\(c.nodeDescription): axis \(axis) out of range for rank \(rank)")
        }
        let a = axis < 0 ? axis + rank : axis
        // Rows of `reduce` elements `stride` apart: opset 13 reduces one axis (ONNX Runtime
        // transposes it last; striding reads the same rows), older opsets flatten from axis on.
        let reduce = opset < 13 ? Shapes.product(x.shape[a...]) : x.shape[a]
        let stride = opset < 13 ? 1 : Shapes.product(x.shape[(a + 1)...])
        let outer = Shapes.product(x.shape[..<a])
        let out = try c.allocate(x.dtype, x.shape)
        guard out.elementCount > 0 else { return [out] }
        let signed = x.dtype == .int8
        let table = QLinearSoftmaxOperators.table(xScale: sx, reduce: reduce, signed: signed)
        let yScale = (1 as Float / sy).rounded(.down)
        let zero = Float(zy)
        let (qmin, qmax) = QLinearBinaryOperators.range(x.dtype)
        let lo = Float(qmin), hi = Float(qmax)
        let fused = reduce / 16 * 16
        let values = QLinearBinaryOperators.widened(x)
        let dst = out.mutableRawPointer
        var e = [Float](repeating: 0, count: reduce)
        for o in 0..<outer {
            for inner in 0..<stride {
                let base = o * reduce * stride + inner
                var xmax = Int32.min
                for k in 0..<reduce { xmax = max(xmax, values[base + k * stride]) }
                for k in 0..<reduce {
                    let v = values[base + k * stride]
                    let index = signed ? UInt8(truncatingIfNeeded: v + 127 - xmax) : UInt8(truncatingIfNeeded: v - xmax + 255)
                    e[k] = table[Int(index)]
                }
                let total = e.withUnsafeBufferPointer { QLinearSoftmaxOperators.rowSum($0) }
                let scale = (1 / total) * yScale
                for k in 0..<reduce {
                    let y = k < fused ? zero.addingProduct(e[k], scale) : e[k] * scale + zero
                    let q = Swift.min(Swift.max(y.rounded(.toNearestOrEven), lo), hi)
                    QLinearBinaryOperators.store(Int32(q), dst, base + k * stride, signed: signed)
                }
            }
        }
        return [out]
    }
}
