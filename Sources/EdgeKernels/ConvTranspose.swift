/// Shape of an N-d ConvTranspose (ONNX): input C_in × inputSize, weights [C_in, C_out/groups, k…],
/// output C_out × outputSize, where input position i and tap t land on output
/// o = i·stride − padBegin + t·dilation (dropped when outside the output). The caller resolves
/// output_shape / output_padding / auto_pad into `outputSize` and `padsBegin`.
public struct ConvTransposeGeometry: Sendable, Equatable {
    public var inChannels: Int, outChannels: Int, groups: Int
    public var inputSize: [Int], kernelSize: [Int], outputSize: [Int]
    public var strides: [Int], dilations: [Int], padsBegin: [Int]

    public init(inChannels: Int, outChannels: Int, groups: Int = 1, inputSize: [Int], kernelSize: [Int],
                outputSize: [Int], strides: [Int]? = nil, dilations: [Int]? = nil, padsBegin: [Int]? = nil) {
        let r = inputSize.count
        self.inChannels = inChannels; self.outChannels = outChannels; self.groups = groups
        self.inputSize = inputSize; self.kernelSize = kernelSize; self.outputSize = outputSize
        self.strides = strides ?? Array(repeating: 1, count: r)
        self.dilations = dilations ?? Array(repeating: 1, count: r)
        self.padsBegin = padsBegin ?? Array(repeating: 0, count: r)
    }

    /// The ONNX default output size: stride·(in − 1) + outputPadding + (k − 1)·dilation + 1 − padBegin − padEnd.
    public static func defaultOutputSize(inputSize: [Int], kernelSize: [Int], strides: [Int], dilations: [Int],
                                         padsBegin: [Int], padsEnd: [Int], outputPadding: [Int]) -> [Int] {
        (0..<inputSize.count).map { d in
            strides[d] * (inputSize[d] - 1) + outputPadding[d] + (kernelSize[d] - 1) * dilations[d] + 1 - padsBegin[d] - padsEnd[d]
        }
    }

    var rank: Int { inputSize.count }
    var inputPlane: Int { inputSize.reduce(1, *) }
    var outputPlane: Int { outputSize.reduce(1, *) }
    var kernelPlane: Int { kernelSize.reduce(1, *) }

    public var problem: String? {
        if rank < 1 || rank > 3 { return "only 1-, 2- and 3-D ConvTranspose is supported (got \(rank)-D)" }
        if [kernelSize, outputSize, strides, dilations, padsBegin].contains(where: { $0.count != rank }) {
            return "kernel/output/strides/dilations/pads ranks differ from the input's \(rank)"
        }
        if groups < 1 || inChannels % groups != 0 || outChannels % groups != 0 { return "group \(groups) does not divide the channels" }
        if outputSize.contains(where: { $0 < 0 }) { return "negative output size \(outputSize)" }
        return nil
    }
}

/// ConvTranspose weights prepared once: per group, W_gᵀ ((C_out/g · k) × C_in/g) packed as the
/// GEMM left operand, since cols_g = W_gᵀ · input_g and col2im scatters cols into the output.
public final class ConvTransposeWeights: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    public let geometry: ConvTransposeGeometry
    let packed: [PackedMatrix]
    let kernels: KernelSet

    public init(weights: UnsafePointer<Float>, geometry g: ConvTransposeGeometry, isa: KernelISA? = nil) {
        precondition(g.problem == nil, g.problem ?? "")
        geometry = g
        let ks = KernelSet.forISA(isa)
        kernels = ks
        let cig = g.inChannels / g.groups, rowsPerGroup = g.outChannels / g.groups * g.kernelPlane
        packed = (0..<g.groups).map { grp in
            PackedMatrix(packingA: weights + grp * cig * rowsPerGroup, m: rowsPerGroup, k: cig, lda: rowsPerGroup,
                         transposed: true, isa: ks.isa)
        }
    }

    private init(sharing other: ConvTransposeWeights, geometry g: ConvTransposeGeometry) {
        geometry = g
        packed = other.packed
        kernels = other.kernels
    }

    /// The same packed weights for another input/output size, strides, pads or dilations: the
    /// packing depends only on the channels, groups and kernel size, so it is done once.
    public func with(geometry g: ConvTransposeGeometry) -> ConvTransposeWeights {
        if g == geometry { return self }
        precondition(g.problem == nil, g.problem ?? "")
        precondition(g.inChannels == geometry.inChannels && g.outChannels == geometry.outChannels && g.groups == geometry.groups
                     && g.kernelSize == geometry.kernelSize,
                     "ConvTransposeWeights re-targeted to a geometry with other channels, groups or kernel")
        return ConvTransposeWeights(sharing: self, geometry: g)
    }

    /// Bytes held by the packed weights.
    public var byteCount: Int { packed.reduce(0) { $0 + $1.byteCount } }
}

