import EdgeIR

/// Comparison, logic and selection: Equal Less Greater LessOrEqual GreaterOrEqual (numeric, bool,
/// and string for Equal), Not And Or Xor, BitwiseAnd/Or/Xor/Not, BitShift, Where. Comparisons
/// with NaN are false (Equal(NaN, NaN) = false), as IEEE 754 says.
enum LogicalOperators {
    static let operators: [OperatorSpec] = [
        compare("Equal", .eq), compare("Less", .lt), compare("Greater", .gt),
        compare("LessOrEqual", .le), compare("GreaterOrEqual", .ge),
        logic("And", &), logic("Or", |), logic("Xor", ^),
        OperatorSpec("Not") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                guard x.dtype == .bool else { throw EdgeError.badInput("\(c.nodeDescription): input must be bool") }
                let out = try c.allocate(.bool, x.shape)
                let p = x.pointer(UInt8.self), o = out.mutablePointer(UInt8.self)
                for k in 0..<x.elementCount { o[k] = p[k] == 0 ? 1 : 0 }
                return [out]
            }
        },
        bitwise("BitwiseAnd", .and), bitwise("BitwiseOr", .or), bitwise("BitwiseXor", .xor),
        OperatorSpec("BitwiseNot") { _ in
            ClosureKernel { i, c in
                let x = try i.required(0, c)
                let out = try c.allocate(x.dtype, x.shape)
                guard x.dtype.isInteger, x.dtype.bitWidth >= 8 else { throw EdgeError.badInput("\(c.nodeDescription): integer input required") }
                let p = x.pointer(UInt8.self), o = out.mutablePointer(UInt8.self)
                for k in 0..<x.byteCount { o[k] = ~p[k] }
                return [out]
            }
        },
        OperatorSpec("BitShift") { b in
            let left = b.string("direction", "") == "LEFT"
            return ClosureKernel { i, c in
                [try bitwiseBinary(i.required(0, c), i.required(1, c), left ? .shiftLeft : .shiftRight, c)]
            }
        },
        OperatorSpec("Where") { _ in
            ClosureKernel { i, c in
                let cond = try i.required(0, c), x = try i.required(1, c), y = try i.required(2, c)
                guard cond.dtype == .bool, x.dtype == y.dtype else {
                    throw EdgeError.badInput("\(c.nodeDescription): condition must be bool and X, Y of one type")
                }
                return [try select(cond, x, y, c)]
            }
        },
    ]

    enum Comparison: Sendable { case eq, lt, gt, le, ge }
    enum BitOp: Sendable { case and, or, xor, shiftLeft, shiftRight }

    static func compare(_ name: String, _ op: Comparison) -> OperatorSpec {
        OperatorSpec(name) { _ in ClosureKernel { i, c in [try compareTensors(i.required(0, c), i.required(1, c), op, c)] } }
    }

    static func compareTensors(_ a: Tensor, _ b: Tensor, _ op: Comparison, _ c: ExecutionContext) throws -> Tensor {
        guard a.dtype == b.dtype else {
            throw EdgeError.badInput("\(c.nodeDescription): input types differ (\(a.dtype) and \(b.dtype))")
        }
        let plan = try BroadcastPlan([a.shape, b.shape], what: c.nodeDescription)
        let out = try c.allocate(.bool, plan.outputShape)
        let o = out.mutablePointer(UInt8.self)
        if a.dtype == .string {
            guard op == .eq else { throw EdgeError.badInput("\(c.nodeDescription): strings only support Equal") }
            let sa = a.strings, sb = b.strings
            plan.forEachRun { outOffset, offsets, count, inner in
                for j in 0..<count {
                    o[outOffset + j] = sa[offsets[0] + j * inner[0]] == sb[offsets[1] + j * inner[1]] ? 1 : 0
                }
            }
            return out
        }
        if a.dtype == .bool {
            Elementwise.binary(a.pointer(UInt8.self), b.pointer(UInt8.self), o, plan: plan) { apply(op, $0, $1) ? 1 : 0 }
            return out
        }
        try DTypeDispatch.numeric(a.dtype, Compare(a: a, b: b, o: o, plan: plan, op: op), c.nodeDescription)
        return out
    }

    struct Compare: NumericVisitor {
        let a: Tensor, b: Tensor, o: UnsafeMutablePointer<UInt8>, plan: BroadcastPlan, op: Comparison
        func visit<T: NumericScalar>(_: T.Type) throws {
            let op = self.op
            Elementwise.binary(a.pointer(T.self), b.pointer(T.self), o, plan: plan) { apply(op, $0, $1) ? 1 : 0 }
        }
    }

    @inline(__always)
    static func apply<T: Comparable>(_ op: Comparison, _ x: T, _ y: T) -> Bool {
        switch op {
        case .eq: return x == y
        case .lt: return x < y
        case .gt: return x > y
        case .le: return x <= y
        case .ge: return x >= y
        }
    }

    static func logic(_ name: String, _ f: @escaping @Sendable (UInt8, UInt8) -> UInt8) -> OperatorSpec {
        OperatorSpec(name) { _ in
            ClosureKernel { i, c in
                let a = try i.required(0, c), b = try i.required(1, c)
                guard a.dtype == .bool, b.dtype == .bool else { throw EdgeError.badInput("\(c.nodeDescription): inputs must be bool") }
                let plan = try BroadcastPlan([a.shape, b.shape], what: c.nodeDescription)
                let out = try c.allocate(.bool, plan.outputShape)
                Elementwise.binary(a.pointer(UInt8.self), b.pointer(UInt8.self), out.mutablePointer(UInt8.self), plan: plan) {
                    f($0 != 0 ? 1 : 0, $1 != 0 ? 1 : 0)
                }
                return [out]
            }
        }
    }

    static func bitwise(_ name: String, _ op: BitOp) -> OperatorSpec {
        OperatorSpec(name) { _ in ClosureKernel { i, c in [try bitwiseBinary(i.required(0, c), i.required(1, c), op, c)] } }
    }

    static func bitwiseBinary(_ a: Tensor, _ b: Tensor, _ op: BitOp, _ c: ExecutionContext) throws -> Tensor {
        guard a.dtype == b.dtype else { throw EdgeError.badInput("\(c.nodeDescription): input types differ") }
        let plan = try BroadcastPlan([a.shape, b.shape], what: c.nodeDescription)
        let out = try c.allocate(a.dtype, plan.outputShape)
        struct Bits: IntegerVisitor {
            let a: Tensor, b: Tensor, out: Tensor, plan: BroadcastPlan, op: BitOp
            func visit<T: IntegerScalar>(_: T.Type) throws {
                let pa = a.pointer(T.self), pb = b.pointer(T.self), po = out.mutablePointer(T.self)
                switch op {
                case .and: Elementwise.binary(pa, pb, po, plan: plan, &)
                case .or: Elementwise.binary(pa, pb, po, plan: plan, |)
                case .xor: Elementwise.binary(pa, pb, po, plan: plan, ^)
                // A shift count that is negative or at least the width shifts every bit out:
                // 0 to the left, the sign fill (0 or −1) to the right.
                case .shiftLeft: Elementwise.binary(pa, pb, po, plan: plan) { $1 < 0 || $1 >= T.bitWidth ? 0 : $0 &<< $1 }
                case .shiftRight: Elementwise.binary(pa, pb, po, plan: plan) { x, n in n < 0 || n >= T.bitWidth ? (x < 0 ? 0 &- 1 : 0) : x &>> n }
                }
            }
        }
        try DTypeDispatch.integer(a.dtype, Bits(a: a, b: b, out: out, plan: plan, op: op), c.nodeDescription)
        return out
    }

    /// Where(cond, x, y) for any element type (bytes moved by element size).
    static func select(_ cond: Tensor, _ x: Tensor, _ y: Tensor, _ c: ExecutionContext) throws -> Tensor {
        let plan = try BroadcastPlan([cond.shape, x.shape, y.shape], what: c.nodeDescription)
        if x.dtype == .string {
            var result = [[UInt8]](repeating: [], count: plan.outputCount)
            let pc = cond.pointer(UInt8.self), sx = x.strings, sy = y.strings
            plan.forEachRun { o, offsets, count, inner in
                for j in 0..<count {
                    result[o + j] = pc[offsets[0] + j * inner[0]] != 0 ? sx[offsets[1] + j * inner[1]] : sy[offsets[2] + j * inner[2]]
                }
            }
            return Tensor(strings: result, shape: plan.outputShape)
        }
        let out = try c.allocate(x.dtype, plan.outputShape)
        let pc = cond.pointer(UInt8.self)
        func run<T>(_: T.Type) {
            Elementwise.ternary(pc, x.pointer(T.self), y.pointer(T.self), out.mutablePointer(T.self), plan: plan) { $0 != 0 ? $1 : $2 }
        }
        switch x.dtype.bitWidth {
        case 8: run(UInt8.self)
        case 16: run(UInt16.self)
        case 32: run(UInt32.self)
        case 64: run(UInt64.self)
        default: throw EdgeError.badInput("\(c.nodeDescription): element type \(x.dtype) is not supported")
        }
        return out
    }
}
