extension Kernels {
    /// Whether `maxPool2D` takes this window: horizontal stride 1 or 2, no dilation.
    public static func maxPool2DSupports(strideW: Int, dilations: [Int]) -> Bool {
        (strideW == 1 || strideW == 2) && dilations.allSatisfy { $0 == 1 }
    }

    /// 2-D max pooling (ONNX MaxPool without indices) of `planes` contiguous ih × iw planes into
    /// oh × ow planes: out[y][x] = max over the window rows y·sh − padTop + a, columns x·sw − padLeft + b
    /// (a < kh, b < kw) inside the input; pads and windows past the edge (ceil_mode) do not count,
    /// a window with no input gives −∞, NaN propagates. Requires `maxPool2DSupports`.
    public static func maxPool2D(_ input: UnsafePointer<Float>, planes: Int, ih: Int, iw: Int, oh: Int, ow: Int,
                                 kh: Int, kw: Int, sh: Int, sw: Int, padTop: Int, padLeft: Int,
                                 output: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil, isa: KernelISA? = nil) {
        precondition(sw == 1 || sw == 2, "maxPool2D: horizontal stride must be 1 or 2")
        let ks = KernelSet.forISA(isa)
        let geometry = [ih, iw, oh, ow, kh, kw, sh, sw, padTop, padLeft]
        let scratchCount = 2 * (padLeft + max(iw, 2 * ow + kw) + kw + 64) + 64
        let workers = pool?.threadCount ?? 1
        Workspace.with(floats: scratchCount * workers) { scratch in
            geometry.withUnsafeBufferPointer { geo in
                let g = geo.baseAddress!
                let body: (Int, Int) -> Void = { plane, worker in
                    ks.maxPool2D(g, input + plane * ih * iw, output + plane * oh * ow, scratch + worker * scratchCount)
                }
                if let pool, pool.threadCount > 1 { pool.parallelFor(planes, body) } else { for p in 0..<planes { body(p, 0) } }
            }
        }
    }
}
