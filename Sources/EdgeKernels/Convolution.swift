import Foundation

/// Convolution weights prepared once (session compile time) for `Kernels.conv`.
/// ONNX layout in: [C_out, C_in/groups, k…]. Forms, built once and shared by every view
/// re-targeted with `with(geometry:)`:
/// - im2col GEMM: per group, W_g (C_out/g × K) packed as the GEMM left operand, since
///   output_g (C_out/g × out plane) = W_g · im2col(input_g);
/// - depthwise 2-D: the weights as they are, for the direct kernel;
/// - few input channels (a first layer, `SmallConv.supports`): [tap][C_out] for the direct kernel.
/// Winograd (2-D 3×3, one group) runs from the im2col packing too: it transforms U = G g Gᵀ per
/// run, block by block (see Winograd.swift), so the weights are held once whatever algorithm
/// each input size picks (`Winograd.choose`), and the held bytes are those of the packing.
public final class ConvWeights: @unchecked Sendable {
    // @unchecked Sendable: `geometry`, `store` and `kernels` are immutable (KernelSet holds
    // @Sendable closures and constants).
    public let geometry: ConvGeometry
    let kernels: KernelSet
    let store: ConvWeightStore

    public init(weights: UnsafePointer<Float>, geometry g: ConvGeometry, isa: KernelISA? = nil,
                algorithm: ConvAlgorithm = .automatic) {
        precondition(g.problem == nil, g.problem ?? "")
        geometry = g
        let ks = KernelSet.forISA(isa)
        kernels = ks
        store = ConvWeightStore(weights: weights, geometry: g, kernels: ks, algorithm: algorithm)
    }

    /// Weights for the int8 path: (w − zeroPoint) as floats, exact. `zeroPoints` has one entry
    /// (per tensor) or C_out entries (per output channel). Always im2col / depthwise: Winograd's
    /// transforms are not exact in integers.
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
        self.init(weights: f, geometry: ConvWeights.liftedForInt8(g), isa: isa, algorithm: .gemm)
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

    /// The same weights for another input size. The forms depend only on the channels, groups,
    /// kernel size and rank (and, for Winograd, the tile size), never directly on the spatial
    /// input size, strides, pads or dilations, so a session prepares once at compile time and
    /// re-targets per input shape without copying.
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
        store = other.store
        kernels = other.kernels
    }

    /// A geometry for packing only: the given channels and kernel over an input exactly one
    /// kernel window large (stride 1, no pads), valid whatever the real input size will be.
    public static func packingGeometry(inChannels: Int, outChannels: Int, groups: Int, kernelSize: [Int]) -> ConvGeometry {
        ConvGeometry(inChannels: inChannels, outChannels: outChannels, groups: groups, inputSize: kernelSize, kernelSize: kernelSize)
    }

    /// Bytes held by the prepared weights (shared by all views of these weights).
    public var byteCount: Int { store.byteCount }

    /// The algorithm `Kernels.conv` runs for this view's geometry.
    public var algorithm: ConvAlgorithm {
        switch store.form(for: geometry) {
        case let .winograd(_, m): return .winograd(m: m)
        case .direct: return .direct
        default: return .gemm
        }
    }
}

/// The prepared forms of one set of conv weights (see `ConvWeights`); immutable after init.
final class ConvWeightStore: Sendable {
    enum Form {
        case depthwise([Float])
        /// Direct small-C_in conv (SmallConv.swift), weights [tap][C_out].
        case direct([Float])
        case gemm([PackedMatrix])
        /// F(m, 3) from the (single-group) im2col packing.
        case winograd(PackedMatrix, m: Int)
    }

    let kernels: KernelSet
    let algorithm: ConvAlgorithm
    let depthwise: [Float]?
    let direct: [Float]?
    let packed: [PackedMatrix]
    /// Winograd may run these weights (2-D 3×3, one group, an ISA with the transforms).
    let winogradCapable: Bool

