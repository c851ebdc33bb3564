import EdgeIR

/// Shared pieces of the quantization operators: where each element finds its scale and zero point
/// (per tensor, per axis, blocked), the integer ranges of the quantized types, and reading
/// quantized tensors of any storage (8/16/32-bit, packed 4/2-bit, float8, float4) as numbers.
struct QuantParamLayout {
    enum Kind { case perTensor, perAxis, blocked }
    let kind: Kind
    /// x viewed as outer × dim × inner around `axis`.
    let outer: Int, dim: Int, inner: Int
    let blockSize: Int

    /// Validates a scale (or zero point) shape against x: a scalar / one-element 1-D tensor is
    /// per tensor; a 1-D tensor of x.shape[axis] elements is per axis; with `blockSize` > 0 the
    /// parameter has x's rank and shape except ceil(x.shape[axis] / blockSize) along axis.
    init(x: [Int], param: [Int], axis rawAxis: Int, blockSize: Int, _ what: @autoclosure () -> String) throws {
        let rank = x.count
        let paramCount = param.reduce(1, *)
        self.blockSize = blockSize
        if blockSize <= 0 && param.count <= 1 && paramCount == 1 {
            kind = .perTensor
            outer = 1; dim = 1; inner = x.reduce(1, *)
            return
        }
        let axis = try Shapes.axis(rawAxis, rank: rank, what())
        outer = Shapes.product(x[..<axis])
        dim = x[axis]
        inner = Shapes.product(x[(axis + 1)...])
        if blockSize <= 0 {
            guard param.count == 1, param[0] == dim else {
                throw EdgeError.badInput("\(what()): scale/zero point shape \(param) is neither a scalar nor 1-D of \(dim) elements (axis \(axis) of \(x))")
            }
            kind = .perAxis
        } else {
            let blocks = (dim + blockSize - 1) / blockSize
            var expected = x
            expected[axis] = blocks
            guard param == expected else {
                throw EdgeError.badInput("\(what()): blocked scale/zero point shape \(param) must be \(expected) for input \(x), axis \(axis), block_size \(blockSize)")
            }
            kind = .blocked
        }
    }

    /// Calls `body(elementIndex, parameterIndex)` for every element of x in order.
    @inline(__always)
    func forEach(_ body: (Int, Int) -> Void) {
        switch kind {
        case .perTensor:
            for i in 0..<inner { body(i, 0) }
        case .perAxis:
            var i = 0
            for _ in 0..<outer {
                for k in 0..<dim {
                    for _ in 0..<inner { body(i, k); i += 1 }
                }
            }
        case .blocked:
            let blocks = (dim + blockSize - 1) / blockSize
            var i = 0
            for o in 0..<outer {
                for k in 0..<dim {
                    let base = (o * blocks + k / blockSize) * inner
                    for j in 0..<inner { body(i, base + j); i += 1 }
                }
            }
        }
    }
}

enum QuantTypes {
    /// Saturation range of an integer quantized type.
    static func integerRange(_ dtype: DType) -> (lo: Int32, hi: Int32)? {
        switch dtype {
        case .uint8: return (0, 255)
        case .int8: return (-128, 127)
        case .uint16: return (0, 65535)
        case .int16: return (-32768, 32767)
        case .uint4: return (0, 15)
        case .int4: return (-8, 7)
        case .uint2: return (0, 3)
        case .int2: return (-2, 1)
        default: return nil
        }
    }

    static func isFloat8(_ dtype: DType) -> Bool {
        dtype == .float8e4m3fn || dtype == .float8e4m3fnuz || dtype == .float8e5m2 || dtype == .float8e5m2fnuz
    }

    /// Elements of an integer tensor of any width (sub-byte types sign-extended) as Int32.
    /// Int32 tensors keep their full value; 64-bit tensors are rejected by the callers.
    static func int32Values(_ t: Tensor, _ what: @autoclosure () -> String) throws -> [Int32] {
        let n = t.elementCount
        switch t.dtype {
        case .int8: return t.scalars(as: Int8.self).map { Int32($0) }
        case .uint8: return t.scalars(as: UInt8.self).map { Int32($0) }
        case .int16: return t.scalars(as: Int16.self).map { Int32($0) }
        case .uint16: return t.scalars(as: UInt16.self).map { Int32($0) }
        case .int32: return t.scalars(as: Int32.self)
        case .int4, .uint4, .int2, .uint2:
            let bits = t.dtype.bitWidth
            let u = t.unpackedSubByte()
            let p = u.pointer(UInt8.self)
            let signed = t.dtype == .int4 || t.dtype == .int2
            let shift = 32 - bits
            return (0..<n).map { i in
                let v = Int32(p[i])
                return signed ? (v << shift) >> shift : v
            }
        default:
            throw EdgeError.badInput("\(what()): \(t.dtype) is not an integer quantized type")
        }
    }

    /// Elements of a float8 / float4 tensor decoded exactly to Float.
    static func miniFloatValues(_ t: Tensor) -> [Float]? {
        if t.dtype == .float4e2m1 {
            let u = t.unpackedSubByte()
            let p = u.pointer(UInt8.self)
            return (0..<t.elementCount).map { MiniFloatFormat.e2m1.decode(p[$0]) }
        }
        guard let format = CastOperators.miniFormat(t.dtype), isFloat8(t.dtype) else { return nil }
        let p = t.pointer(UInt8.self)
        return (0..<t.elementCount).map { format.decode(p[$0]) }
    }

    /// Integer values stored as the quantized type (values already in range; sub-byte packed).
    static func store(_ values: [Int32], as dtype: DType, shape: [Int], _ c: ExecutionContext) throws -> Tensor {
        let n = values.count
        if dtype.bitWidth < 8 {
            let bytes = values.map { UInt8(truncatingIfNeeded: $0) }
            return Tensor(shape: shape, scalars: bytes).packedSubByte(dtype)
        }
        let out = try c.allocate(dtype, shape)
        func fill<T: FixedWidthInteger>(_: T.Type) {
            let o = out.mutablePointer(T.self)
            for i in 0..<n { o[i] = T(truncatingIfNeeded: values[i]) }
        }
        switch dtype {
        case .int8: fill(Int8.self)
        case .uint8: fill(UInt8.self)
        case .int16: fill(Int16.self)
        case .uint16: fill(UInt16.self)
        case .int32: fill(Int32.self)
        default: throw EdgeError.badInput("\(c.nodeDescription): cannot store quantized values as \(dtype)")
        }
        return out
    }
}
