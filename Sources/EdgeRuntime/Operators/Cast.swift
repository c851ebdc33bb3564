import EdgeIR
import Foundation

/// Cast and CastLike between every ONNX element type the engine stores: float32/64, float16,
/// bfloat16, the float8 and float4 formats, 8- to 64-bit integers, int4/uint4/int2/uint2, bool and
/// string. Float → integer truncates toward zero and wraps modulo 2^bits like a C cast (the
/// reference's NumPy `astype`); float → float8 rounds to nearest even and saturates per
/// `saturate`; float → float8e8m0 follows `round_mode`.
enum CastOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Cast") { b in
            guard let raw = b.int("to"), let to = DType(rawValue: raw), to != .undefined else {
                throw b.error("attribute 'to' is missing or not an element type")
            }
            let options = Options(saturate: b.int("saturate", 1) != 0, roundMode: b.string("round_mode", "up"))
            return ClosureKernel { i, c in [try cast(i.required(0, c), to: to, c, options)] }
        },
        OperatorSpec("CastLike") { b in
            let options = Options(saturate: b.int("saturate", 1) != 0, roundMode: b.string("round_mode", "up"))
            return ClosureKernel { i, c in [try cast(i.required(0, c), to: i.required(1, c).dtype, c, options)] }
        },
    ]

    struct Options: Sendable {
        var saturate = true
        var roundMode = "up"
    }

    static func cast(_ x: Tensor, to: DType, _ c: ExecutionContext, _ options: Options = Options()) throws -> Tensor {
        if x.dtype == to { return x }
        let n = x.elementCount
        // Exact fast paths used by real models.
        if x.dtype == .float, to == .float16 {
            let out = try c.allocate(to, x.shape)
            let p = x.pointer(Float.self), o = out.mutablePointer(Float16.self)
            for i in 0..<n { o[i] = Float16(p[i]) }
            return out
        }
        if x.dtype == .float16, to == .float {
            let out = try c.allocate(to, x.shape)
            let p = x.pointer(Float16.self), o = out.mutablePointer(Float.self)
            for i in 0..<n { o[i] = Float(p[i]) }
            return out
        }
        // Integers (and bool) go through Int64 so 64-bit values stay exact.
        if x.dtype.isInteger || x.dtype == .bool {
            guard let ints = x.dtype == .uint64 ? x.scalars(as: UInt64.self).map({ Int64(bitPattern: $0) }) : x.int64Values() else {
                throw EdgeError.badInput("\(c.nodeDescription): cannot read \(x.dtype)")
            }
            if to == .string { return Tensor(strings: ints.map { Array(String($0).utf8) }, shape: x.shape) }
            if to.isInteger || to == .bool { return try storeIntegers(ints, as: to, shape: x.shape, c) }
            let doubles = x.dtype == .uint64 ? ints.map { Double(UInt64(bitPattern: $0)) } : ints.map(Double.init)
            return try storeFloats(doubles, as: to, shape: x.shape, c, options)
        }
        let values = try readFloats(x, c)
        if to == .string {
            let strings: [[UInt8]] = values.map { v in
                switch x.dtype {
                case .double: return Array(formatDouble(v).utf8)
                default: return Array(formatFloat(Float(v)).utf8)
                }
            }
            return Tensor(strings: strings, shape: x.shape)
        }
        if to.isInteger || to == .bool {
            let ints = values.map { v -> Int64 in
                if to == .bool { return v != 0 ? 1 : 0 }
                guard v.isFinite else { return v.isNaN ? 0 : (v > 0 ? Int64.max : Int64.min) }
                let t = v.rounded(.towardZero)
                if t >= 9.2e18 { return to == .uint64 ? Int64(bitPattern: UInt64(Swift.min(t, 1.8e19))) : Int64.max }
                if t <= -9.2e18 { return Int64.min }
                return Int64(t)
            }
            return try storeIntegers(ints, as: to, shape: x.shape, c)
        }
        return try storeFloats(values, as: to, shape: x.shape, c, options)
    }

    /// Elements of any float (or string) tensor as Double.
    static func readFloats(_ x: Tensor, _ c: ExecutionContext) throws -> [Double] {
        let n = x.elementCount
        switch x.dtype {
        case .float, .double, .float16, .bfloat16: return x.doubleValues()
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            let format = miniFormat(x.dtype)!
            let p = x.pointer(UInt8.self)
            return (0..<n).map { Double(format.decode(p[$0])) }
        case .float8e8m0:
            let p = x.pointer(UInt8.self)
            return (0..<n).map { Double(E8M0.decode(p[$0])) }
        case .float4e2m1:
            let u = x.unpackedSubByte()
            let p = u.pointer(UInt8.self)
            return (0..<n).map { Double(MiniFloatFormat.e2m1.decode(p[$0])) }
        case .string:
            return try x.strings.map { bytes in
                let s = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                if let v = Double(s) { return v }
                switch s.lowercased() {
                case "inf", "+inf", "infinity", "+infinity": return .infinity
                case "-inf", "-infinity": return -.infinity
                case "nan", "+nan", "-nan": return .nan
                default: throw EdgeError.badInput("\(c.nodeDescription): cannot parse '\(s)' as a number")
                }
            }
        default:
            throw EdgeError.badInput("\(c.nodeDescription): cannot cast from \(x.dtype)")
        }
    }

    static func miniFormat(_ dtype: DType) -> MiniFloatFormat? {
        switch dtype {
        case .float8e4m3fn: return .e4m3fn
        case .float8e4m3fnuz: return .e4m3fnuz
        case .float8e5m2: return .e5m2
        case .float8e5m2fnuz: return .e5m2fnuz
        case .float4e2m1: return .e2m1
        default: return nil
        }
    }

    static func storeFloats(_ values: [Double], as to: DType, shape: [Int], _ c: ExecutionContext, _ options: Options = Options()) throws -> Tensor {
        let n = values.count
        if to == .float4e2m1 {
            let bytes = values.map { v -> UInt8 in v.isNaN ? 0x8 : MiniFloatFormat.e2m1.encode(Float(v), saturate: true) }
            return Tensor(shape: shape, scalars: bytes).packedSubByte(.float4e2m1)
        }
        let out = try c.allocate(to, shape)
        switch to {
        case .float:
            let o = out.mutablePointer(Float.self)
            for i in 0..<n { o[i] = Float(values[i]) }
        case .double:
            let o = out.mutablePointer(Double.self)
            for i in 0..<n { o[i] = values[i] }
        case .float16:
            let o = out.mutablePointer(Float16.self)
            for i in 0..<n { o[i] = Float16(values[i]) }
        case .bfloat16:
            let o = out.mutablePointer(BFloat16.self)
            for i in 0..<n { o[i] = BFloat16(Float(values[i])) }
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            let format = miniFormat(to)!
            let o = out.mutablePointer(UInt8.self)
            for i in 0..<n { o[i] = format.encode(Float(values[i]), saturate: options.saturate) }
        case .float8e8m0:
            let o = out.mutablePointer(UInt8.self)
            for i in 0..<n { o[i] = E8M0.encode(Float(values[i]), saturate: options.saturate, roundMode: options.roundMode) }
        default:
            throw EdgeError.badInput("\(c.nodeDescription): cannot cast to \(to)")
        }
        return out
    }

    /// Stores integers, wrapping to the target width (two's complement), as a C cast does.
    static func storeIntegers(_ values: [Int64], as to: DType, shape: [Int], _ c: ExecutionContext) throws -> Tensor {
        let n = values.count
        if to.bitWidth < 8 {
            let bytes = values.map { UInt8(truncatingIfNeeded: $0) }
            return Tensor(shape: shape, scalars: bytes).packedSubByte(to)
        }
        let out = try c.allocate(to, shape)
        func store<T: FixedWidthInteger>(_: T.Type) {
            let o = out.mutablePointer(T.self)
            for i in 0..<n { o[i] = T(truncatingIfNeeded: values[i]) }
        }
        switch to {
        case .int8: store(Int8.self)
        case .uint8: store(UInt8.self)
        case .int16: store(Int16.self)
        case .uint16: store(UInt16.self)
        case .int32: store(Int32.self)
        case .uint32: store(UInt32.self)
        case .int64: store(Int64.self)
        case .uint64: store(UInt64.self)
        case .bool:
            let o = out.mutablePointer(UInt8.self)
            for i in 0..<n { o[i] = values[i] != 0 ? 1 : 0 }
        default:
            throw EdgeError.badInput("\(c.nodeDescription): cannot cast to \(to)")
        }
        return out
    }

    /// Writes doubles into an already allocated numeric tensor of any computable type.
    static func storeDoubles(_ values: [Double], into out: Tensor, _ c: ExecutionContext) throws {
        struct Store: NumericVisitor {
            let values: [Double], out: Tensor
            func visit<T: NumericScalar>(_: T.Type) throws {
                let o = out.mutablePointer(T.self)
                for i in 0..<values.count { o[i] = T(fromDouble: values[i]) }
            }
        }
        try DTypeDispatch.numeric(out.dtype, Store(values: values, out: out), c.nodeDescription)
    }

    /// Shortest round-trip digits ("0.47892547", "1e-07"), as NumPy's `str()` prints them.
    static func formatFloat(_ v: Float) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        return v.description
    }

    static func formatDouble(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        return v.description
    }
}

extension CastOperators {
    /// Elements of a numeric tensor as Double (floats of any width and integers).
    static func readFloatsOrInts(_ x: Tensor, _ c: ExecutionContext) throws -> [Double] {
        if x.dtype.isInteger || x.dtype == .bool { return x.doubleValues() }
        return try readFloats(x, c)
    }
}
