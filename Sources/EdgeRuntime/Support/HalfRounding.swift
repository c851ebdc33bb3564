import EdgeIR

/// Rounding float32 values through IEEE half precision (round to nearest, ties to even), for
/// `SessionOptions.fp16`.
enum HalfRounding {
    static func roundInPlace(_ tensor: Tensor) {
        let p = tensor.mutablePointer(Float.self)
        for i in 0..<tensor.elementCount { p[i] = Float(Float16(p[i])) }
    }

    static func rounded(_ tensor: Tensor) -> Tensor {
        guard tensor.dtype == .float else { return tensor }
        let values = tensor.scalars(as: Float.self).map { Float(Float16($0)) }
        return Tensor(shape: tensor.shape, scalars: values)
    }
}

extension HalfRounding {
    /// A compile-time weight as float32 (float16/bfloat16/double weights are widened once).
    static func float32(_ t: Tensor) -> Tensor {
        if t.dtype == .float { return t }
        return Tensor(shape: t.shape, scalars: t.floatArray())
    }
}
