/// Quantization operators: QuantizeLinear / DequantizeLinear (QDQ form), DynamicQuantizeLinear,
/// and the QLinear* elementwise ops of the com.microsoft domain (QLinearConv and QLinearMatMul are
/// with their float families).
enum QuantizationShapes {
    static let rules: [String: ShapeRule] = {
        var r: [String: ShapeRule] = [
            "QuantizeLinear": { c in [quantize(c)] },
            "DequantizeLinear": { c in [dequantize(c)] },
            "com.microsoft:QuantizeLinear": { c in [quantize(c)] },
            "com.microsoft:DequantizeLinear": { c in [dequantize(c)] },
            "DynamicQuantizeLinear": { c in
                [TensorType(.uint8, c.shape(0)), TensorType(.float, fixed: []), TensorType(.uint8, fixed: [])]
            },
            // (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp)
            "com.microsoft:QLinearAdd": { c in [c.tensor(nil, try c.broadcastInputs([0, 3]))] },
            "com.microsoft:QLinearMul": { c in [c.tensor(nil, try c.broadcastInputs([0, 3]))] },
            // (Y_scale, Y_zp, X₀, X₀_scale, X₀_zp, X₁, …)
            "com.microsoft:QLinearConcat": { c in [try qlinearConcat(c)] },
        ]
        for op in ["QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax"] {
            r["com.microsoft:\(op)"] = { c in [c.type(0)] }
        }
        return r
    }()

    /// Output type: `output_dtype` (opset 21+), else the zero point's type, else uint8.
    static func quantize(_ c: ShapeContext) -> TensorType? {
        var dtype: DType = c.dtype(2) ?? .uint8
        if let attr = c.node.int("output_dtype"), attr != 0, let d = DType(rawValue: Int(attr)) { dtype = d }
        return TensorType(dtype, c.shape(0))
    }

    /// Output type: the scale's floating type (float32 before opset 19 allowed others).
    static func dequantize(_ c: ShapeContext) -> TensorType? {
        var dtype: DType = c.dtype(1) ?? .float
        if let attr = c.node.int("output_dtype"), attr != 0, let d = DType(rawValue: Int(attr)) { dtype = d }
        return TensorType(dtype, c.shape(0))
    }

    static func qlinearConcat(_ c: ShapeContext) throws -> TensorType? {
        let tensors = stride(from: 2, to: c.inputCount, by: 3).map { $0 }
        guard let rank = tensors.lazy.compactMap({ c.rank($0) }).first else { return c.tensor(nil, nil, like: 2) }
        let axis = try c.normalizedAxis(c.int("axis", default: 0), rank: rank)
        var out = c.shape(tensors[0]) ?? Array(repeating: .unknown, count: rank)
        var sum: Int? = 0
        for i in tensors {
            if let v = c.shape(i)?[axis].value, let s = sum { sum = s + v } else { sum = nil }
        }
        out[axis] = sum.map { .fixed($0) } ?? .unknown
        return c.tensor(c.dtype(1), out, like: 2)
    }
}
