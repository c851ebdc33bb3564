import Foundation

/// How a `Session` executes.
public struct SessionOptions: Sendable, Equatable {
    /// Worker threads for kernels that split their work (GEMM, convolution, large elementwise
    /// loops). Default: the number of cores this process may run on.
    public var threads: Int
    /// Precision policy for half precision.
    ///
    /// Whatever this flag says, a value the model types as `float16` (or `bfloat16`) is stored in
    /// that type: each operator reads it, computes in float32 (accumulating in float32), and rounds
    /// its result to the nearest half-precision value (ties to even). That is what ONNX Runtime and
    /// an fp16 accelerator with fp32 accumulators compute.
    ///
    /// With `fp16 = true` the session additionally rounds every float32 weight once at compile time
    /// and every float32 operator output through half precision, so an fp32 model runs as if it had
    /// been converted to fp16 (accuracy preview of an FP16 conversion without rewriting the model).
    public var fp16: Bool
    /// Plan one activation arena per set of input shapes and reuse it across runs (the default).
    /// Off, every operator output gets its own heap buffer (useful to debug a kernel).
    public var planBuffers: Bool
    /// Let a Conv/Gemm absorb a following inference BatchNormalization (folded into its constant
    /// weights) and activation (applied in the kernel's epilogue) when nothing else reads the
    /// intermediate value. Numerically the fold rounds W·γ/√(σ²+ε) once; off, every node runs as written.
    public var fuseKernels: Bool = true
    /// Execute DequantizeLinear → Conv/MatMul/Gemm (→ Relu/Clip) → QuantizeLinear in integer
    /// arithmetic (int32 accumulation, requantization), as ONNX Runtime's QDQ fusion and integer
    /// accelerators do (see `QDQLowering`). Off, QDQ graphs run exactly as written, in float.
    public var integerQDQ: Bool = true
    /// Let stride-1 3×3 convolutions run Winograd F(2,3)/F(4,3) where its cost model wins (about
    /// 2× faster per layer). Either way each conv holds only its im2col packing: Winograd
    /// transforms it per run (see EdgeKernels' Winograd.swift), so memory is the same; off, every
    /// conv runs im2col.
    public var winograd: Bool = true
    /// Values of the main graph that `Session.run(_:observing:)` reports to its observer (e.g.
    /// calibration statistics), each as soon as it exists. An observed value stays a value of its
    /// own: compile-time fusion (Conv→BatchNormalization→activation, SiLU epilogues) and the
    /// integer QDQ lowering do not fuse it away, as they would not fuse away a graph output. Unlike
    /// a graph output it is neither copied out of the activation arena nor kept alive past its last
    /// reader, so observing every activation costs no more memory than a plain run. Each name must
    /// be an input, initializer or node output of the main graph (values inside If/Loop/Scan
    /// bodies cannot be observed); the session rejects others when it compiles.
    public var observedTensors: Set<String> = []

    public init(threads: Int? = nil, fp16: Bool = false, planBuffers: Bool = true) {
        self.threads = max(1, threads ?? SessionOptions.availableCores)
        self.fp16 = fp16
        self.planBuffers = planBuffers
    }

    /// Cores available to this process.
    public static var availableCores: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
}
