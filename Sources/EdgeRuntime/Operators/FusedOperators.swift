import EdgeIR
import EdgeKernels
import Foundation

/// edgeopt's fused operators (domain `ai.edgeopt`, version 1), produced by EdgeTransforms'
/// `fuse-activations` and `fuse-silu` passes and executed through the kernels' epilogues, so the
/// activation is applied while each output tile is still in cache:
///
/// - `FusedConv`: a Conv (all Conv attributes and inputs X, W, B) with an optional fourth input Z,
///   then `activation`: y = act(conv(X, W) + B + Z), as ONNX Runtime's `com.microsoft::FusedConv`.
///   Z (from `fuse-activations`' residual fusion) has the conv output's shape; another shape
///   broadcasts as the Add it replaced.
/// - `FusedGemm`: a Gemm (A, B, optional C; alpha, beta, transA, transB) followed by `activation`.
/// - `SiLU`: y = x·sigmoid(x) as one operator.
///
/// `activation` is the ONNX name of the activation op ("Relu", "Clip", "LeakyRelu", "Sigmoid",
/// "HardSigmoid", "HardSwish", "Tanh", "SiLU"); `activation_params` holds its parameters in ONNX
/// order: Clip [min, max], LeakyRelu [alpha], HardSigmoid [alpha, beta].
enum FusedOperators {
    static let domain = "ai.edgeopt"

    static let operators: [OperatorSpec] = [
        OperatorSpec("FusedConv", domain: domain, versions: 1...1) { b in
            let kernel = try ConvKernel(b)
            kernel.activation = try fusedActivation(b)
            kernel.addsResidual = b.node.inputs.count > 3 && !b.node.inputs[3].isEmpty
            return kernel
        },
        OperatorSpec("FusedGemm", domain: domain, versions: 1...1) { b in try FusedGemmKernel(b) },
        OperatorSpec("SiLU", domain: domain, versions: 1...1) { _ in
            ClosureKernel { i, c in
                let input = try i.required(0, c)
                let x = try input.asFloat32(c)
                let out = try c.allocate(.float, x.shape)
                let n = x.elementCount
                if n > 0 {
                    out.mutablePointer(Float.self).update(from: x.pointer(Float.self), count: n)
                    withExtendedLifetime(x) {
                        Kernels.applyEpilogue(out.mutablePointer(Float.self), m: 1, n: n, ldc: n,
                                              epilogue: Epilogue(activation: .silu))
                    }
                }
                return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
            }
        },
    ]

    /// The epilogue activation named by the node's `activation`/`activation_params` attributes.
    static func fusedActivation(_ b: KernelBuildContext) throws -> Activation {
        let params = b.floats("activation_params") ?? []
        func param(_ k: Int, _ fallback: Float) -> Float { k < params.count ? params[k] : fallback }
        switch b.string("activation", "") {
        case "", "None": return .none
        case "Relu": return .relu
        case "Clip": return .clip(min: param(0, -.infinity), max: param(1, .infinity))
        case "LeakyRelu": return .leakyRelu(alpha: param(0, 0.01))
        case "Sigmoid": return .sigmoid
        case "HardSigmoid": return .hardSigmoid(alpha: param(0, 0.2), beta: param(1, 0.5))
        case "HardSwish": return .hardSwish
        case "SiLU": return .silu
        case "Tanh": return .tanh
        case let other: throw b.error("unknown fused activation '\(other)'")
        }
    }
}

/// Y = activation(alpha·op(A)·op(B) + beta·C) on the SGEMM kernel, with a constant B packed once.
final class FusedGemmKernel: TensorKernel {
    let transA: Bool, transB: Bool
    let alpha: Float, beta: Float
    let activation: Activation
    let packedB: PackedMatrix?
    let constantB: Tensor?

    init(_ b: KernelBuildContext) throws {
        transA = b.int("transA", 0) != 0
        transB = b.int("transB", 0) != 0
        alpha = b.float("alpha", 1)
        beta = b.float("beta", 1)
        activation = try FusedOperators.fusedActivation(b)
        if let w = b.constantInput(1), w.rank == 2, w.dtype.isFloatingPoint {
            let w32 = HalfRounding.float32(w)
            let k = transB ? w.shape[1] : w.shape[0], n = transB ? w.shape[0] : w.shape[1]
            constantB = w32
            packedB = PackedMatrix(packingB: w32.pointer(Float.self), k: k, n: n, ldb: w.shape[1], transposed: transB)
        } else {
            constantB = nil
            packedB = nil
        }
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let inputA = try i.required(0, c)
        let a = try inputA.asFloat32(c)
        let b = try constantB ?? i.required(1, c).asFloat32(c)
        guard a.rank == 2, b.rank == 2 else {
            throw EdgeError.badInput("\(c.nodeDescription): A \(a.shape) and B \(b.shape) must be matrices")
        }
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else { throw EdgeError.badInput("\(c.nodeDescription): A \(a.shape) and B \(b.shape) do not multiply") }
        let out = try c.allocate(.float, [m, n])
        let y = out.mutablePointer(Float.self)
        var gemmBeta: Float = 0
        var bias = Bias.none
        let cTensor = try i.optional(2)?.asFloat32(c)
        if let cTensor, beta != 0 {
            let s = cTensor.shape
            let rows: Int, cols: Int
            switch s.count {
            case 0: rows = 1; cols = 1
            case 1: rows = 1; cols = s[0]
            case 2: rows = s[0]; cols = s[1]
            default: throw EdgeError.badInput("\(c.nodeDescription): C \(s) must have rank ≤ 2")
            }
            guard rows == 1 || rows == m, cols == 1 || cols == n else {
                throw EdgeError.badInput("\(c.nodeDescription): C \(s) does not broadcast to [\(m), \(n)]")
            }
            let cp = cTensor.pointer(Float.self)
            if rows == 1, cols == n, beta == 1 {
                bias = .perColumn(cp)
            } else {
                // Broadcast C into Y, then let the GEMM accumulate onto it with beta.
                for r in 0..<m {
                    for col in 0..<n { y[r * n + col] = cp[(rows == 1 ? 0 : r) * cols + (cols == 1 ? 0 : col)] }
                }
                gemmBeta = beta
            }
        }
        let epilogue = Epilogue(bias: bias, activation: activation)
        withExtendedLifetime((a, b, cTensor)) {
            if m > 0, n > 0 {
                if let packedB {
                    Kernels.sgemm(transA: transA, m: m, alpha: alpha, a: a.pointer(Float.self), lda: a.shape[1],
                                  packedB: packedB, beta: gemmBeta, c: y, ldc: n, epilogue: epilogue, pool: c.kernelPool)
                } else {
                    Kernels.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.pointer(Float.self),
                                  lda: a.shape[1], b: b.pointer(Float.self), ldb: b.shape[1], beta: gemmBeta, c: y, ldc: n,
                                  epilogue: epilogue, pool: c.kernelPool)
                }
            }
        }
        return [inputA.dtype == .float ? out : try CastOperators.cast(out, to: inputA.dtype, c)]
    }
}
