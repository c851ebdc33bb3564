import EdgeIR
import Foundation

/// Arithmetic and elementwise math: Add Sub Mul Div Pow Mod, Min Max Sum Mean, and the unary
/// functions (Sqrt Exp Log Abs Neg Reciprocal Floor Ceil Round Erf Tanh Sign, trigonometry,
/// IsNaN IsInf). Inputs broadcast NumPy-style. float16/bfloat16 compute in float32 and round the
/// result; integers wrap on overflow (two's complement) and integer division by zero yields 0
/// (ONNX leaves it undefined; the engine must not trap). NaN and Inf propagate per IEEE 754.
enum ElementwiseOperators {
    static let operators: [OperatorSpec] = [
        binary("Add", .add), binary("Sub", .sub), binary("Mul", .mul), binary("Div", .div),
        OperatorSpec("Pow") { _ in ClosureKernel { i, c in [try pow(i.required(0, c), i.required(1, c), c)] } },
        OperatorSpec("Mod") { b in
            let fmod = b.int("fmod", 0) != 0
            return ClosureKernel { i, c in [try arithmetic(fmod ? .fmod : .mod, i.required(0, c), i.required(1, c), c)] }
        },
        variadic("Max", .max), variadic("Min", .min), variadic("Sum", .add), variadic("Mean", .add, mean: true),

        unary("Sqrt", { $0.squareRoot() }, { $0.squareRoot() }),
        unary("Exp", { Foundation.exp($0) }, { Foundation.exp($0) }),
        unary("Log", { Foundation.log($0) }, { Foundation.log($0) }),
        unary("Reciprocal", { 1 / $0 }, { 1 / $0 }),
        unary("Floor", { $0.rounded(.down) }, { $0.rounded(.down) }),
        unary("Ceil", { $0.rounded(.up) }, { $0.rounded(.up) }),
        unary("Round", { $0.rounded(.toNearestOrEven) }, { $0.rounded(.toNearestOrEven) }),
        unary("Erf", { Foundation.erf($0) }, { Foundation.erf($0) }),
        unary("Tanh", { Foundation.tanh($0) }, { Foundation.tanh($0) }),
        unary("Sin", { Foundation.sin($0) }, { Foundation.sin($0) }),
        unary("Cos", { Foundation.cos($0) }, { Foundation.cos($0) }),
        unary("Tan", { Foundation.tan($0) }, { Foundation.tan($0) }),
        unary("Asin", { Foundation.asin($0) }, { Foundation.asin($0) }),
        unary("Acos", { Foundation.acos($0) }, { Foundation.acos($0) }),
        unary("Atan", { Foundation.atan($0) }, { Foundation.atan($0) }),
        unary("Sinh", { Foundation.sinh($0) }, { Foundation.sinh($0) }),
        unary("Cosh", { Foundation.cosh($0) }, { Foundation.cosh($0) }),
        unary("Asinh", { Foundation.asinh($0) }, { Foundation.asinh($0) }),
        unary("Acosh", { Foundation.acosh($0) }, { Foundation.acosh($0) }),
        unary("Atanh", { Foundation.atanh($0) }, { Foundation.atanh($0) }),
        signed("Abs", float: { Swift.abs($0) }, double: { Swift.abs($0) }, integer: .abs),
        signed("Neg", float: { -$0 }, double: { -$0 }, integer: .neg),
        signed("Sign", float: { $0 > 0 ? 1 : ($0 < 0 ? -1 : ($0.isNaN ? $0 : 0)) },
               double: { $0 > 0 ? 1 : ($0 < 0 ? -1 : ($0.isNaN ? $0 : 0)) }, integer: .sign),
        OperatorSpec("IsNaN") { _ in ClosureKernel { i, c in [try predicate(i.required(0, c), c) { $0.isNaN }] } },
        OperatorSpec("IsInf") { b in
            let positive = b.int("detect_positive", 1) != 0, negative = b.int("detect_negative", 1) != 0
            return ClosureKernel { i, c in
                [try predicate(i.required(0, c), c) { $0.isInfinite && (($0 > 0 && positive) || ($0 < 0 && negative)) }]
            }
        },
    ]

    enum Op: Sendable { case add, sub, mul, div, mod, fmod, max, min }
    enum IntegerUnary: Sendable { case abs, neg, sign }

    static func binary(_ name: String, _ op: Op) -> OperatorSpec {
        OperatorSpec(name) { _ in ClosureKernel { i, c in [try arithmetic(op, i.required(0, c), i.required(1, c), c)] } }
    }

