import EdgeIR
import EdgeKernels
import Foundation

/// Conv and ConvTranspose (1-, 2- and 3-D, NCHW) on the EdgeKernels convolution: depthwise
/// direct kernel, 1×1 as GEMM, otherwise im2col + packed SGEMM, bias fused in the epilogue.
/// Constant weights are packed once per input size and reused across runs. float16/bfloat16/double
/// compute in float32 and round the result to the tensor's type.
enum ConvOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("Conv") { b in try ConvKernel(b) },
        OperatorSpec("ConvTranspose") { b in try ConvTransposeKernel(b) },
    ]
}

final class ConvKernel: TensorKernel, BakesConstants, @unchecked Sendable {
    // @unchecked: `constantWeights`, `packedWeights` and `activation` change only while the session
    // compiles (fusion, then `bake()`), before the kernel is shared; `cache` is only touched under `lock`.
    let window: WindowAttributes
    let group: Int
    /// Constant weights as float32 until `bake()` packs them (fusion reads and rewrites them first).
    private(set) var constantWeights: Tensor?
    let constantBias: Tensor?
    /// Shape of the constant weights ([C_out, C_in/group, k…]), kept after they are packed.
    let constantWeightShape: [Int]?
    /// The constant weights packed once for the kernels (set by `bake()`); the float tensor is
    /// then released, so a session holds each weight once.
    private var packedWeights: ConvWeights?
    /// Fused activation (set when the session fuses a following Relu/Clip/... into this Conv).
    var activation: Activation = .none
    /// Input 3 is a residual z added after the bias and before the activation: the session's fused
    /// Conv → Add(skip), or FusedConv's optional Z. When z has the output's shape (and both are
    /// float32), it is added in the kernels' epilogue; otherwise the Add runs separately with
    /// ONNX broadcasting, so the result is that of the unfused nodes either way.
    var addsResidual = false
    private let lock = NSLock()
    /// Per input size: the packed weights re-targeted to that geometry (views, no copies).
    private var cache: [[Int]: ConvWeights] = [:]

    init(_ b: KernelBuildContext) throws {
        window = WindowAttributes(b)
        group = b.int("group", 1)
        constantWeights = try b.constantInput(1).map { w in
            guard w.dtype.isFloatingPoint else { throw b.error("weights must be a float tensor") }
            return HalfRounding.float32(w)
        }
        constantWeightShape = constantWeights?.shape
        constantBias = b.constantInput(2).map { HalfRounding.float32($0) }
    }

    /// A copy of `other` with replaced constant weights/bias (compile-time fusion).
    init(fusing other: ConvKernel, weights: Tensor?, bias: Tensor?) {
        window = other.window
        group = other.group
        constantWeights = weights
        constantWeightShape = weights?.shape ?? other.constantWeightShape
        constantBias = bias
        activation = other.activation
        addsResidual = other.addsResidual
        // Same weights, already packed (fusing only an activation): share the packing.
        if weights == nil, let packed = other.packedWeights { packedWeights = packed }
    }

    var bakedInputs: [Int] {
        (constantWeightShape != nil ? [1] : []) + (constantBias != nil ? [2] : [])
    }

    var bakedBytes: Int {
        (packedWeights?.byteCount ?? constantWeights?.byteCount ?? 0) + (constantBias?.byteCount ?? 0)
    }

