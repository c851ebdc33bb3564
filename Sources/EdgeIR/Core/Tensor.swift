import Foundation

/// Swift scalar types that map one-to-one onto a fixed-width ONNX element type.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}
extension Float: TensorElement { public static var dtype: DType { .float } }
extension Double: TensorElement { public static var dtype: DType { .double } }
extension Float16: TensorElement { public static var dtype: DType { .float16 } }
extension Int8: TensorElement { public static var dtype: DType { .int8 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Int16: TensorElement { public static var dtype: DType { .int16 } }
extension UInt16: TensorElement { public static var dtype: DType { .uint16 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt32: TensorElement { public static var dtype: DType { .uint32 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension UInt64: TensorElement { public static var dtype: DType { .uint64 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }

/// A dense tensor value: element type, shape and bytes in ONNX raw layout (little-endian,
/// row-major; sub-byte types packed low bits first). String tensors keep their elements in
/// `strings` instead of storage. Copying a Tensor shares its storage; mutation copies on write.
public struct Tensor: Sendable {
    public var dtype: DType
    public var shape: [Int]
    public private(set) var storage: any TensorStorage
    /// Elements of a `.string` tensor, as raw bytes (ONNX strings need not be UTF-8).
    public var strings: [[UInt8]]

    public init(dtype: DType, shape: [Int], storage: any TensorStorage) {
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.strings = []
    }

    /// A zero-filled tensor.
    public init(zeros dtype: DType, shape: [Int]) {
        let count = shape.reduce(1, *)
        self.init(dtype: dtype, shape: shape, storage: OwnedStorage(byteCount: dtype.byteCount(elements: count)))
    }

    public init(strings: [[UInt8]], shape: [Int]) {
        self.dtype = .string
        self.shape = shape
        self.storage = OwnedStorage(byteCount: 0)
        self.strings = strings
    }

    public init<T: TensorElement>(shape: [Int], scalars: [T]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) elements")
        let owned = scalars.withUnsafeBytes { OwnedStorage(copying: $0) }
        self.init(dtype: T.dtype, shape: shape, storage: owned)
    }

    public static func scalar<T: TensorElement>(_ value: T) -> Tensor {
        Tensor(shape: [], scalars: [value])
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var byteCount: Int { storage.byteCount }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(storage.bytes)
    }

    /// Gives writable bytes, first copying into owned storage if the bytes are shared or mapped.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !(isKnownUniquelyReferenced(&storage) && storage is OwnedStorage) {
            storage = OwnedStorage(copying: storage.bytes)
        }
        let owned = storage as! OwnedStorage
        return try body(UnsafeMutableRawBufferPointer(start: owned.mutableBaseAddress, count: owned.byteCount))
    }

    /// Replaces the bytes (e.g. after re-quantizing a weight).
    public mutating func replaceStorage(_ newStorage: any TensorStorage) {
        storage = newStorage
    }

    /// Copies the elements out as `T`, which must be the tensor's own element type.
    public func scalars<T: TensorElement>(as type: T.Type = T.self) -> [T] {
        precondition(T.dtype == dtype || (T.self == Bool.self && dtype == .bool),
                     "tensor holds \(dtype), not \(T.dtype)")
        let count = elementCount
        return withUnsafeBytes { raw in
            Array(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: T.self), count: count))
        }
    }

    /// Elements widened to Double, for any numeric element type (including packed int4/uint4 and
    /// fp16/bf16). Used by constant folding and analysis, not by kernels.
    public func doubleValues() -> [Double] {
        let count = elementCount
        return withUnsafeBytes { raw -> [Double] in
            func read<T>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
                let p = raw.baseAddress!.assumingMemoryBound(to: T.self)
                return (0..<count).map { convert(p[$0]) }
            }
            switch dtype {
            case .float: return read(Float.self) { Double($0) }
            case .double: return read(Double.self) { $0 }
            case .float16: return read(Float16.self) { Double($0) }
            case .bfloat16: return read(UInt16.self) { Double(Float(bitPattern: UInt32($0) << 16)) }
            case .int8: return read(Int8.self) { Double($0) }
            case .uint8: return read(UInt8.self) { Double($0) }
            case .int16: return read(Int16.self) { Double($0) }
            case .uint16: return read(UInt16.self) { Double($0) }
            case .int32: return read(Int32.self) { Double($0) }
            case .uint32: return read(UInt32.self) { Double($0) }
            case .int64: return read(Int64.self) { Double($0) }
            case .uint64: return read(UInt64.self) { Double($0) }
            case .bool: return read(UInt8.self) { $0 != 0 ? 1 : 0 }
            case .int4, .uint4:
                let bytes = raw.bindMemory(to: UInt8.self)
                return (0..<count).map { i in
                    let nibble = (bytes[i / 2] >> (i % 2 == 0 ? 0 : 4)) & 0x0F
                    if dtype == .int4 { return Double(Int8(bitPattern: nibble << 4) >> 4) }
                    return Double(nibble)
                }
            case .int2, .uint2:
                let bytes = raw.bindMemory(to: UInt8.self)
                return (0..<count).map { i in
                    let bits = (bytes[i / 4] >> UInt8(2 * (i % 4))) & 0x03
                    if dtype == .int2 { return Double(Int8(bitPattern: bits << 6) >> 6) }
                    return Double(bits)
                }
            default:
                return []
            }
        }
    }

    /// Integer elements as Int64 (for shapes, axes, indices). Nil for non-integer types.
    public func int64Values() -> [Int64]? {
        guard dtype.isInteger || dtype == .bool else { return nil }
        if dtype == .int64 { return scalars(as: Int64.self) }
        return doubleValues().map { Int64($0) }
    }
}

extension Tensor: Equatable {
    /// Bitwise equality of type, shape and bytes.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.dtype == rhs.dtype, lhs.shape == rhs.shape else { return false }
        if lhs.dtype == .string { return lhs.strings == rhs.strings }
        if lhs.storage === rhs.storage { return true }
        return lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in a.elementsEqual(b) } }
    }
}

/// A COO sparse tensor as ONNX's SparseTensorProto holds it.
public struct SparseTensor: Sendable, Equatable {
    /// The sparse tensor's name (ONNX stores it on `values.name`).
    public var name: String
    /// Non-zero values, 1-D.
    public var values: Tensor
    /// [NNZ] linearized or [NNZ, rank] coordinate indices, int64.
    public var indices: Tensor
    /// Dense shape.
    public var dims: [Int]
    public init(name: String, values: Tensor, indices: Tensor, dims: [Int]) {
        self.name = name
        self.values = values
        self.indices = indices
        self.dims = dims
    }
}
