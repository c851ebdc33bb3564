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
/// - `FusedGemm`: a Gemm (A, B, optional C; alpha, beta, transA, transB) with an optional fourth
///   input Z, then `activation`: y = act(alpha·A·B + beta·C + Z). Z is a fused residual Add, as
///   for FusedConv.
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
        OperatorSpec("FusedGemm", domain: domain, versions: 1...1) { b in
            let kernel = try GemmKernel(b).with(activation: fusedActivation(b))
            return b.node.inputs.count > 3 && !b.node.inputs[3].isEmpty ? kernel.withResidual() : kernel
        },
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
