/// # EdgeKernels — what the engine calls
///
/// Raw-pointer compute kernels; they know nothing of the IR. All matrices are row-major Float
/// unless stated; every entry point takes `pool: ThreadPool?` (nil = calling thread only) and most
/// an `isa: KernelISA?` (nil = `KernelISA.active`: best detected level, or `EDGEOPT_ISA`).
/// Pointers must be valid for the whole call; outputs must not alias inputs.
///
/// ## Performance notes (AVX-512, this machine, release; see scripts/bench-kernels)
/// SGEMM ≈ 160–180 GFLOPS on one core (≈ 1.6× numpy/OpenBLAS), ≈ 1.8–2× at two threads; the int8
/// GEMM runs on vpdpbusd where the CPU has AVX-512 VNNI, else on the float micro-kernel (exact,
/// see Int8GEMM.swift) at ≈ 125–150 GOPS per core.
///
/// ## Threads
/// - `ThreadPool(threads: Int = ThreadPool.defaultThreadCount)` — persistent workers; the caller
///   participates. `pool.parallelFor(count) { index in … }` / `{ index, worker in … }` (contiguous
///   shares with stealing, so which indices a worker runs is not fixed; `worker < threadCount` is
///   unique among running bodies, for per-worker scratch). Nested calls run serially.
///
/// ## ISA
/// - `KernelISA.portable | .avx2 | .avx512`; `KernelISA.detected`, `.active`, `.supported`. The int8 kernels
///   use AVX-512 VNNI at the avx512 level when the CPU has it (EDGEOPT_ISA=avx2 turns it off).
///
/// ## SGEMM  (C = alpha·op(A)·op(B) + beta·C, then epilogue)
/// - `Kernels.sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:epilogue:pool:isa:)`
/// - `PackedMatrix(packingB:k:n:ldb:transposed:isa:)` — constant right operand (MatMul/Gemm weights),
///   then `Kernels.sgemm(transA:m:alpha:a:lda:packedB:beta:c:ldc:epilogue:pool:)`.
/// - `PackedMatrix(packingA:m:k:lda:transposed:isa:)` — constant left operand,
///   then `Kernels.sgemm(packedA:transB:n:alpha:b:ldb:beta:c:ldc:epilogue:pool:)`.
/// - `Epilogue(bias: .none | .perRow(ptr) | .perColumn(ptr), activation: Activation)`: y = act(y + bias),
///   `Activation`: .none .relu .clip(min:max:) .leakyRelu(alpha:) .sigmoid .hardSigmoid(alpha:beta:)
///   .hardSwish .silu .tanh .gelu. beta == 0 never reads C.
/// - `Kernels.applyEpilogue(c, m:n:ldc:epilogue:)` — the same epilogue on any block.
/// - Shapes are free: m ≤ MR/2 (batch-1 MatMul, RNN steps) runs a one-row kernel; k == 0 gives
///   beta·C + epilogue. A `PackedMatrix` is a padded copy (`byteCount`): drop the original weight
///   buffer if memory matters.
///
/// ## Convolution (NCHW, 1/2/3-D, ONNX semantics)
/// - `ConvGeometry(inChannels:outChannels:groups:inputSize:kernelSize:strides:dilations:padsBegin:padsEnd:)`
///   (spatial dims only; `.outputSize`, `.problem` → nil or a message for an EdgeError).
/// - `ConvWeights(weights: [C_out, C_in/g, k…] ptr, geometry:isa:algorithm:)` — pack once at compile time;
///   `.with(geometry:)` re-targets to another input size without copying; `.algorithm` tells what runs.
/// - `Kernels.conv(weights, batch:input:bias:activation:output:pool:)` — depthwise 2-D → direct kernel,
///   2-D one group with C_in ≤ 4 and C_in·kh·kw ≤ 160 (a first layer) → direct kernel (SmallConv.swift),
///   3×3 stride 1 one group → Winograd F(4,3) or F(2,3) when the cost model says so (AVX2/AVX-512;
///   `ConvAlgorithm.automatic | .gemm | .winograd(m:) | .direct` forces one), 1×1/stride 1/no pad → GEMM, else
///   im2col + GEMM; bias (C_out) and activation fused.
/// - `ConvTransposeGeometry(…, outputSize:, padsBegin:)` (caller resolves output_shape/output_padding/auto_pad;
///   `ConvTransposeGeometry.defaultOutputSize(…)` helps), `ConvTransposeWeights(weights: [C_in, C_out/g, k…], geometry:)`,
///   `Kernels.convTranspose(weights, batch:input:bias:activation:output:pool:)`.
///
/// ## Pooling
/// - `Kernels.maxPool2D(input, planes:ih:iw:oh:ow:kh:kw:sh:sw:padTop:padLeft:output:pool:isa:)` — MaxPool
///   without indices when `Kernels.maxPool2DSupports(strideW:dilations:)` (sw 1 or 2, no dilation).
///
/// ## Integer (exact)
/// - `Kernels.gemmInt8(m:n:k:a:aSigned:lda:aZeroPoint:b:bSigned:ldb:bZeroPoint:c:ldc:pool:isa:)` —
///   C(int32) = Σ (a − za)(b − zb), uint8/int8 either side, `ZeroPoint.scalar(z)` or `.perIndex(ptr)`
///   (per row of A / per column of B). Pre-packed weights: `PackedInt8Matrix(packing:signed:k:n:ldb:zeroPoints:isa:)`
///   (int8 VNNI panels, 1 byte per weight; float-exact `PackedMatrix(packingInt8B:…)` without VNNI)
///   + `Kernels.gemmInt8(m:a:aSigned:lda:aZeroPoint:packedB:c:ldc:pool:)`. `Kernels.int8UsesVNNI(isa:)` tells which runs.
/// - `Int8ConvWeights(weights:signed:zeroPoints:geometry:isa:)` (or the float-exact `ConvWeights(int8Weights:…)`)
///   + `Kernels.convInt8(weights, batch:input:inputSigned:inputZeroPoint:output:pool:)` → int32 (ConvInteger /
///   QLinearConv before requantization).
/// - `Kernels.requantize(src, rows:cols:bias:multiplier: .scalar(s) | .perRow(ptr), zeroPoint:outputSigned:dst:)` —
///   saturate(roundHalfEven(Float(acc + bias)·multiplier) + zp).
///
/// ## Half precision
/// - `Kernels.floatToHalf / halfToFloat / floatToBFloat16 / bfloat16ToFloat(src, dst, count:)` (UInt16 bits,
///   round-to-nearest-even, NaN kept), `Kernels.roundThroughHalf(buffer, count:)` for the FP16 mode.
public enum Kernels {}