    init(weights: UnsafePointer<Float>, geometry g: ConvGeometry, kernels ks: KernelSet, algorithm: ConvAlgorithm) {
        kernels = ks
        self.algorithm = algorithm
        if g.isDepthwise2D {
            depthwise = Array(UnsafeBufferPointer(start: weights, count: g.outChannels * g.kernelPlane))
            direct = nil
            packed = []
            winogradCapable = false
            return
        }
        depthwise = nil
        // A first layer (C_in ≤ 4, K ≤ 160) runs the direct kernel at every input size, unless
        // im2col or Winograd is forced: with K this small a GEMM tile does ~K products per
        // packed column, and the packing copies the input kh·kw/(sh·sw) times.
        if (algorithm == .automatic || algorithm == .direct) && SmallConv.supports(g) {
            direct = SmallConv.pack(weights, g)
            packed = []
            winogradCapable = false
            return
        }
        direct = nil
        winogradCapable = algorithm != .gemm && Winograd.supports(g, ks)
        packed = ConvWeightStore.pack(weights, g, ks)
    }

    static func pack(_ weights: UnsafePointer<Float>, _ g: ConvGeometry, _ ks: KernelSet) -> [PackedMatrix] {
        let cog = g.outChannels / g.groups, kdim = g.reductionSize
        return (0..<g.groups).map { grp in
            PackedMatrix(packingA: weights + grp * cog * kdim, m: cog, k: kdim, lda: kdim, isa: ks.isa)
        }
    }

    /// The form `geometry` runs with.
    func form(for g: ConvGeometry) -> Form {
        if let depthwise { return .depthwise(depthwise) }
        if let direct { return .direct(direct) }
        if winogradCapable {
            var m: Int? = nil
            switch algorithm {
            case .automatic: m = Winograd.choose(g, kernels)
            case let .winograd(forced): m = Winograd.applies(g, kernels) ? forced : nil
            case .gemm, .direct: m = nil
            }
            if let m { return .winograd(packed[0], m: m) }
        }
        return .gemm(packed)
    }

    /// The im2col packing (padded to MR rows per group), the depthwise or the direct weights.
    var byteCount: Int {
        packed.reduce(0) { $0 + $1.byteCount } + (depthwise?.count ?? 0) * 4 + (direct?.count ?? 0) * 4
    }
}

