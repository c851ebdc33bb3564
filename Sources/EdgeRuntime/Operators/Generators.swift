import EdgeIR

/// Value sources: Constant ConstantOfShape Range EyeLike.
enum GeneratorOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Constant") { b in
            guard let value = b.node.constantValue else { throw b.error("no value attribute") }
            return ClosureKernel { _, _ in [value] }
        },
        OperatorSpec("ConstantOfShape") { b in
            let value = b.node.tensor("value") ?? Tensor(shape: [1], scalars: [Float(0)])
            return ClosureKernel { i, c in
                let shape = try ShapeOperators.intValues(i.required(0, c), c, "shape")
                guard value.elementCount == 1, value.dtype != .string else {
                    throw EdgeError.badInput("\(c.nodeDescription): value must hold one element")
                }
                let out = try c.allocate(value.dtype, shape)
                let size = value.dtype.elementSize
                let p = out.mutableRawPointer
                for k in 0..<out.elementCount { (p + k * size).copyMemory(from: value.rawPointer, byteCount: size) }
                return [out]
            }
        },
        OperatorSpec("Range") { _ in
            ClosureKernel { i, c in
                let start = try i.required(0, c), limit = try i.required(1, c), delta = try i.required(2, c)
                guard let s = start.doubleValues().first, let l = limit.doubleValues().first, let d = delta.doubleValues().first, d != 0 else {
                    throw EdgeError.badInput("\(c.nodeDescription): start, limit and delta must be scalars, delta non-zero")
                }
                let count = Swift.max(Int(((l - s) / d).rounded(.up)), 0)
                guard count <= ExecutionContext.maxElements else { throw EdgeError.badInput("\(c.nodeDescription): range too long") }
                if start.dtype.isInteger, let si = start.int64Values()?.first, let di = delta.int64Values()?.first {
                    let ints = (0..<count).map { si + Int64($0) * di }
                    return [try CastOperators.storeIntegers(ints, as: start.dtype, shape: [count], c)]
                }
                // Floats: start + k·delta computed in the element type, as the reference does.
                let out = try c.allocate(start.dtype, [count])
                if start.dtype == .float {
                    let p = out.mutablePointer(Float.self)
                    for k in 0..<count { p[k] = Float(s) + Float(k) * Float(d) }
                } else {
                    try CastOperators.storeDoubles((0..<count).map { s + Double($0) * d }, into: out, c)
                }
                return [out]
            }
        },
        OperatorSpec("EyeLike") { b in
            let k = b.int("k", 0)
            let dtypeAttr = b.int("dtype").flatMap { DType(rawValue: Int($0)) }
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                guard x.rank == 2 else { throw EdgeError.badInput("\(c.nodeDescription): input must be 2-D") }
                let dtype = dtypeAttr ?? x.dtype
                var values = [Double](repeating: 0, count: x.elementCount)
                for r in 0..<x.shape[0] where r + k >= 0 && r + k < x.shape[1] { values[r * x.shape[1] + r + k] = 1 }
                if dtype == .bool { return [try CastOperators.storeIntegers(values.map { Int64($0) }, as: .bool, shape: x.shape, c)] }
                let out = try c.allocate(dtype, x.shape)
                try CastOperators.storeDoubles(values, into: out, c)
                return [out]
            }
        },
    ]
}
