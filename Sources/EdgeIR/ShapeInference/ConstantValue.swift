/// A small, fully known tensor value used while inferring shapes: the int64 vectors of
/// `Shape→Gather→Concat→Reshape` chains, Slice starts, Resize scales, TopK's K.
///
/// Integer and bool elements live in `ints`, floating-point ones in `floats`; exactly one of the
/// two is filled, by `dtype`. Only values up to `ConstantValue.maxElements` are materialized, so a
/// hostile or merely large `ConstantOfShape` can never make inference allocate without bound.
public struct ConstantValue: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var ints: [Int64]
    public var floats: [Double]

    /// Largest value the evaluator materializes (elements).
    public static let maxElements = 1 << 16
    /// Largest floating-point initializer read as a constant (scales, ROI, Clip bounds).
    static let maxFloatInitializerElements = 1024

    public init(dtype: DType, shape: [Int], ints: [Int64]) {
        self.dtype = dtype.isFloatingPoint ? .int64 : dtype
        self.shape = shape
        self.ints = ints
        self.floats = []
    }

    public init(dtype: DType, shape: [Int], floats: [Double]) {
        self.dtype = dtype.isFloatingPoint ? dtype : .double
        self.shape = shape
        self.ints = []
        self.floats = floats
    }

    public static func int64(_ values: [Int64], shape: [Int]? = nil) -> ConstantValue {
        ConstantValue(dtype: .int64, shape: shape ?? [values.count], ints: values)
    }

    /// Reads a tensor when it is small and numeric; nil otherwise.
    public init?(tensor: Tensor, maxFloatElements: Int = ConstantValue.maxElements) {
        let count = tensor.elementCount
        if tensor.dtype.isInteger || tensor.dtype == .bool {
            guard count <= ConstantValue.maxElements, let values = tensor.int64Values(), values.count == count else { return nil }
            self.init(dtype: tensor.dtype, shape: tensor.shape, ints: values)
        } else if tensor.dtype.isFloatingPoint {
            guard count <= maxFloatElements else { return nil }
            let values = tensor.doubleValues()
            guard values.count == count else { return nil }
            self.init(dtype: tensor.dtype, shape: tensor.shape, floats: values)
        } else {
            return nil
        }
    }

    public var isFloating: Bool { dtype.isFloatingPoint }
    public var count: Int { isFloating ? floats.count : ints.count }

    public func double(_ i: Int) -> Double { isFloating ? floats[i] : Double(ints[i]) }

    /// Element `i` as an integer (floats truncated toward zero, saturating).
    public func int(_ i: Int) -> Int64 {
        if !isFloating { return ints[i] }
        let v = floats[i]
        if v.isNaN { return 0 }
        if v >= 9.2e18 { return Int64.max }
        if v <= -9.2e18 { return Int64.min }
        return Int64(v)
    }

    /// All elements as Int64.
    public var int64s: [Int64] { isFloating ? (0..<floats.count).map(int) : ints }
    public var doubles: [Double] { isFloating ? floats : ints.map(Double.init) }

    /// The same elements with another shape.
    func reshaped(_ newShape: [Int]) -> ConstantValue {
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Elements at the given flat indices.
    func gathered(_ indices: [Int], shape newShape: [Int]) -> ConstantValue {
        if isFloating { return ConstantValue(dtype: dtype, shape: newShape, floats: indices.map { floats[$0] }) }
        return ConstantValue(dtype: dtype, shape: newShape, ints: indices.map { ints[$0] })
    }

    /// Converts to `target`, following ONNX Cast for the numeric cases used in shape code.
    func cast(to target: DType) -> ConstantValue {
        if target.isFloatingPoint {
            return ConstantValue(dtype: target, shape: shape, floats: doubles)
        }
        if target == .bool {
            return ConstantValue(dtype: .bool, shape: shape, ints: doubles.map { $0 != 0 ? 1 : 0 })
        }
        return ConstantValue(dtype: target, shape: shape, ints: int64s)
    }

    public var tensorType: TensorType { TensorType(dtype, fixed: shape) }
}
