/// Convolution weights prepared once (session compile time) for `Kernels.conv`.
/// ONNX layout in: [C_out, C_in/groups, k…]. Per group, W_g (C_out/g × K) is packed as the
/// GEMM left operand, since output_g (C_out/g × out plane) = W_g · im2col(input_g).
/// Depthwise 2-D weights are kept as is for the direct kernel.
public final class ConvWeights: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    public let geometry: ConvGeometry
    let packed: [PackedMatrix]
    let depthwise: [Float]
    let kernels: KernelSet

    public init(weights: UnsafePointer<Float>, geometry g: ConvGeometry, isa: KernelISA? = nil) {
        precondition(g.problem == nil, g.problem ?? "")
        geometry = g
        let ks = KernelSet.forISA(isa)
        kernels = ks
        if g.isDepthwise2D {
            depthwise = Array(UnsafeBufferPointer(start: weights, count: g.outChannels * g.kernelPlane))
            packed = []
        } else {
            depthwise = []
            let cog = g.outChannels / g.groups, kdim = g.reductionSize
            packed = (0..<g.groups).map { grp in
                PackedMatrix(packingA: weights + grp * cog * kdim, m: cog, k: kdim, lda: kdim, isa: ks.isa)
            }
        }
    }

    /// Weights for the int8 path: (w − zeroPoint) as floats, exact. `zeroPoints` has one entry
    /// (per tensor) or C_out entries (per output channel).
    public convenience init(int8Weights weights: UnsafeRawPointer, signed: Bool, zeroPoints: [Int32],
                            geometry g: ConvGeometry, isa: KernelISA? = nil) {
        let count = g.outChannels * g.reductionSize
        var f = [Float](repeating: 0, count: count)
        let per = g.reductionSize
        for i in 0..<count {
            let raw = signed ? Int32(weights.load(fromByteOffset: i, as: Int8.self)) : Int32(weights.load(fromByteOffset: i, as: UInt8.self))
            let zp = zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[i / per]
            f[i] = Float(raw - zp)
        }
        // Depthwise 2-D keeps the direct kernel when its per-output sums stay exact (≤ 256 taps,
        // see convInt8); otherwise the geometry is lifted to 3-D so the GEMM path takes it.
        self.init(weights: f, geometry: ConvWeights.liftedForInt8(g), isa: isa)
    }

    /// The int8 path's geometry: a 2-D depthwise conv with more than 256 taps is lifted to 3-D.
    static func liftedForInt8(_ g: ConvGeometry) -> ConvGeometry {
        var gg = g
        if g.isDepthwise2D && g.kernelPlane > 256 {
            gg.inputSize.append(1); gg.kernelSize.append(1); gg.strides.append(1); gg.dilations.append(1)
            gg.padsBegin.append(0); gg.padsEnd.append(0)
        }
        return gg
    }

    /// The same packed weights for another input size. Packing depends only on the channels,
    /// groups, kernel size and rank, never on the spatial input size, strides, pads or
    /// dilations, so a session packs once at compile time and re-targets the packing per input
    /// shape without copying.
    public func with(geometry requested: ConvGeometry) -> ConvWeights {
        // Weights packed by init(int8Weights:) for a lifted depthwise geometry stay lifted.
        let g = geometry.rank == requested.rank + 1 ? ConvWeights.liftedForInt8(requested) : requested
        if g == geometry { return self }
        precondition(g.problem == nil, g.problem ?? "")
        precondition(g.inChannels == geometry.inChannels && g.outChannels == geometry.outChannels && g.groups == geometry.groups
                     && g.kernelSize == geometry.kernelSize && g.rank == geometry.rank,
                     "ConvWeights re-targeted to a geometry with other channels, groups or kernel")
        return ConvWeights(sharing: self, geometry: g)
    }

    private init(sharing other: ConvWeights, geometry g: ConvGeometry) {
        geometry = g
        packed = other.packed
        depthwise = other.depthwise
        kernels = other.kernels
    }

    /// A geometry for packing only: the given channels and kernel over an input exactly one
    /// kernel window large (stride 1, no pads), valid whatever the real input size will be.
    public static func packingGeometry(inChannels: Int, outChannels: Int, groups: Int, kernelSize: [Int]) -> ConvGeometry {
        ConvGeometry(inChannels: inChannels, outChannels: outChannels, groups: groups, inputSize: kernelSize, kernelSize: kernelSize)
    }

    /// Bytes held by the packed weights.
    public var byteCount: Int { packed.reduce(0) { $0 + $1.byteCount } + depthwise.count * 4 }
}

extension Kernels {
    /// output = activation(conv(input, weights) + bias) for `batch` images.
    /// input: batch × C_in × inputSize (contiguous), output: batch × C_out × outputSize, bias: C_out or nil.
    /// Paths: depthwise 2-D → direct kernel; pointwise → GEMM on the input; else im2col + GEMM.
    public static func conv(_ weights: ConvWeights, batch: Int = 1, input: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>?, activation: Activation = .none,
                            output: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        let g = weights.geometry, ks = weights.kernels
        let inImage = g.inChannels * g.inputPlane, outImage = g.outChannels * g.outputPlane
        if g.isDepthwise2D {
            depthwise(weights, batch: batch, input: input, bias: bias, activation: activation, output: output, pool: pool)
            return
        }
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        let n = g.outputPlane, kdim = g.reductionSize
        for img in 0..<batch {
            for grp in 0..<g.groups {
                let x = input + img * inImage + grp * cig * g.inputPlane
                let y = output + img * outImage + grp * cog * n
                // Pointwise: the input already is the K × N operand. Otherwise implicit im2col.
                let b: PanelSource = g.isPointwise ? .raw(x, ld: n, trans: false)
                    : .custom(im2colPanelPacker(g, input: x, padValue: 0, nr: ks.nr))
                let epi = Epilogue(bias: bias.map { .perRow($0 + grp * cog) } ?? .none, activation: activation)
                GEMMDriver(ks: ks, m: cog, n: n, k: kdim, alpha: 1, a: .packed(weights.packed[grp]),
                           b: b, output: .float(y, ldc: n, beta: 0, epi), pool: pool).run()
            }
        }
    }