    /// Packs the constant weights (once, whatever the input size) and drops the float copy.
    /// Weights whose shape cannot be a convolution are left for `compute` to report.
    func bake(_ options: SessionOptions) {
        guard packedWeights == nil, let w = constantWeights, w.rank >= 3, w.rank <= 5, group > 0 else { return }
        let kernel = Array(w.shape[2...])
        let geometry = ConvWeights.packingGeometry(inChannels: w.shape[1] * group, outChannels: w.shape[0], groups: group,
                                                   kernelSize: kernel)
        guard geometry.problem == nil else { return }
        packedWeights = withExtendedLifetime(w) {
            ConvWeights(weights: w.pointer(Float.self), geometry: geometry, algorithm: options.winograd ? .automatic : .gemm)
        }
        constantWeights = nil
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let input = try i.required(0, c)
        let x = try input.asFloat32(c)
        let w: Tensor? = packedWeights == nil ? try constantWeights ?? i.required(1, c).asFloat32(c) : nil
        let wShape = constantWeightShape ?? w!.shape
        let bias = try constantBias ?? i.optional(2)?.asFloat32(c)
        guard x.rank >= 3, wShape.count == x.rank else {
            throw EdgeError.badInput("\(c.nodeDescription): input \(x.shape) and weights \(wShape) must be N×C×spatial of one rank")
        }
        let spatial = Array(x.shape[2...])
        let r = try window.resolve(input: spatial, kernel: Array(wShape[2...]), c)
        let cIn = x.shape[1], cOut = wShape[0]
        guard group > 0, cIn % group == 0, wShape[1] * group == cIn, Array(wShape[2...]) == r.kernel else {
            throw EdgeError.badInput("\(c.nodeDescription): weights \(wShape) do not fit input \(x.shape) with group \(group)")
        }
        if let bias, bias.elementCount != cOut {
            throw EdgeError.badInput("\(c.nodeDescription): bias has \(bias.elementCount) elements, expected \(cOut)")
        }
        let geometry = ConvGeometry(inChannels: cIn, outChannels: cOut, groups: group, inputSize: spatial, kernelSize: r.kernel,
                                    strides: r.strides, dilations: r.dilations, padsBegin: r.padsBegin, padsEnd: r.padsEnd)
        if let problem = geometry.problem { throw EdgeError.badInput("\(c.nodeDescription): \(problem)") }
        let packed: ConvWeights
        if let packedWeights {
            lock.lock()
            if let hit = cache[spatial] { packed = hit } else {
                packed = packedWeights.with(geometry: geometry)
                cache[spatial] = packed
            }
            lock.unlock()
        } else {
            packed = ConvWeights(weights: w!.pointer(Float.self), geometry: geometry)
        }
        let outShape = [x.shape[0], cOut] + r.output
        let z = addsResidual ? try i.required(3, c) : nil
        if let z, z.dtype != .float || input.dtype != .float || z.shape != outShape {
            return [try separateResidual(packed, x: x, dtype: input.dtype, bias: bias, z: z, shape: outShape, c)]
        }
        let out = try c.allocate(.float, outShape)
        withExtendedLifetime((x, w, bias, z)) {
            Kernels.conv(packed, batch: x.shape[0], input: x.pointer(Float.self), bias: bias?.pointer(Float.self),
                         activation: activation, residual: z?.pointer(Float.self), output: out.mutablePointer(Float.self),
                         pool: c.kernelPool)
        }
        return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
    }

    /// Conv, then Add(·, z) with broadcasting in the input's type, then the activation: the
    /// unfused nodes' result, for a residual the epilogue cannot take (another shape or type).
    private func separateResidual(_ packed: ConvWeights, x: Tensor, dtype: DType, bias: Tensor?, z: Tensor, shape: [Int],
                                  _ c: ExecutionContext) throws -> Tensor {
        let convOut = try c.allocate(.float, shape)
        withExtendedLifetime((x, bias)) {
            Kernels.conv(packed, batch: x.shape[0], input: x.pointer(Float.self), bias: bias?.pointer(Float.self),
                         output: convOut.mutablePointer(Float.self), pool: c.kernelPool)
        }
        return try ResidualTail.separate(convOut, dtype: dtype, z: z, activation: activation, c)
    }
}

final class ConvTransposeKernel: TensorKernel, BakesConstants, @unchecked Sendable {
    // @unchecked: `constantWeights`/`packedWeights` change only in `bake()`, while the session
    // compiles and before the kernel is shared.
    let window: WindowAttributes
    let group: Int
    let outputPadding: [Int]?
    let outputShape: [Int]?
    private var constantWeights: Tensor?
    /// Shape of the constant weights ([C_in, C_out/group, k…]), kept after they are packed.
    let constantWeightShape: [Int]?
    /// Packed once by `bake()` (the packing does not depend on the input size); the float tensor
    /// is then released.
    private var packedWeights: ConvTransposeWeights?

    init(_ b: KernelBuildContext) throws {
        window = WindowAttributes(b)
        group = b.int("group", 1)
        outputPadding = b.ints("output_padding")
        outputShape = b.ints("output_shape")
        constantWeights = b.constantInput(1).map { HalfRounding.float32($0) }
        constantWeightShape = constantWeights?.shape
    }

    var bakedInputs: [Int] { constantWeightShape != nil ? [1] : [] }
    var bakedBytes: Int { packedWeights?.byteCount ?? constantWeights?.byteCount ?? 0 }