extension Kernels {
    /// output = activation(conv(input, weights) + bias + residual) for `batch` images.
    /// input: batch × C_in × inputSize (contiguous), output: batch × C_out × outputSize, bias: C_out or nil,
    /// residual: nil or laid out as output and not overlapping it (a residual block's skip input,
    /// Conv → Add(skip) → act as one call, without the Add's buffer).
    /// Paths: depthwise 2-D → direct kernel; C_in ≤ 4 (a first layer) → direct kernel
    /// (SmallConv.swift); 3×3 stride 1 → Winograd when its cost model wins; pointwise → GEMM on
    /// the input; else im2col + GEMM.
    ///
    /// The residual is added by one contiguous pass over the output after the conv (bias in, the
    /// activation deferred to that pass), split across the pool. Adding z inside each GEMM tile
    /// (in AVX-512 registers before the store) or in Winograd's copy-out was tried and was not
    /// faster (edgeopt-kernel-bench, AVX-512, 1 thread, load 5–10: ResNet-50 1×1 64→256 at 56²
    /// 0.91 vs 0.64 ms and 1.08 vs 0.91 ms in two runs, ResNet-18 Winograd 3×3 64→64 at 56² 0.85
    /// vs 0.72 ms; 1×1 256→1024 at 14² and MobileNetV2's 144→24 at 56² within ±10%, the noise):
    /// the tiles walk down ~170 output rows per column panel, so z's reads there are strided
    /// misses no prefetcher follows, while the pass streams.
    public static func conv(_ weights: ConvWeights, batch: Int = 1, input: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>?, activation: Activation = .none, residual: UnsafePointer<Float>? = nil,
                            output: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        let g = weights.geometry, ks = weights.kernels
        if let residual {
            conv(weights, batch: batch, input: input, bias: bias, output: output, pool: pool)
            addResidual(output, residual, count: batch * g.outChannels * g.outputPlane, activation: activation, ks: ks, pool: pool)
            return
        }
        let inImage = g.inChannels * g.inputPlane, outImage = g.outChannels * g.outputPlane
        let packed: [PackedMatrix]
        switch weights.store.form(for: g) {
        case let .depthwise(w):
            depthwise(w, g, ks, batch: batch, input: input, bias: bias, activation: activation, output: output, pool: pool)
            return
        case let .winograd(w, m):
            winogradConv(w, m: m, g, ks, batch: batch, input: input, bias: bias, activation: activation, output: output, pool: pool)
            return
        case let .direct(w):
            SmallConv.run(w, g, ks, batch: batch, input: input, bias: bias, activation: activation, output: output, pool: pool)
            return
        case let .gemm(p):
            packed = p
        }
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        let n = g.outputPlane, kdim = g.reductionSize
        let groupGEMM = { (task: Int, pool: ThreadPool?) in
            let img = task / g.groups, grp = task % g.groups
            let x = input + img * inImage + grp * cig * g.inputPlane
            let y = output + img * outImage + grp * cog * n
            // Pointwise: the input already is the K × N operand. Otherwise implicit im2col.
            let b: PanelSource = g.isPointwise ? .raw(x, ld: n, trans: false)
                : .custom(im2colPanelPacker(g, input: x, padValue: 0, kernels: ks))
            let epi = Epilogue(bias: bias.map { .perRow($0 + grp * cog) } ?? .none, activation: activation)
            GEMMDriver(ks: ks, m: cog, n: n, k: kdim, alpha: 1, a: .packed(packed[grp]),
                       b: b, output: .float(y, ldc: n, beta: 0, epi), pool: pool).run()
        }
        let tasks = batch * g.groups
        if let pool, pool.threadCount > 1, g.groups > 1, tasks % pool.threadCount == 0 {
            // Grouped conv (ShuffleNet's 1×1 layers): whole group GEMMs per thread. Each is small
            // (a few dozen rows), so splitting one across threads costs more in hand-offs than
            // it gains; equal counts per thread keep the split balanced.
            pool.parallelFor(tasks) { task, _ in groupGEMM(task, nil) }
        } else {
            for task in 0..<tasks { groupGEMM(task, pool) }
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
        let packed: [PackedMatrix]
        switch weights.store.form(for: g) {
        case let .gemm(p): packed = p
        case let .depthwise(w):
            // Direct depthwise kernel on (x − zx) and (w − zw): ≤ 256 taps of products ≤ 65025 sum
            // to < 2²⁴, so the float result is the exact integer (pads read 0 = x_zero_point − zx).
            let count = batch * inImage, outCount = batch * outImage
            Workspace.with(floats: count + outCount) { buf in
                bytesToFloat(input, signed: inputSigned, zeroPoint: inputZeroPoint, into: buf, count: count)
                let y = buf + count
                depthwise(w, g, ks, batch: batch, input: buf, bias: nil, activation: .none, output: y, pool: pool)
                for i in 0..<outCount { output[i] = Int32(y[i]) }
            }
            return
        case .winograd, .direct:
            preconditionFailure("int8 weights are packed for GEMM or depthwise only (algorithm .gemm)")
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
                    : .custom(im2colPanelPacker(g, input: xf, padValue: 0, kernels: ks))
                GEMMDriver(ks: ks, m: cog, n: n, k: kdim, alpha: 1, a: .packed(packed[grp]),
                           b: b,
                           output: .int32(output + img * outImage + grp * cog * n, ldc: n), pool: pool).run()
            }
        }
    }

    /// y = act(y + z) over `count` contiguous floats, in chunks of whole vectors per thread.
    static func addResidual(_ y: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, count: Int, activation: Activation,
                            ks: KernelSet, pool: ThreadPool?) {
        let (code, p0, p1) = activation.encoded
        let threads = pool?.threadCount ?? 1
        // Chunks of at least 16 K floats, so a hand-off never costs more than the work.
        let chunks = max(1, min(threads, count / 16_384))
        let per = (count + chunks - 1) / chunks / 16 * 16 + 16
        let body: (Int, Int) -> Void = { chunk, _ in
            let start = chunk * per, n = min(per, count - start)
            if n > 0 { ks.epilogueResidual(y + start, n, 1, n, nil, nil, z + start, n, code, p0, p1) }
        }
        if let pool, chunks > 1 { pool.parallelFor(chunks, body) } else { for c in 0..<chunks { body(c, 0) } }
    }

    static func depthwise(_ weightsArray: [Float], _ g: ConvGeometry, _ ks: KernelSet, batch: Int, input: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>?, activation: Activation, output: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
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
            weightsArray.withUnsafeBufferPointer { w in
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
