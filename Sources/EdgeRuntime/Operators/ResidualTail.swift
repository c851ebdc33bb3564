import EdgeIR
import EdgeKernels

/// The tail of a Conv or Gemm whose residual Add (and the activation after it) was fused into the
/// node, for a residual the epilogue cannot take: another shape (the Add broadcast) or a type other
/// than float32. It computes what the unfused nodes compute:
///
///     y = op output (float32, bias applied, no activation) → cast to the op's type
///       → Add(y, z) with broadcasting, in that type → activation
enum ResidualTail {
    static func separate(_ y32: Tensor, dtype: DType, z: Tensor, activation: Activation, _ c: ExecutionContext) throws -> Tensor {
        let y = dtype == .float ? y32 : try CastOperators.cast(y32, to: dtype, c)
        let sum = try ElementwiseOperators.arithmetic(.add, y, z, c)
        guard activation != .none else { return sum }
        // `arithmetic` allocated `sum`, so a float32 sum is activated in place.
        let result = try sum.asFloat32(c)
        Kernels.applyEpilogue(result.mutablePointer(Float.self), m: 1, n: result.elementCount, ldc: result.elementCount,
                              epilogue: Epilogue(activation: activation))
        return sum.dtype == .float ? result : try CastOperators.cast(result, to: sum.dtype, c)
    }
}