    func bake(_ options: SessionOptions) {
        guard packedWeights == nil, let w = constantWeights, w.rank >= 3, w.rank <= 5, group > 0, w.shape[0] % group == 0 else { return }
        let kernel = Array(w.shape[2...])
        let geometry = ConvTransposeGeometry(inChannels: w.shape[0], outChannels: w.shape[1] * group, groups: group,
                                             inputSize: kernel.map { _ in 1 }, kernelSize: kernel, outputSize: kernel)
        guard geometry.problem == nil else { return }
        packedWeights = withExtendedLifetime(w) { ConvTransposeWeights(weights: w.pointer(Float.self), geometry: geometry) }
        constantWeights = nil
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let input = try i.required(0, c)
        let x = try input.asFloat32(c)
        let w: Tensor? = packedWeights == nil ? try constantWeights ?? i.required(1, c).asFloat32(c) : nil
        let wShape = constantWeightShape ?? w!.shape
        let bias = try i.optional(2)?.asFloat32(c)
        guard x.rank >= 3, wShape.count == x.rank, wShape[0] == x.shape[1], group > 0, x.shape[1] % group == 0 else {
            throw EdgeError.badInput("\(c.nodeDescription): input \(x.shape) and weights \(wShape) do not fit (group \(group))")
        }
        let rank = x.rank - 2
        let spatial = Array(x.shape[2...])
        let kernel = window.kernelShape ?? Array(wShape[2...])
        let s = window.strides ?? Array(repeating: 1, count: rank)
        let d = window.dilations ?? Array(repeating: 1, count: rank)
        let op = outputPadding ?? Array(repeating: 0, count: rank)
        guard kernel.count == rank, s.count == rank, d.count == rank, op.count == rank else {
            throw EdgeError.badInput("\(c.nodeDescription): attribute lengths do not match the \(rank)-D input")
        }
        var begin = [Int](repeating: 0, count: rank), end = [Int](repeating: 0, count: rank)
        var output = [Int](repeating: 0, count: rank)
        for k in 0..<rank {
            // Full (unpadded) output extent of this axis.
            let full = s[k] * (spatial[k] - 1) + op[k] + (kernel[k] - 1) * d[k] + 1
            if let outputShape {
                let target = outputShape.count == rank ? outputShape[k] : outputShape[outputShape.count - rank + k]
                // ONNX: SAME_UPPER puts the extra pixel at the end, everything else at the start.
                let total = Swift.max(full - target, 0)
                begin[k] = window.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                end[k] = total - begin[k]
                output[k] = target
            } else if window.autoPad == "SAME_UPPER" || window.autoPad == "SAME_LOWER" {
                output[k] = spatial[k] * s[k]
                let total = Swift.max(full - output[k], 0)
                begin[k] = window.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                end[k] = total - begin[k]
            } else {
                if let pads = window.pads, window.autoPad != "VALID" {
                    guard pads.count == 2 * rank else { throw EdgeError.badInput("\(c.nodeDescription): pads do not match rank") }
                    begin[k] = pads[k]; end[k] = pads[rank + k]
                }
                output[k] = full - begin[k] - end[k]
            }
        }
        let cOut = wShape[1] * group
        let geometry = ConvTransposeGeometry(inChannels: x.shape[1], outChannels: cOut, groups: group, inputSize: spatial,
                                             kernelSize: kernel, outputSize: output, strides: s, dilations: d, padsBegin: begin)
        if let problem = geometry.problem { throw EdgeError.badInput("\(c.nodeDescription): \(problem)") }
        if let bias, bias.elementCount != cOut { throw EdgeError.badInput("\(c.nodeDescription): bias length differs from C_out") }
        let packed: ConvTransposeWeights
        if let packedWeights, packedWeights.geometry.kernelSize == kernel {
            packed = packedWeights.with(geometry: geometry)
        } else if let w {
            packed = ConvTransposeWeights(weights: w.pointer(Float.self), geometry: geometry)
        } else {
            throw EdgeError.badInput("\(c.nodeDescription): kernel_shape \(kernel) differs from the weights' \(Array(wShape[2...]))")
        }
        let out = try c.allocate(.float, [x.shape[0], cOut] + output)
        withExtendedLifetime((x, w, bias)) {
            Kernels.convTranspose(packed, batch: x.shape[0], input: x.pointer(Float.self), bias: bias?.pointer(Float.self),
                                  output: out.mutablePointer(Float.self), pool: c.kernelPool)
        }
        return [input.dtype == .float ? out : try CastOperators.cast(out, to: input.dtype, c)]
    }
}
