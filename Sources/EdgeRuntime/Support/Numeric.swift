import EdgeIR

/// bfloat16: the top 16 bits of an IEEE float32. Arithmetic goes through Float; conversion from
/// Float rounds to nearest even (NaN stays NaN).
public struct BFloat16: Sendable, Comparable, TensorElement {
    public var bits: UInt16
    public static var dtype: DType { .bfloat16 }
    public init(bits: UInt16) { self.bits = bits }
    public init(_ value: Float) {
        let b = value.bitPattern
        if value.isNaN {
            bits = UInt16(truncatingIfNeeded: b >> 16) | 0x0040
        } else {
            let rounding = UInt32(0x7FFF) + ((b >> 16) & 1)
            bits = UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
        }
    }
    public var float: Float { Float(bitPattern: UInt32(bits) << 16) }
    public static func < (a: BFloat16, b: BFloat16) -> Bool { a.float < b.float }
    public static func == (a: BFloat16, b: BFloat16) -> Bool { a.float == b.float }
}

/// Element types the engine computes with. Every numeric ONNX type except the sub-byte and
/// 8-bit float ones (those are converted by Cast/QuantizeLinear, never computed on directly).
public protocol NumericScalar: TensorElement, Comparable {
    init(fromDouble value: Double)
    var doubleValue: Double { get }
    static var isFloatingPoint: Bool { get }
    static var zero: Self { get }
}

extension Float: NumericScalar {
    public init(fromDouble value: Double) { self = Float(value) }
    public var doubleValue: Double { Double(self) }
    public static var isFloatingPoint: Bool { true }
}
extension Double: NumericScalar {
    public init(fromDouble value: Double) { self = value }
    public var doubleValue: Double { self }
    public static var isFloatingPoint: Bool { true }
}
extension Float16: NumericScalar {
    public init(fromDouble value: Double) { self = Float16(Float(value)) }
    public var doubleValue: Double { Double(Float(self)) }
    public static var isFloatingPoint: Bool { true }
}
extension BFloat16: NumericScalar {
    public init(fromDouble value: Double) { self.init(Float(value)) }
    public var doubleValue: Double { Double(float) }
    public static var isFloatingPoint: Bool { true }
    public static var zero: BFloat16 { BFloat16(bits: 0) }
}

/// Integer conversion from Double saturates instead of trapping (NaN → 0).
public protocol IntegerScalar: NumericScalar, FixedWidthInteger {}
extension IntegerScalar {
    public init(fromDouble value: Double) {
        if value.isNaN { self = 0 }
        else if value >= Double(Self.max) { self = Self.max }
        else if value <= Double(Self.min) { self = Self.min }
        else { self = Self(value) }
    }
    public var doubleValue: Double { Double(self) }
    public static var isFloatingPoint: Bool { false }
}
extension Int8: IntegerScalar {}
extension UInt8: IntegerScalar {}
extension Int16: IntegerScalar {}
extension UInt16: IntegerScalar {}
extension Int32: IntegerScalar {}
extension UInt32: IntegerScalar {}
extension Int64: IntegerScalar {}
extension UInt64: IntegerScalar {}

/// Float types that compute through Float (Float itself, half and bfloat16).
public protocol FloatConvertible: NumericScalar {
    init(float: Float)
    var float: Float { get }
}
extension Float: FloatConvertible {
    @inline(__always) public init(float: Float) { self = float }
    @inline(__always) public var float: Float { self }
}
extension Float16: FloatConvertible {
    @inline(__always) public init(float: Float) { self = Float16(float) }
    @inline(__always) public var float: Float { Float(self) }
}
extension BFloat16: FloatConvertible {
    @inline(__always) public init(float: Float) { self.init(float) }
}

/// Calls `visit` with the Swift type of a numeric dtype. The operator-side pattern for
/// "one generic implementation, every element type".
public protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericScalar>(_ type: T.Type) throws -> Result
}

public protocol IntegerVisitor {
    associatedtype Result
    func visit<T: IntegerScalar>(_ type: T.Type) throws -> Result
}

public protocol FloatVisitor {
    associatedtype Result
    func visit<T: FloatConvertible>(_ type: T.Type) throws -> Result
    func visitDouble() throws -> Result
}

public enum DTypeDispatch {
    public static func numeric<V: NumericVisitor>(_ dtype: DType, _ visitor: V, _ what: @autoclosure () -> String) throws -> V.Result {
        switch dtype {
        case .float: return try visitor.visit(Float.self)
        case .double: return try visitor.visit(Double.self)
        case .float16: return try visitor.visit(Float16.self)
        case .bfloat16: return try visitor.visit(BFloat16.self)
        case .int8: return try visitor.visit(Int8.self)
        case .uint8: return try visitor.visit(UInt8.self)
        case .int16: return try visitor.visit(Int16.self)
        case .uint16: return try visitor.visit(UInt16.self)
        case .int32: return try visitor.visit(Int32.self)
        case .uint32: return try visitor.visit(UInt32.self)
        case .int64: return try visitor.visit(Int64.self)
        case .uint64: return try visitor.visit(UInt64.self)
        default: throw EdgeError.badInput("\(what()): element type \(dtype) is not supported")
        }
    }

    public static func integer<V: IntegerVisitor>(_ dtype: DType, _ visitor: V, _ what: @autoclosure () -> String) throws -> V.Result {
        switch dtype {
        case .int8: return try visitor.visit(Int8.self)
        case .uint8: return try visitor.visit(UInt8.self)
        case .int16: return try visitor.visit(Int16.self)
        case .uint16: return try visitor.visit(UInt16.self)
        case .int32: return try visitor.visit(Int32.self)
        case .uint32: return try visitor.visit(UInt32.self)
        case .int64: return try visitor.visit(Int64.self)
        case .uint64: return try visitor.visit(UInt64.self)
        default: throw EdgeError.badInput("\(what()): element type \(dtype) is not an integer type")
        }
    }

    public static func float<V: FloatVisitor>(_ dtype: DType, _ visitor: V, _ what: @autoclosure () -> String) throws -> V.Result {
        switch dtype {
        case .float: return try visitor.visit(Float.self)
        case .float16: return try visitor.visit(Float16.self)
        case .bfloat16: return try visitor.visit(BFloat16.self)
        case .double: return try visitor.visitDouble()
        default: throw EdgeError.badInput("\(what()): element type \(dtype) is not a floating-point type")
        }
    }
}

extension Tensor {
    /// Elements converted to Float (any numeric dtype); for small parameter tensors, not hot loops.
    public func floatArray() -> [Float] {
        if dtype == .float { return scalars(as: Float.self) }
        return doubleValues().map { Float($0) }
    }

    /// Integer elements as Int (shapes, axes, indices), nil for non-integer tensors.
    public func intArray() -> [Int]? {
        switch dtype {
        case .int64: return scalars(as: Int64.self).map { Int($0) }
        case .int32: return scalars(as: Int32.self).map { Int($0) }
        default: return int64Values()?.map { Int($0) }
        }
    }

    /// Float32 copy of a float tensor of any precision (for computing fp16/bf16/double ops in float).
    public func toFloat() -> [Float] { floatArray() }
}
