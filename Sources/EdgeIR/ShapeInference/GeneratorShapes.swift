/// Operators that create tensors: Constant, ConstantOfShape, Range, RandomNormal/RandomUniform.
enum GeneratorShapes {
    static let rules: [String: ShapeRule] = [
        "Constant": { c in
            guard let t = c.node.constantValue else { throw c.error("Constant has no value attribute") }
            return [TensorType(t.dtype, fixed: t.shape)]
        },
        "ConstantOfShape": { c in
            let dtype = c.node.tensor("value")?.dtype ?? .float
            if let s = c.shapeValue(0) {
                if s.contains(where: { ($0.value ?? 0) < 0 }) { throw c.error("shape has a negative dimension") }
                return [TensorType(dtype, s)]
            }
            if let n = c.shape(0)?.first?.value, n <= DimMath.maxRank { return [TensorType(dtype, Array(repeating: .unknown, count: n))] }
            return [TensorType(dtype, nil)]
        },
        // count = max(⌈(limit − start) / delta⌉, 0)
        "Range": { c in
            let dtype = c.dtype(0)
            guard let s = c.doubles(0)?.first, let l = c.doubles(1)?.first, let d = c.doubles(2)?.first else {
                return [c.tensor(dtype, [.unknown])]
            }
            guard d != 0 else { throw c.error("delta is 0") }
            let n = ((l - s) / d).rounded(.up)
            guard n.isFinite, n < 1e15 else { throw c.error("range of \(n) elements") }
            return [c.tensor(dtype, [.fixed(n <= 0 ? 0 : Int(n))])]
        },
        "RandomNormal": { c in [randomType(c)] },
        "RandomUniform": { c in [randomType(c)] },
    ]

    static func randomType(_ c: ShapeContext) -> TensorType? {
        let dtype = DType(rawValue: Int(c.int("dtype", default: 1))) ?? .float
        return TensorType(dtype, c.ints("shape")?.map { .fixed(Int($0)) })
    }
}
