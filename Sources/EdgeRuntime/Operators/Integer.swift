import EdgeIR
import EdgeKernels

/// MatMulInteger and ConvInteger: int8/uint8 operands, exact int32 results
///   Y = Σ (A − a_zero_point)·(B − b_zero_point)
/// on the kernels' exact int8 GEMM (see `Kernels.gemmInt8`). MatMulInteger zero points are scalars
/// or per row of A / per column of B; ConvInteger's weight zero point is scalar or per output
/// channel, its input is padded with the input zero point (a zero in the shifted domain).
enum IntegerOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("MatMulInteger", versions: 10...OperatorRegistry.latestOpset) { b in try MatMulIntegerKernel(b) },
        OperatorSpec("ConvInteger", versions: 10...OperatorRegistry.latestOpset) { b in ConvIntegerKernel(b) },
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

/// MatMulInteger. A constant 2-D B with a constant zero point is packed at compile time and the
/// session drops the original (`bakedInputs` [1]): the packed form is all the kernel reads.
final class MatMulIntegerKernel: TensorKernel, BakesConstants {
    let packedB: PackedInt8Matrix?
    /// Shape and type of the packed B.
    let bShape: [Int], bType: DType
    var bakedInputs: [Int] { packedB != nil ? [1] : [] }
    var bakedBytes: Int { packedB?.byteCount ?? 0 }
    func bake(_ options: SessionOptions) {}

    init(_ b: KernelBuildContext) throws {
        packedB = try IntegerOperators.packConstantB(b, weightIndex: 1, zeroPointIndex: 3)
        bShape = b.constantInput(1)?.shape ?? []
        bType = b.constantInput(1)?.dtype ?? .uint8
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let a = try i.required(0, c)
        let bm: Tensor? = packedB != nil ? nil : try i.required(1, c)
        let shape = bm?.shape ?? bShape, type = bm?.dtype ?? bType
        let rows = a.rank >= 2 ? a.shape[a.rank - 2] : 1
        let cols = shape.last ?? 1
        let za = try IntegerOps.zeroPoints(i.optional(2), expected: a.dtype, count: rows, role: "A", c)
        let zb = try IntegerOps.zeroPoints(i.optional(3), expected: type, count: cols, role: "B", c)
        return [try IntegerOps.matmul(a, bm, bShape: shape, bType: type, aZero: za, bZero: zb, packedB: packedB, c).0]
    }
}

/// ConvInteger. Constant weights with a constant, valid zero point are packed by `bake` and the
/// original dropped (`bakedInputs` [1]), as QLinearConv does.
final class ConvIntegerKernel: TensorKernel, BakesConstants {
    let conv: IntegerConv
    let constant: Bool
    let bakeZeroPoints: [Int32]?
    var bakedInputs: [Int] { bakeZeroPoints != nil ? [1] : [] }
    var bakedBytes: Int { conv.packedBytes }
    func bake(_ options: SessionOptions) { if let z = bakeZeroPoints { conv.bake(wZero: z) } }

    init(_ b: KernelBuildContext) {
        conv = IntegerConv(b, weightIndex: 1)
        let weights = conv.constantZeroPoints(b, zeroPointIndex: 3)
        constant = weights.constant
        bakeZeroPoints = weights.bake
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let x = try i.required(0, c)
        let w: Tensor? = bakeZeroPoints != nil ? nil : try i.required(1, c)
        guard let wShape = w?.shape ?? conv.bakedShape ?? conv.constantWeights?.shape,
              let wType = w?.dtype ?? conv.bakedType ?? conv.constantWeights?.dtype else {
            throw EdgeError.badInput("\(c.nodeDescription): the weights input is missing")
        }
        let zx = try IntegerOps.zeroPoints(i.optional(2), expected: x.dtype, count: 1, role: "input", c)
        let zw = try IntegerOps.zeroPoints(i.optional(3), expected: wType, count: wShape.first ?? 1, role: "weight", c)
        return [try conv.run(x: x, w: w ?? conv.constantWeights, xZero: zx[0], wZero: zw, constant: constant, c)]
    }
}
