import EdgeIR
import Foundation

/// Activation functions: Relu LeakyRelu PRelu Elu Selu Celu Sigmoid HardSigmoid HardSwish Softplus
/// Softsign ThresholdedRelu Gelu Mish Shrink Clip. Float types compute in float32 (double
/// natively); Relu and Clip also take integers. Written so that NaN propagates (x < 0 ? … : x).
enum ActivationOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Relu") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                if x.dtype.isInteger { return [try clip(x, min: 0, max: nil, c)] }
                if x.dtype == .float {
                    // Direct loop (no per-element closure call) so it vectorizes; NaN passes through.
                    let out = try c.allocate(.float, x.shape)
                    let p = x.pointer(Float.self), o = out.mutablePointer(Float.self)
                    c.parallelFor(x.elementCount, grain: 1 << 13) { r in for k in r { let v = p[k]; o[k] = v < 0 ? 0 : v } }
                    return [out]
                }
                return [try ElementwiseOperators.map(x, c, { $0 < 0 ? 0 : $0 }, { $0 < 0 ? 0 : $0 })]
            }
        },
        floatActivation("LeakyRelu") { b in
            let alpha = b.float("alpha", 0.01)
            return ({ $0 < 0 ? alpha * $0 : $0 }, { $0 < 0 ? Double(alpha) * $0 : $0 })
        },
        floatActivation("Elu") { b in
            let alpha = Double(b.float("alpha", 1))
            return ({ $0 < 0 ? Float(alpha) * (Foundation.exp($0) - 1) : $0 }, { $0 < 0 ? alpha * (Foundation.exp($0) - 1) : $0 })
        },
        floatActivation("Celu") { b in
            let alpha = b.float("alpha", 1)
            let f: @Sendable (Float) -> Float = { Swift.max(0, $0) + Swift.min(0, alpha * (Foundation.exp($0 / alpha) - 1)) }
            return (f, { Double(f(Float($0))) })
        },
        floatActivation("Selu") { b in
            let alpha = Double(b.float("alpha", 1.67326319217681884765625))
            let gamma = Double(b.float("gamma", 1.05070102214813232421875))
            return ({ Float($0 <= 0 ? gamma * (alpha * Foundation.exp(Double($0)) - alpha) : gamma * Double($0)) },
                    { $0 <= 0 ? gamma * (alpha * Foundation.exp($0) - alpha) : gamma * $0 })
        },
        floatActivation("Sigmoid") { _ in
            // 1/(1+e^-x) for x ≥ 0, e^x/(1+e^x) below: no overflow on either side.
            ({ $0 >= 0 ? 1 / (1 + Foundation.exp(-$0)) : Foundation.exp($0) / (1 + Foundation.exp($0)) },
             { $0 >= 0 ? 1 / (1 + Foundation.exp(-$0)) : Foundation.exp($0) / (1 + Foundation.exp($0)) })
        },
        floatActivation("HardSigmoid") { b in
            let alpha = b.float("alpha", 0.2), beta = b.float("beta", 0.5)
            return ({ Swift.max(0, Swift.min(1, alpha * $0 + beta)) },
                    { Swift.max(0, Swift.min(1, Double(alpha) * $0 + Double(beta))) })
        },
        floatActivation("HardSwish") { _ in
            ({ $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }, { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) })
        },
        floatActivation("Softplus") { _ in
            // log(1 + e^x) = max(x,0) + log1p(e^-|x|), stable for large |x|.
            ({ Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) },
             { Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) })
        },
        floatActivation("Softsign") { _ in ({ $0 / (1 + Swift.abs($0)) }, { $0 / (1 + Swift.abs($0)) }) },
        floatActivation("ThresholdedRelu") { b in
            let alpha = b.float("alpha", 1)
            return ({ $0 > alpha ? $0 : 0 }, { $0 > Double(alpha) ? $0 : 0 })
        },
        floatActivation("Gelu") { b in
            if b.string("approximate", "none") == "tanh" {
                let k = (2 / Double.pi).squareRoot()
                return ({ Float(0.5 * Double($0) * (1 + Foundation.tanh(k * (Double($0) + 0.044715 * Foundation.pow(Double($0), 3))))) },
                        { 0.5 * $0 * (1 + Foundation.tanh(k * ($0 + 0.044715 * Foundation.pow($0, 3)))) })
            }
            return ({ Float(0.5 * Double($0) * (1 + Foundation.erf(Double($0) / 2.0.squareRoot()))) },
                    { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) })
        },
        floatActivation("Mish") { _ in
            ({ Float(Double($0) * Foundation.tanh(Foundation.log1p(Foundation.exp(Double($0))))) },
             { $0 * Foundation.tanh(Foundation.log1p(Foundation.exp($0))) })
        },
        floatActivation("Shrink") { b in
            let bias = Double(b.float("bias", 0)), lambd = Double(b.float("lambd", 0.5))
            let f: @Sendable (Double) -> Double = { $0 < -lambd ? $0 + bias : ($0 > lambd ? $0 - bias : 0) }
            return ({ Float(f(Double($0))) }, f)
        },
        OperatorSpec("PRelu") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c), slope = try i.required(1, c)
                if x.dtype == .float && slope.dtype == .float {
                    let plan = try BroadcastPlan([x.shape, slope.shape], what: c.nodeDescription)
                    guard plan.outputShape == x.shape else {
                        throw EdgeError.badInput("\(c.nodeDescription): slope shape \(slope.shape) does not broadcast to \(x.shape)")
                    }
                    let out = try c.allocate(.float, x.shape)
                    Elementwise.binary(x.pointer(Float.self), slope.pointer(Float.self), out.mutablePointer(Float.self), plan: plan) {
                        $0 < 0 ? $0 * $1 : $0
                    }
                    return [out]
                }
                // Other types: max(0,x) + slope·min(0,x) through the generic arithmetic.
                let zero = try CastOperators.cast(Tensor.scalar(Float(0)), to: x.dtype, c)
                let positive = try ElementwiseOperators.arithmetic(.max, x, zero, c)
                let negative = try ElementwiseOperators.arithmetic(.min, x, zero, c)
                return [try ElementwiseOperators.arithmetic(.add, positive, try ElementwiseOperators.arithmetic(.mul, negative, slope, c), c)]
            }
        },
        OperatorSpec("Clip") { b in
            // Before opset 11 the bounds are attributes; from 11 on they are optional inputs.
            let minAttr = b.node.float("min"), maxAttr = b.node.float("max")
            let legacy = b.opset < 11
            return ClosureKernel { i, c in
                let x = try i.required(0, c)
                var low: Double? = nil, high: Double? = nil
                if legacy {
                    low = Double(minAttr ?? -Float.greatestFiniteMagnitude)
                    high = Double(maxAttr ?? Float.greatestFiniteMagnitude)
                } else {
                    if let m = i.optional(1) { low = m.doubleValues().first }
                    if let m = i.optional(2) { high = m.doubleValues().first }
                }
                return [try clip(x, min: low, max: high, c)]
            }
        },
    ]

    static func floatActivation(
        _ name: String,
        _ make: @escaping @Sendable (KernelBuildContext) throws -> (@Sendable (Float) -> Float, @Sendable (Double) -> Double)
    ) -> OperatorSpec {
        OperatorSpec(name) { b in
            let (f, d) = try make(b)
            return ClosureKernel { i, c in [try ElementwiseOperators.map(i.required(0, c), c, f, d)] }
        }
    }

    /// min(max(x, low), high), NaN passing through, any numeric type.
    static func clip(_ x: Tensor, min low: Double?, max high: Double?, _ c: ExecutionContext) throws -> Tensor {
        struct Clip: NumericVisitor {
            let x: Tensor, out: Tensor, low: Double?, high: Double?
            func visit<T: NumericScalar>(_: T.Type) throws {
                let p = x.pointer(T.self), o = out.mutablePointer(T.self)
                let lo = low.map { T(fromDouble: $0) }, hi = high.map { T(fromDouble: $0) }
                for i in 0..<x.elementCount {
                    var v = p[i]
                    if let lo, v < lo { v = lo }
                    if let hi, v > hi { v = hi }
                    o[i] = v
                }
            }
        }
        let out = try c.allocate(x.dtype, x.shape)
        try DTypeDispatch.numeric(x.dtype, Clip(x: x, out: out, low: low, high: high), c.nodeDescription)
        return out
    }
}