extension Kernels {
    /// output = activation(convTranspose(input, weights) + bias) for `batch` images
    /// (input batch × C_in × inputSize, output batch × C_out × outputSize, bias C_out or nil).
    public static func convTranspose(_ weights: ConvTransposeWeights, batch: Int = 1, input: UnsafePointer<Float>,
                                     bias: UnsafePointer<Float>?, activation: Activation = .none,
                                     output: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        let g = weights.geometry, ks = weights.kernels
        let lead = 3 - g.rank
        func ext(_ v: [Int], _ f: Int) -> [Int] { Array(repeating: f, count: lead) + v }
        let i = ext(g.inputSize, 1), o = ext(g.outputSize, 1), k = ext(g.kernelSize, 1)
        let s = ext(g.strides, 1), d = ext(g.dilations, 1), p = ext(g.padsBegin, 0)
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        let inPlane = g.inputPlane, outPlane = g.outputPlane, kVol = g.kernelPlane
        let rows = cog * kVol
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * inPlane))
        defer { cols.deallocate() }
        let (code, p0, p1) = activation.encoded
        for img in 0..<batch {
            for grp in 0..<g.groups {
                let x = input + (img * g.inChannels + grp * cig) * inPlane
                GEMMDriver(ks: ks, m: rows, n: inPlane, k: cig, alpha: 1, a: .packed(weights.packed[grp]),
                           b: .raw(x, ld: inPlane, trans: false), output: .float(cols, ldc: inPlane, beta: 0, .none),
                           pool: pool).run()
                // col2im: each output channel's plane is written only by its own kVol rows.
                let body: (Int, Int) -> Void = { co, _ in
                    let ch = grp * cog + co
                    let y = output + (img * g.outChannels + ch) * outPlane
                    y.update(repeating: bias?[ch] ?? 0, count: outPlane)
                    for t in 0..<kVol {
                        var r = t
                        let kx = r % k[2]; r /= k[2]
                        let ky = r % k[1]; let kz = r / k[1]
                        var src = cols + (co * kVol + t) * inPlane
                        for iz in 0..<i[0] {
                            let oz = iz * s[0] - p[0] + kz * d[0]
                            if oz < 0 || oz >= o[0] { src += i[1] * i[2]; continue }
                            for iy in 0..<i[1] {
                                let oy = iy * s[1] - p[1] + ky * d[1]
                                if oy < 0 || oy >= o[1] { src += i[2]; continue }
                                let yrow = y + (oz * o[1] + oy) * o[2]
                                let x0 = kx * d[2] - p[2]
                                for ix in 0..<i[2] {
                                    let ox = ix * s[2] + x0
                                    if ox >= 0 && ox < o[2] { yrow[ox] += src[ix] }
                                }
                                src += i[2]
                            }
                        }
                    }
                    if code != 0 { ks.epilogueRow(y, outPlane, 0, nil, code, p0, p1) }
                }
                if let pool, pool.threadCount > 1 { pool.parallelFor(cog, body) } else { for c in 0..<cog { body(c, 0) } }
            }
        }
    }
}
