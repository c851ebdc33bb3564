import EdgeIR
import EdgeKernels

/// MatMulInteger and ConvInteger: int8/uint8 operands, exact int32 results
///   Y = Σ (A − a_zero_point)·(B − b_zero_point)
/// on the kernels' exact int8 GEMM (see `Kernels.gemmInt8`). MatMulInteger zero points are scalars
/// or per row of A / per column of B; ConvInteger's weight zero point is scalar or per output
/// channel, its input is padded with the input zero point (a zero in the shifted domain).
enum IntegerOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("MatMulInteger", versions: 10...OperatorRegistry.latestOpset) { b in
            let packed = try IntegerOperators.packConstantB(b, weightIndex: 1, zeroPointIndex: 3)
            return ClosureKernel { i, c in
                let a = try i.required(0, c), bm = try i.required(1, c)
                let rows = a.rank >= 2 ? a.shape[a.rank - 2] : 1
                let cols = bm.shape.last ?? 1
                let za = try IntegerOps.zeroPoints(i.optional(2), expected: a.dtype, count: rows, role: "A", c)
                let zb = try IntegerOps.zeroPoints(i.optional(3), expected: bm.dtype, count: cols, role: "B", c)
                return [try IntegerOps.matmul(a, bm, aZero: za, bZero: zb, packedB: packed, c).0]
            }
        },
        OperatorSpec("ConvInteger", versions: 10...OperatorRegistry.latestOpset) { b in
            let conv = IntegerConv(b, weightIndex: 1)
            let constant = conv.constantWeights != nil && (!b.hasInput(3) || b.constantInput(3) != nil)
            return ClosureKernel { i, c in
                let x = try i.required(0, c), w = try i.required(1, c)
                let zx = try IntegerOps.zeroPoints(i.optional(2), expected: x.dtype, count: 1, role: "input", c)
                let cOut = w.shape.first ?? 1
                let zw = try IntegerOps.zeroPoints(i.optional(3), expected: w.dtype, count: cOut, role: "weight", c)
                return [try conv.run(x: x, w: w, xZero: zx[0], wZero: zw, constant: constant, c)]
            }
        },
    ]

    /// Packs a constant 2-D 8-bit B (with its constant zero point) once at compile time.
    static func packConstantB(_ b: KernelBuildContext, weightIndex: Int, zeroPointIndex: Int) throws -> PackedInt8Matrix? {
        guard let w = b.constantInput(weightIndex), w.rank == 2, IntegerOps.isByte(w.dtype), w.elementCount > 0 else { return nil }
        var zp: [Int32] = [0]
        if b.hasInput(zeroPointIndex) {
            guard let z = b.constantInput(zeroPointIndex), z.dtype == w.dtype else { return nil }
            zp = try QuantTypes.int32Values(z, b.nodeDescription)
            guard zp.count == 1 || zp.count == w.shape[1] else { return nil }
        }
        return PackedInt8Matrix(packing: w.rawPointer, signed: w.dtype == .int8, k: w.shape[0], n: w.shape[1],
                                ldb: w.shape[1], zeroPoints: zp)
    }
}
