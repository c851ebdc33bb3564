/// An elementwise activation fused into a kernel's output, applied after the bias.
/// Definitions follow the ONNX operators of the same name.
public enum Activation: Sendable, Equatable {
    case none
    case relu
    /// min(max(x, min), max); ReLU6 is `.clip(min: 0, max: 6)`.
    case clip(min: Float, max: Float)
    case leakyRelu(alpha: Float)
    case sigmoid
    /// max(0, min(1, alpha·x + beta)) (ONNX defaults alpha 0.2, beta 0.5).
    case hardSigmoid(alpha: Float, beta: Float)
    /// x · max(0, min(1, x/6 + 1/2)).
    case hardSwish
    /// x · sigmoid(x) (a.k.a. Swish).
    case silu
    case tanh
    /// Exact GELU: 0.5·x·(1 + erf(x/√2)).
    case gelu

    /// (code, p0, p1) as the ISA targets take them (see `ActivationCode` in Shared/VectorMath.swift).
    var encoded: (Int, Float, Float) {
        switch self {
        case .none: return (0, 0, 0)
        case .relu: return (1, 0, 0)
        case let .clip(lo, hi): return (2, lo, hi)
        case let .leakyRelu(a): return (3, a, 0)
        case .sigmoid: return (4, 0, 0)
        case let .hardSigmoid(a, b): return (5, a, b)
        case .hardSwish: return (6, 0, 0)
        case .silu: return (7, 0, 0)
        case .tanh: return (8, 0, 0)
        case .gelu: return (9, 0, 0)
        }
    }
}

/// A bias added to a GEMM/conv output before the activation.
/// The pointer must stay valid for the duration of the call.
public enum Bias {
    case none
    /// bias[i] added to every element of row i (length m) — the conv per-output-channel bias.
    case perRow(UnsafePointer<Float>)
    /// bias[j] added to every element of column j (length n) — the Gemm/MatMul+Add bias.
    case perColumn(UnsafePointer<Float>)
}

/// What a kernel applies to each output element while it is still in cache:
/// `y = activation(y + bias)`, after alpha/beta.
public struct Epilogue {
    public var bias: Bias
    public var activation: Activation
    public init(bias: Bias = .none, activation: Activation = .none) {
        self.bias = bias
        self.activation = activation
    }
    public static var none: Epilogue { Epilogue() }
    /// For a fused tile (bias per row, activation none/relu/clip): .some(row bias or nil);
    /// nil when the epilogue needs the separate pass.
    var fusableRowBias: UnsafePointer<Float>?? {
        switch activation {
        case .none, .relu, .clip: break
        default: return nil
        }
        switch bias {
        case .none: return .some(nil)
        case let .perRow(b): return .some(b)
        case .perColumn: return nil
        }
    }
    var isIdentity: Bool {
        if case .none = bias, activation == .none { return true }
        return false
    }
}

extension Kernels {
    /// y = activation(y + z) over `count` contiguous floats, threaded: the tail of an op whose
    /// residual Add was fused into it (a Gemm's; the conv calls this itself).
    public static func addResidual(_ y: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, count: Int,
                                   activation: Activation, pool: ThreadPool? = nil) {
        addResidual(y, z, count: count, activation: activation, ks: KernelSet.forISA(nil), pool: pool)
    }
}