    static func variadic(_ name: String, _ op: Op, mean: Bool = false) -> OperatorSpec {
        OperatorSpec(name) { _ in
            ClosureKernel { inputs, c in
                let present = inputs.compactMap { $0 }
                guard var acc = present.first else { throw EdgeError.badInput("\(c.nodeDescription): needs at least one input") }
                if present.count == 1 { acc = try copy(acc, c) }
                for next in present.dropFirst() { acc = try arithmetic(op, acc, next, c) }
                if mean {
                    let n = Tensor.scalar(Float(present.count))
                    acc = try arithmetic(.div, acc, try CastOperators.cast(n, to: acc.dtype, c), c)
                }
                return [acc]
            }
        }
    }

    static func copy(_ t: Tensor, _ c: ExecutionContext) throws -> Tensor {
        if t.dtype == .string { return t }
        let out = try c.allocate(t.dtype, t.shape)
        out.mutableRawPointer.copyMemory(from: t.rawPointer, byteCount: min(out.byteCount, t.byteCount))
        return out
    }

    /// Elementwise binary arithmetic with broadcasting.
    static func arithmetic(_ op: Op, _ a: Tensor, _ b: Tensor, _ c: ExecutionContext) throws -> Tensor {
        guard a.dtype == b.dtype else {
            throw EdgeError.badInput("\(c.nodeDescription): input types differ (\(a.dtype) and \(b.dtype))")
        }
        let plan = try BroadcastPlan([a.shape, b.shape], what: c.nodeDescription)
        let out = try c.allocate(a.dtype, plan.outputShape)
        switch a.dtype {
        case .float:
            let pa = a.pointer(Float.self), pb = b.pointer(Float.self), po = out.mutablePointer(Float.self)
            if FloatArithmetic.run(op, pa, pb, po, plan: plan, c) { break }
            switch op {
            case .add: Elementwise.binary(pa, pb, po, plan: plan, +)
            case .sub: Elementwise.binary(pa, pb, po, plan: plan, -)
            case .mul: Elementwise.binary(pa, pb, po, plan: plan, *)
            case .div: Elementwise.binary(pa, pb, po, plan: plan, /)
            default: Elementwise.binary(pa, pb, po, plan: plan, floatOp(op))
            }
        case .double:
            Elementwise.binary(a.pointer(Double.self), b.pointer(Double.self), out.mutablePointer(Double.self), plan: plan, doubleOp(op))
        case .float16:
            let f = floatOp(op)
            Elementwise.binary(a.pointer(Float16.self), b.pointer(Float16.self), out.mutablePointer(Float16.self), plan: plan) {
                Float16(f(Float($0), Float($1)))
            }
        case .bfloat16:
            let f = floatOp(op)
            Elementwise.binary(a.pointer(BFloat16.self), b.pointer(BFloat16.self), out.mutablePointer(BFloat16.self), plan: plan) {
                BFloat16(f($0.float, $1.float))
            }
        default:
            try DTypeDispatch.integer(a.dtype, IntegerBinary(a: a, b: b, out: out, plan: plan, op: op), c.nodeDescription)
        }
        return out
    }

    struct IntegerBinary: IntegerVisitor {
        let a: Tensor, b: Tensor, out: Tensor, plan: BroadcastPlan, op: Op
        func visit<T: IntegerScalar>(_: T.Type) throws {
            let pa = a.pointer(T.self), pb = b.pointer(T.self), po = out.mutablePointer(T.self)
            switch op {
            case .add: Elementwise.binary(pa, pb, po, plan: plan, &+)
            case .sub: Elementwise.binary(pa, pb, po, plan: plan, &-)
            case .mul: Elementwise.binary(pa, pb, po, plan: plan, &*)
            case .div:
                Elementwise.binary(pa, pb, po, plan: plan) { x, y in y == 0 ? 0 : x.dividedReportingOverflow(by: y).partialValue }
            case .fmod:
                Elementwise.binary(pa, pb, po, plan: plan) { x, y in y == 0 ? 0 : x.remainderReportingOverflow(dividingBy: y).partialValue }
            case .mod:
                // Python semantics: the remainder takes the divisor's sign.
                Elementwise.binary(pa, pb, po, plan: plan) { x, y in
                    guard y != 0 else { return 0 }
                    let r = x.remainderReportingOverflow(dividingBy: y).partialValue
                    return (r != 0 && ((r < 0) != (y < 0))) ? r &+ y : r
                }
            case .max: Elementwise.binary(pa, pb, po, plan: plan) { Swift.max($0, $1) }
            case .min: Elementwise.binary(pa, pb, po, plan: plan) { Swift.min($0, $1) }
            }
        }
    }

