/// Direct convolution for few input channels (the kernels are in Shared/SmallConvImpl.swift):
/// which weights take it, their held form, and the threaded driver.
enum SmallConv {
    /// Largest C_in taken. A network's first conv reads 1 (grey), 3 (RGB) or 4 (RGBA) channels;
    /// past that the conv has enough K for the GEMM tiles, and 3×3 layers have Winograd.
    static let maxInChannels = 4
    /// Largest K = C_in·kh·kw taken (ResNet's 7×7 over RGB is 147): a channel block's weights,
    /// cb·K floats, stay in L1 next to the input band, and past ~160 the GEMM's packing is a
    /// small share of its products.
    static let maxReduction = 160
    /// Floats of phase-split input per band (a worker's scratch), sized to stay in L1 (48 KB here)
    /// with the weights of one channel block.
    static let bandBudgetFloats = 8192

    /// Weights the direct kernel takes: 2-D, one group, a kernel larger than 1×1 (1×1 convs are
    /// GEMMs on the input itself), C_in ≤ 4 and K ≤ 160. Depends only on what the packing knows
    /// (channels, groups, kernel), so every input size a session meets runs the same form.
    static func supports(_ g: ConvGeometry) -> Bool {
        g.rank == 2 && g.groups == 1 && g.kernelPlane > 1 && g.inChannels <= maxInChannels && g.reductionSize <= maxReduction
    }

    /// ONNX [C_out][K] → [K][C_out]: tap t's weights for consecutive channels are adjacent, so a
    /// channel block broadcasts cb neighbours per tap. Exactly C_out·K floats.
    static func pack(_ weights: UnsafePointer<Float>, _ g: ConvGeometry) -> [Float] {
        let k = g.reductionSize, cout = g.outChannels
        var out = [Float](repeating: 0, count: k * cout)
        for co in 0..<cout {
            for t in 0..<k { out[t * cout + co] = weights[co * k + t] }
        }
        return out
    }

    /// Output rows per band: as many as fit `bandBudgetFloats` of scratch (at least 1).
    static func bandRows(_ s: SmallConvShape) -> Int {
        let perRow = s.cin * s.rowStride
        let maxInRows = bandBudgetFloats / perRow
        let rows = (maxInRows - (s.kh - 1) * s.dh - 1) / s.sh + 1
        return max(1, min(s.oh, rows))
    }

    /// output = act(conv(input) + bias) for `batch` images, threaded over bands of output rows
    /// (each band gathers its input rows once into its worker's scratch, then runs every
    /// channel block over them).
    static func run(_ w: [Float], _ g: ConvGeometry, _ ks: KernelSet, batch: Int, input: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>?, activation: Activation, output: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        let o = g.outputSize
        let geo = [g.inChannels, g.outChannels, g.inputSize[0], g.inputSize[1], o[0], o[1], g.kernelSize[0], g.kernelSize[1],
                   g.strides[0], g.strides[1], g.dilations[0], g.dilations[1], g.padsBegin[0], g.padsBegin[1]]
        let (code, p0, p1) = activation.encoded
        let inImage = g.inChannels * g.inputPlane, outImage = g.outChannels * o[0] * o[1]
        geo.withUnsafeBufferPointer { gp in
            let geometry = gp.baseAddress!
            let s = SmallConvShape(geometry)
            let rows = bandRows(s)
            let bands = (s.oh + rows - 1) / rows
            let scratchCount = s.scratchCount(bandRows: rows)
            let workers = pool?.threadCount ?? 1
            let offsets = s.tapOffsets(bandRows: rows)
            Workspace.with(floats: scratchCount * workers) { scratch in
                w.withUnsafeBufferPointer { wp in
                    let weights = wp.baseAddress!
                    let body: (Int, Int) -> Void = { task, worker in
                        let img = task / bands, oy0 = task % bands * rows
                        ks.smallConvBand(geometry, offsets, rows, input + img * inImage, weights, bias, output + img * outImage,
                                         oy0, min(oy0 + rows, s.oh), scratch + worker * scratchCount, code, p0, p1)
                    }
                    let tasks = batch * bands
                    if let pool, pool.threadCount > 1, tasks > 1 {
                        pool.parallelFor(tasks, body)
                    } else {
                        for t in 0..<tasks { body(t, 0) }
                    }
                }
            }
        }
    }
}
