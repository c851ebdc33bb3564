import EdgeIR

/// Shape arithmetic shared by operators.
public enum Shapes {
    /// Row-major element strides.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        return strides
    }

    /// A possibly negative axis made absolute for `rank`; throws when out of range.
    public static func axis(_ axis: Int, rank: Int, _ what: @autoclosure () -> String) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < max(rank, 1) else {
            throw EdgeError.badInput("\(what()): axis \(axis) is out of range for rank \(rank)")
        }
        return a
    }

    public static func product(_ dims: ArraySlice<Int>) -> Int { dims.reduce(1, *) }
    public static func product(_ dims: [Int]) -> Int { dims.reduce(1, *) }
}

/// Byte size of one element for byte-moving operators; sub-byte types are unpacked to one byte
/// per element first (see `unpackSubByte`).
extension DType {
    var elementSize: Int { bitWidth >= 8 ? bitWidth / 8 : 1 }
}

extension Tensor {
    /// A tensor with the same bytes and a new shape (element count must match).
    public func reshaped(_ shape: [Int]) -> Tensor {
        var t = self
        t.shape = shape
        return t
    }

    /// Sub-byte (int4/uint4/int2/uint2/float4) tensors unpacked to one byte per element, so byte-moving
    /// operators can treat them like int8.
    func unpackedSubByte() -> Tensor {
        guard dtype != .string, dtype.bitWidth < 8, dtype.bitWidth > 0 else { return self }
        let count = elementCount
        let bits = dtype.bitWidth
        let perByte = 8 / bits
        let mask = UInt8((1 << bits) - 1)
        var bytes = [UInt8](repeating: 0, count: count)
        withUnsafeBytes { raw in
            for i in 0..<count {
                bytes[i] = (raw[i / perByte] >> UInt8(bits * (i % perByte))) & mask
            }
        }
        var t = Tensor(shape: shape, scalars: bytes)
        t.dtype = dtype  // marker: caller repacks with `packedSubByte`
        return t
    }

    /// Inverse of `unpackedSubByte`: one byte per element → packed low bits first.
    func packedSubByte(_ target: DType) -> Tensor {
        let count = elementCount
        let bits = target.bitWidth
        let perByte = 8 / bits
        let mask = UInt8((1 << bits) - 1)
        var packed = [UInt8](repeating: 0, count: (count + perByte - 1) / perByte)
        let p = pointer(UInt8.self)
        for i in 0..<count { packed[i / perByte] |= (p[i] & mask) << UInt8(bits * (i % perByte)) }
        let storage = packed.withUnsafeBytes { OwnedStorage(copying: $0) }
        return Tensor(dtype: target, shape: shape, storage: storage)
    }
}