    /// Exact integer convolution for QLinearConv / ConvInteger: output (int32) =
    /// Σ (x − xZeroPoint)·(w − wZeroPoint), with `weights` from `ConvWeights(int8Weights:…)`.
    /// input: batch × C_in × inputSize bytes (uint8 or int8 per `inputSigned`).
    /// Exactness: every |x − zx|, |w − zw| ≤ 255, so a k-block of ≤ 256 products sums to < 2²⁴ in
    /// magnitude and the float micro-kernel computes it exactly; blocks are added in int32.
    public static func convInt8(_ weights: ConvWeights, batch: Int = 1, input: UnsafeRawPointer, inputSigned: Bool,
                                inputZeroPoint: Int32, output: UnsafeMutablePointer<Int32>, pool: ThreadPool? = nil) {
        let g = weights.geometry, ks = weights.kernels
        precondition(ks.kc <= 256, "int8 exactness needs k-blocks of at most 256")
        let inImage = g.inChannels * g.inputPlane, outImage = g.outChannels * g.outputPlane
        if g.isDepthwise2D {
            // Direct depthwise kernel on (x − zx) and (w − zw): ≤ 256 taps of products ≤ 65025 sum
            // to < 2²⁴, so the float result is the exact integer (pads read 0 = x_zero_point − zx).
            let count = batch * inImage, outCount = batch * outImage
            Workspace.with(floats: count + outCount) { buf in
                bytesToFloat(input, signed: inputSigned, zeroPoint: inputZeroPoint, into: buf, count: count)
                let y = buf + count
                depthwise(weights, batch: batch, input: buf, bias: nil, activation: .none, output: y, pool: pool)
                for i in 0..<outCount { output[i] = Int32(y[i]) }
            }
            return
        }
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        let n = g.outputPlane, kdim = g.reductionSize
        let xf = UnsafeMutablePointer<Float>.allocate(capacity: max(1, cig * g.inputPlane))
        defer { xf.deallocate() }
        for img in 0..<batch {
            for grp in 0..<g.groups {
                let base = img * inImage + grp * cig * g.inputPlane
                bytesToFloat(input + base, signed: inputSigned, zeroPoint: inputZeroPoint, into: xf, count: cig * g.inputPlane)
                let b: PanelSource = g.isPointwise ? .raw(xf, ld: n, trans: false)
                    : .custom(im2colPanelPacker(g, input: xf, padValue: 0, nr: ks.nr))
                GEMMDriver(ks: ks, m: cog, n: n, k: kdim, alpha: 1, a: .packed(weights.packed[grp]),
                           b: b,
                           output: .int32(output + img * outImage + grp * cog * n, ldc: n), pool: pool).run()
            }
        }
    }

    static func depthwise(_ weights: ConvWeights, batch: Int, input: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          activation: Activation, output: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        let g = weights.geometry, ks = weights.kernels
        let o = g.outputSize
        let geo = [g.inputSize[0], g.inputSize[1], o[0], o[1], g.kernelSize[0], g.kernelSize[1], g.strides[0], g.strides[1],
                   g.padsBegin[0], g.padsBegin[1], g.dilations[0], g.dilations[1]]
        let scratchCount = ks.depthwiseScratchCount(geo)
        let workers = pool?.threadCount ?? 1
        let (code, p0, p1) = activation.encoded
        // Hoisted: the geometry's computed sizes would otherwise be re-derived for every plane.
        let channels = g.outChannels, inPlane = g.inputPlane, outPlane = o[0] * o[1], kPlane = g.kernelPlane
        let planes = batch * channels
        Workspace.with(floats: scratchCount * workers) { scratch in
            weights.depthwise.withUnsafeBufferPointer { w in
                let wp = w.baseAddress!
                let body: (Int, Int) -> Void = { plane, worker in
                    let ch = plane % channels
                    ks.depthwisePlane(geo, input + plane * inPlane, wp + ch * kPlane, bias?[ch] ?? 0,
                                      output + plane * outPlane, scratch + worker * scratchCount, code, p0, p1)
                }
                if let pool, pool.threadCount > 1 { pool.parallelFor(planes, body) } else { for p in 0..<planes { body(p, 0) } }
            }
        }
    }
}

/// bytes (uint8 or int8) − zeroPoint → Float, exact.
func bytesToFloat(_ src: UnsafeRawPointer, signed: Bool, zeroPoint: Int32, into dst: UnsafeMutablePointer<Float>, count: Int) {
    let zp = Float(zeroPoint)
    if signed {
        let s = src.assumingMemoryBound(to: Int8.self)
        for i in 0..<count { dst[i] = Float(s[i]) - zp }
    } else {
        let s = src.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { dst[i] = Float(s[i]) - zp }
    }
}