    static func floatOp(_ op: Op) -> @Sendable (Float, Float) -> Float {
        switch op {
        case .add: return { $0 + $1 }
        case .sub: return { $0 - $1 }
        case .mul: return { $0 * $1 }
        case .div: return { $0 / $1 }
        case .fmod: return { Foundation.fmod($0, $1) }
        case .mod: return { x, y in
            let r = Foundation.fmod(x, y)
            return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r
        }
        case .max: return { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case .min: return { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        }
    }

    static func doubleOp(_ op: Op) -> @Sendable (Double, Double) -> Double {
        switch op {
        case .add: return { $0 + $1 }
        case .sub: return { $0 - $1 }
        case .mul: return { $0 * $1 }
        case .div: return { $0 / $1 }
        case .fmod: return { Foundation.fmod($0, $1) }
        case .mod: return { x, y in
            let r = Foundation.fmod(x, y)
            return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r
        }
        case .max: return { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case .min: return { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        }
    }

    /// Pow(X, Y): Y may have a different numeric type; the result has X's type. Integer bases
    /// compute in double and convert back.
    static func pow(_ x: Tensor, _ y: Tensor, _ c: ExecutionContext) throws -> Tensor {
        let plan = try BroadcastPlan([x.shape, y.shape], what: c.nodeDescription)
        let out = try c.allocate(x.dtype, plan.outputShape)
        let exponent = y.dtype == .double || y.dtype.isInteger ? y.doubleValues() : y.floatArray().map(Double.init)
        try exponent.withUnsafeBufferPointer { pe in
            let e = pe.baseAddress!
            switch x.dtype {
            case .float:
                if y.dtype == .float {
                    Elementwise.binary(x.pointer(Float.self), y.pointer(Float.self), out.mutablePointer(Float.self), plan: plan) { Foundation.pow($0, $1) }
                } else {
                    Elementwise.binary(x.pointer(Float.self), e, out.mutablePointer(Float.self), plan: plan) { Float(Foundation.pow(Double($0), $1)) }
                }
            case .double:
                Elementwise.binary(x.pointer(Double.self), e, out.mutablePointer(Double.self), plan: plan) { Foundation.pow($0, $1) }
            case .float16:
                Elementwise.binary(x.pointer(Float16.self), e, out.mutablePointer(Float16.self), plan: plan) { Float16(Foundation.pow(Float($0), Float($1))) }
            case .bfloat16:
                Elementwise.binary(x.pointer(BFloat16.self), e, out.mutablePointer(BFloat16.self), plan: plan) { BFloat16(Foundation.pow($0.float, Float($1))) }
            default:
                let base = x.doubleValues()
                let values = base.withUnsafeBufferPointer { pb -> [Double] in
                    var r = [Double](repeating: 0, count: plan.outputCount)
                    r.withUnsafeMutableBufferPointer { pr in
                        Elementwise.binary(pb.baseAddress!, e, pr.baseAddress!, plan: plan) { Foundation.pow($0, $1) }
                    }
                    return r
                }
                try CastOperators.storeDoubles(values, into: out, c)
            }
        }
        return out
    }

    /// Unary function of a float tensor (float, float16, bfloat16 through Float; double native).
    static func unary(_ name: String, versions: ClosedRange<Int> = 1...OperatorRegistry.latestOpset,
                      _ f: @escaping @Sendable (Float) -> Float, _ d: @escaping @Sendable (Double) -> Double) -> OperatorSpec {
        OperatorSpec(name, versions: versions) { _ in ClosureKernel { i, c in [try map(i.required(0, c), c, f, d)] } }
    }

    static func map(_ x: Tensor, _ c: ExecutionContext, _ f: (Float) -> Float, _ d: (Double) -> Double) throws -> Tensor {
        let out = try c.allocate(x.dtype, x.shape)
        let n = x.elementCount
        switch x.dtype {
        case .float:
            let p = x.pointer(Float.self), o = out.mutablePointer(Float.self)
            c.parallelFor(n, grain: 1 << 15) { r in for i in r { o[i] = f(p[i]) } }
        case .float16:
            let p = x.pointer(Float16.self), o = out.mutablePointer(Float16.self)
            for i in 0..<n { o[i] = Float16(f(Float(p[i]))) }
        case .bfloat16:
            let p = x.pointer(BFloat16.self), o = out.mutablePointer(BFloat16.self)
            for i in 0..<n { o[i] = BFloat16(f(p[i].float)) }
        case .double:
            let p = x.pointer(Double.self), o = out.mutablePointer(Double.self)
            for i in 0..<n { o[i] = d(p[i]) }
        default:
            throw EdgeError.badInput("\(c.nodeDescription): element type \(x.dtype) is not supported (float types only)")
        }
        return out
    }

    static func signed(_ name: String, float: @escaping @Sendable (Float) -> Float, double: @escaping @Sendable (Double) -> Double,
                       integer: IntegerUnary) -> OperatorSpec {
        OperatorSpec(name) { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                if x.dtype.isFloatingPoint { return [try map(x, c, float, double)] }
                let out = try c.allocate(x.dtype, x.shape)
                try DTypeDispatch.integer(x.dtype, IntegerMap(x: x, out: out, op: integer), c.nodeDescription)
                return [out]
            }
        }
    }

    struct IntegerMap: IntegerVisitor {
        let x: Tensor, out: Tensor, op: IntegerUnary
        func visit<T: IntegerScalar>(_: T.Type) throws {
            let p = x.pointer(T.self), o = out.mutablePointer(T.self)
            for i in 0..<x.elementCount {
                let v = p[i]
                switch op {
                case .abs: o[i] = v < 0 ? 0 &- v : v
                case .neg: o[i] = 0 &- v
                case .sign: o[i] = v > 0 ? 1 : (v < 0 ? 0 &- 1 : 0)
                }
            }
        }
    }

    /// A bool tensor from a per-element test of a float tensor.
    static func predicate(_ x: Tensor, _ c: ExecutionContext, _ test: (Double) -> Bool) throws -> Tensor {
        guard x.dtype.isFloatingPoint else {
            throw EdgeError.badInput("\(c.nodeDescription): element type \(x.dtype) is not a floating-point type")
        }
        let out = try c.allocate(.bool, x.shape)
        let o = out.mutablePointer(UInt8.self)
        for (i, v) in x.doubleValues().enumerated() { o[i] = test(v) ? 1 : 0 }
        return out
    }
}

/// Vectorized float32 Add/Sub/Mul/Div: each contiguous run of the broadcast plan is an
/// array⊕array, array⊕scalar or scalar⊕array loop over SIMD16 vectors. The generic
/// `Elementwise.binary` calls its operator closure per element, which the optimizer does not
/// inline across the generic run loop (ResNet-50's residual Sums took 14 ms of 100).
/// Same-shape inputs (one run) are split across the session's threads.
enum FloatArithmetic {
    static func run(_ op: ElementwiseOperators.Op, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    _ out: UnsafeMutablePointer<Float>, plan: BroadcastPlan, _ c: ExecutionContext) -> Bool {
        switch op {
        case .add, .sub, .mul, .div: break
        default: return false
        }
        if plan.dims.count == 1 && plan.strides[0][0] == 1 && plan.strides[1][0] == 1 {
            c.parallelFor(plan.outputCount, grain: 1 << 13) { r in
                runPair(op, a + r.lowerBound, b + r.lowerBound, out + r.lowerBound, r.count, 1, 1)
            }
            return true
        }
        plan.forEachRun { o, offsets, count, inner in
            runPair(op, a + offsets[0], b + offsets[1], out + o, count, inner[0], inner[1])
        }
        return true
    }

    /// out[j] = a[j·sa] ⊕ b[j·sb] for j < n, with sa, sb ∈ {0, 1}.
    @inline(__always)
    static func runPair(_ op: ElementwiseOperators.Op, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                        _ out: UnsafeMutablePointer<Float>, _ n: Int, _ sa: Int, _ sb: Int) {
        switch op {
        case .add: loop(a, b, out, n, sa, sb) { $0 + $1 } _: { $0 + $1 }
        case .sub: loop(a, b, out, n, sa, sb) { $0 - $1 } _: { $0 - $1 }
        case .mul: loop(a, b, out, n, sa, sb) { $0 * $1 } _: { $0 * $1 }
        default: loop(a, b, out, n, sa, sb) { $0 / $1 } _: { $0 / $1 }
        }
    }

    @inline(__always)
    static func loop(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                     _ n: Int, _ sa: Int, _ sb: Int,
                     _ v: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, _ f: (Float, Float) -> Float) {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
        @inline(__always) func store(_ x: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD16<Float>.self) }
        var j = 0
        if sa == 1 && sb == 1 {
            while j &+ 16 <= n { store(v(load(a + j), load(b + j)), out + j); j &+= 16 }
            while j < n { out[j] = f(a[j], b[j]); j &+= 1 }
        } else if sa == 1 {
            let s = b[0], vs = SIMD16<Float>(repeating: s)
            while j &+ 16 <= n { store(v(load(a + j), vs), out + j); j &+= 16 }
            while j < n { out[j] = f(a[j], s); j &+= 1 }
        } else if sb == 1 {
            let s = a[0], vs = SIMD16<Float>(repeating: s)
            while j &+ 16 <= n { store(v(vs, load(b + j)), out + j); j &+= 16 }
            while j < n { out[j] = f(s, b[j]); j &+= 1 }
        } else {
            let x = f(a[0], b[0])
            while j < n { out[j] = x; j &+= 1 }
        }
    }
}
