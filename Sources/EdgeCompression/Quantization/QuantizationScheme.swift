import EdgeIR

/// How a model is quantized: a value a device profile can supply.
///
/// - `default`: per-channel symmetric int8 weights, asymmetric uint8 activations (ONNX Runtime's
///   and most CPUs' form); quantizes Conv/ConvTranspose/Gemm/MatMul (inputs, weights, outputs).
/// - `symmetric`: symmetric int8 everywhere, zero points 0 (TensorRT style).
/// - `perTensor`: like `default` with one scale per weight tensor (accelerators without per-axis
///   scales).
/// - `fullInteger`: symmetric int8 weights, int8 activations, and every float activation tensor
///   between operators quantized, including the graph's inputs and outputs (Edge TPU style).
public struct QuantizationScheme: Sendable, Equatable, Codable {
    public enum Granularity: String, Sendable, Codable { case perChannel = "per-channel", perTensor = "per-tensor" }

    public var name: String
    public var weightGranularity: Granularity
    /// Element type of quantized activations: `.uint8` or `.int8`.
    public var activationType: DType
    public var symmetricActivations: Bool
    /// Quantize every float activation tensor, graph inputs and outputs included.
    public var quantizeEverything: Bool

    public init(name: String, weightGranularity: Granularity = .perChannel, activationType: DType = .uint8,
                symmetricActivations: Bool = false, quantizeEverything: Bool = false) {
        self.name = name
        self.weightGranularity = weightGranularity
        self.activationType = activationType
        self.symmetricActivations = symmetricActivations
        self.quantizeEverything = quantizeEverything
    }

    public static let `default` = QuantizationScheme(name: "default")
    public static let symmetric = QuantizationScheme(name: "symmetric", activationType: .int8, symmetricActivations: true)
    public static let perTensor = QuantizationScheme(name: "per-tensor", weightGranularity: .perTensor)
    public static let fullInteger = QuantizationScheme(name: "full-integer", activationType: .int8,
                                                       symmetricActivations: false, quantizeEverything: true)

    public static let all: [QuantizationScheme] = [.default, .symmetric, .perTensor, .fullInteger]

    public static func named(_ name: String) throws -> QuantizationScheme {
        guard let s = all.first(where: { $0.name == name }) else {
            throw EdgeError.badInput("unknown quantization scheme '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))")
        }
        return s
    }

    /// Quantization steps on the positive side of a one-sided (non-negative) activation range,
    /// used by the MSE search: symmetric int8 keeps 127, asymmetric types use all 255.
    var oneSidedSteps: Int { symmetricActivations ? 127 : 255 }
}
