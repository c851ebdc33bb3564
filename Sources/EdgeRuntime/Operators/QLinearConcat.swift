import EdgeIR

/// com.microsoft QLinearConcat(Y_scale, Y_zero_point, X1, X1_scale, X1_zero_point, X2, …), attribute
/// axis — what ONNX Runtime's QOperator quantizer emits for a Concat (SqueezeNet's Fire modules,
/// ShuffleNet). Every input has its own per-tensor scale and zero point; the output has one.
///
/// ONNX Runtime's arithmetic (contrib_ops/cpu/quantization/qlinear_concat.cc), reproduced so that
/// results are bit-identical: an input whose scale and zero point equal the output's (same float,
/// same integer) is copied byte for byte; any other input goes through a 256-entry table indexed
/// by its byte,
///     x    = sx · Float(q − zx)                                (float32)
///     t[q] = roundHalfEven(clamp(x / sy, qmin − zy, qmax − zy)) + zy
/// (MlasQuantizeLinear: divide, clamp in float, round to nearest even, add the zero point). This
/// is DequantizeLinear → Concat → QuantizeLinear exactly; only the clamp-before-round order
/// matters, and it changes nothing, since the bounds are integers.
enum QLinearConcatOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearConcat", domain: "com.microsoft", versions: 1...1) { b in
            QLinearConcatKernel(axis: b.int("axis"))
        },
    ]
}

final class QLinearConcatKernel: TensorKernel {
    let axis: Int?
    init(axis: Int?) { self.axis = axis }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        guard let axis else { throw EdgeError.badInput("\(c.nodeDescription): attribute 'axis' is required") }
        guard i.count >= 5, (i.count - 2) % 3 == 0 else {
            throw EdgeError.badInput("\(c.nodeDescription): inputs must be Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) triples; got \(i.count) inputs")
        }
        let sy = try QLinearBinaryOperators.scalarScale(try i.required(0, c), "Y_scale", c)
        let zyTensor = try i.required(1, c)
        let dtype = zyTensor.dtype
        guard IntegerOps.isByte(dtype) else { throw EdgeError.badInput("\(c.nodeDescription): Y_zero_point must be int8 or uint8, got \(dtype)") }
        let zy = try IntegerOps.zeroPoints(zyTensor, expected: dtype, count: 1, role: "Y", c)[0]
        let signed = dtype == .int8

        var xs: [(tensor: Tensor, table: [UInt8]?)] = []
        for start in stride(from: 2, to: i.count, by: 3) {
            let x = try i.required(start, c)
            guard x.dtype == dtype else {
                throw EdgeError.badInput("\(c.nodeDescription): input \(start) is \(x.dtype), expected \(dtype) like Y_zero_point")
            }
            let sx = try QLinearBinaryOperators.scalarScale(try i.required(start + 1, c), "scale of input \(start)", c)
            let zx = try IntegerOps.zeroPoints(i.optional(start + 2), expected: dtype, count: 1, role: "input \(start)", c)[0]
            let copy = sx == sy && zx == zy
            xs.append((x, copy ? nil : QLinearLookupOperators.table(sx: sx, zx: zx, sy: sy, zy: zy, signed: signed) { $0 }))
        }

        let first = xs[0].tensor.shape
        let rank = first.count
        guard rank > 0, axis >= -rank, axis < rank else {
            throw EdgeError.badInput("\(c.nodeDescription): axis \(axis) is out of range for rank \(rank)")
        }
        let a = axis < 0 ? axis + rank : axis
        var outShape = first
        outShape[a] = 0
        for (x, _) in xs {
            guard x.rank == rank, (0..<rank).allSatisfy({ $0 == a || x.shape[$0] == first[$0] }) else {
                throw EdgeError.badInput("\(c.nodeDescription): input shapes \(xs.map(\.tensor.shape)) differ outside axis \(a)")
            }
            outShape[a] += x.shape[a]
        }
        let out = try c.allocate(dtype, outShape)
        guard out.elementCount > 0 else { return [out] }
        // Bytes: every input row (the elements from the axis on) lands at its offset in each
        // output row.
        let outer = Shapes.product(first[..<a])
        let outPitch = Shapes.product(outShape[a...])
        let dst = out.mutableRawPointer.assumingMemoryBound(to: UInt8.self)
        var offset = 0
        for (x, table) in xs {
            let pitch = Shapes.product(x.shape[a...])
            guard pitch > 0 else { continue }
            x.withUnsafeBytes { raw in
                let src = raw.bindMemory(to: UInt8.self).baseAddress!
                c.parallelFor(outer, grain: Swift.max(1, 16384 / pitch)) { rows in
                    for o in rows {
                        let s = src + o * pitch, d = dst + o * outPitch + offset
                        if let table {
                            for k in 0..<pitch { d[k] = table[Int(s[k])] }
                        } else {
                            d.update(from: s, count: pitch)
                        }
                    }
                }
            }
            offset += pitch
        }
        return [out]
    }
}
