/// Elementwise operators: unary ops keep their input's type; binary and variadic ops broadcast
/// their inputs NumPy-style; comparisons and logical ops yield bool.
enum ElementwiseShapes {
    static let unaryOps = [
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Elu", "Erf", "Exp",
        "Floor", "Gelu", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "Log", "Mish", "Neg", "Reciprocal",
        "Relu", "Round", "Selu", "Sigmoid", "Sign", "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh",
        "ThresholdedRelu", "Celu", "Shrink", "Not", "BitwiseNot", "Clip", "Trilu", "EyeLike", "CumSum",
        "LpNormalization", "MeanVarianceNormalization", "Hardmax", "Softmax", "LogSoftmax", "RandomNormalLike",
        "RandomUniformLike", "ScatterND", "ScatterElements", "Scatter", "ReverseSequence", "Swish",
    ]
    static let binaryOps = [
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "PRelu", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    ]
    static let variadicOps = ["Sum", "Mean", "Max", "Min"]
    static let boolOps = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"]

    static let rules: [String: ShapeRule] = {
        var r: [String: ShapeRule] = [:]
        for op in unaryOps { r[op] = { c in unary(c) } }
        r["ai.edgeopt:SiLU"] = { c in unary(c) }
        for op in binaryOps + variadicOps {
            r[op] = { c in [c.tensor(nil, try c.broadcastInputs(Array(0..<c.inputCount)))] }
        }
        for op in boolOps {
            r[op] = { c in [c.tensor(.bool, try c.broadcastInputs([0, 1]))] }
        }
        r["IsNaN"] = { c in [c.tensor(.bool, c.shape(0))] }
        r["IsInf"] = { c in [c.tensor(.bool, c.shape(0))] }
        r["Where"] = { c in [c.tensor(c.dtype(1) ?? c.dtype(2), try c.broadcastInputs([0, 1, 2]), like: 1)] }
        r["Cast"] = { c in
            let to = DType(rawValue: Int(c.int("to", default: 1))) ?? .undefined
            return [TensorType(to, c.shape(0))]
        }
        r["CastLike"] = { c in [TensorType(c.dtype(1) ?? .undefined, c.shape(0))] }
        r["Dropout"] = { c in
            [c.type(0), c.shape(0).map { TensorType(.bool, $0) }]
        }
        // Activation functions some exporters place in Microsoft's domain.
        for op in ["Gelu", "FastGelu", "QuickGelu", "BiasGelu"] { r["com.microsoft:\(op)"] = { c in unary(c) } }
        return r
    }()

    static func unary(_ c: ShapeContext) -> [TensorType?] {
        // EyeLike and RandomLike ops may change the dtype by attribute.
        if let dt = c.node.int("dtype"), ["EyeLike", "RandomNormalLike", "RandomUniformLike"].contains(c.node.opType) {
            return [TensorType(DType(rawValue: Int(dt)) ?? .undefined, c.shape(0))]
        }
        return [c.type(0)]
    }
}
