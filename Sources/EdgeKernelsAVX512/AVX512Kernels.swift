// AVX-512 kernels (x86-64 with AVX512F/BW/VL/DQ).
// Built with -mavx512f/bw/vl/dq -mfma -mf16c (see Package.swift); the SGEMM micro-kernel below keeps an 14×32 block
// of C in 28 zmm vector registers and streams packed panels of A (broadcast) and B (vector loads).
// The tile body is unrolled, one accumulator variable per row of C, because Swift has
// no way to keep an array of SIMD accumulators in registers.

@inline(__always) func vfma(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
    c.addingProduct(a, b)  // one vfmadd231ps zmm
}

/// Direct small-C_in conv block (Shared/SmallConvImpl.swift): 8 channels × 3 vectors, 24 of the 32 zmm registers.
let smallConvChannels = 8, smallConvVectors = 3

public enum AVX512Kernels {
    public static let mr = 14
    public static let nr = 32

    /// 14×32 tile: c[r][0..<32] (+)= Σ_k a[k·14+r]·b[k·32..<(k+1)·32].
    /// `a` is an MR-row panel packed k-major, `b` an NR-column panel packed k-major.
    /// Only SIMD16<Float> is used: wider SIMD types lower to per-lane loops in Swift's stdlib.
    public static func tile(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        tileImpl(kc, a, b, c, ldc, accumulate, nil, ActivationCode.none, 0, 0, rows: 14)
    }

    /// The 14×32 tile with the epilogue applied in registers before the store:
    /// c = act((accumulate ? c : 0) + Σ a·b + rowBias[r]) for act = none, relu or clip (codes
    /// 0–2; the caller applies other activations separately). Saves the epilogue's second pass
    /// over C, which on small-K layers (1×1 convs of a few dozen channels) costs as much as
    /// the products.
    public static func tileFused(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
                                 _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        tileImpl(kc, a, b, c, ldc, accumulate, rowBias, code, p0, p1, rows: 14)
    }

    /// `tileFused` storing only the first `rows` (< 14) rows of the tile: the last MR panel of
    /// an M that is not a multiple of 14 (ShuffleNet's 34- and 68-row group GEMMs, a 64-channel
    /// conv) writes C directly instead of through a scratch tile, a copy and a second epilogue
    /// pass. The A panel's rows past `rows` are packing zeros; their sums are never stored.
    /// Only the first 4 or 8 rows are multiplied when `rows` fits: M = 64, 128, 256 or 16 leaves a
    /// last panel of 8, 2, 4 or 2 rows, which the full tile computed as 14 (ResNet-50's 64- and
    /// 128-channel layers spent 6 of every 70 rows' FMAs on padding, MobileNetV2's 16-channel
    /// layer 12 of 28).
    public static func tileFusedRows(_ rows: Int, _ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
                                     _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        // Through the single-call wrappers of AVX512NarrowTiles.swift: with the three tileImpl
        // calls inlined here, one of them was left outlined and unspecialised.
        let f = rows > 8 ? general32x14 : rows > 4 ? general32x8 : general32x4
        f(rows, kc, a, b, 32, c, ldc, accumulate, rowBias, code, p0, p1)
    }

    @inline(__always) static func tileImpl(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool,
                                           _ rowBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float, rows: Int,
                                           computed: Int = 14, ldb: Int = 32, wide: Bool = true) {
        // `computed` (a constant at every call, so the guards fold away): rows whose products are
        // formed; rows past it stay 0 and are never stored (rows ≤ computed). `wide` (also a
        // constant): 32 columns, else only the left 16 (b1 is never loaded, the c·_1 never stored).
        // `ldb`: distance between B's rows, 32 in a packed panel, N when B is read in place.
        var c0_0 = SIMD16<Float>(repeating: 0); var c0_1 = SIMD16<Float>(repeating: 0)
        var c1_0 = SIMD16<Float>(repeating: 0); var c1_1 = SIMD16<Float>(repeating: 0)
        var c2_0 = SIMD16<Float>(repeating: 0); var c2_1 = SIMD16<Float>(repeating: 0)
        var c3_0 = SIMD16<Float>(repeating: 0); var c3_1 = SIMD16<Float>(repeating: 0)
        var c4_0 = SIMD16<Float>(repeating: 0); var c4_1 = SIMD16<Float>(repeating: 0)
        var c5_0 = SIMD16<Float>(repeating: 0); var c5_1 = SIMD16<Float>(repeating: 0)
        var c6_0 = SIMD16<Float>(repeating: 0); var c6_1 = SIMD16<Float>(repeating: 0)
        var c7_0 = SIMD16<Float>(repeating: 0); var c7_1 = SIMD16<Float>(repeating: 0)
        var c8_0 = SIMD16<Float>(repeating: 0); var c8_1 = SIMD16<Float>(repeating: 0)
        var c9_0 = SIMD16<Float>(repeating: 0); var c9_1 = SIMD16<Float>(repeating: 0)
        var c10_0 = SIMD16<Float>(repeating: 0); var c10_1 = SIMD16<Float>(repeating: 0)
        var c11_0 = SIMD16<Float>(repeating: 0); var c11_1 = SIMD16<Float>(repeating: 0)
        var c12_0 = SIMD16<Float>(repeating: 0); var c12_1 = SIMD16<Float>(repeating: 0)
        var c13_0 = SIMD16<Float>(repeating: 0); var c13_1 = SIMD16<Float>(repeating: 0)
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb + 0).loadUnaligned(as: SIMD16<Float>.self)
            // (Unconditional: with the load under `wide ? … : b0` the optimizer outlined it as a call
            // and spilled every accumulator around it. Unused and dropped when !wide.)
            let b1 = UnsafeRawPointer(pb + (wide ? 16 : 0)).loadUnaligned(as: SIMD16<Float>.self)
            let a0 = SIMD16<Float>(repeating: pa[0]); c0_0 = c0_0.addingProduct(a0, b0); if wide { c0_1 = c0_1.addingProduct(a0, b1) }
            let a1 = SIMD16<Float>(repeating: pa[1]); c1_0 = c1_0.addingProduct(a1, b0); if wide { c1_1 = c1_1.addingProduct(a1, b1) }
            let a2 = SIMD16<Float>(repeating: pa[2]); c2_0 = c2_0.addingProduct(a2, b0); if wide { c2_1 = c2_1.addingProduct(a2, b1) }
            let a3 = SIMD16<Float>(repeating: pa[3]); c3_0 = c3_0.addingProduct(a3, b0); if wide { c3_1 = c3_1.addingProduct(a3, b1) }
            if computed > 4 { let a4 = SIMD16<Float>(repeating: pa[4]); c4_0 = c4_0.addingProduct(a4, b0); if wide { c4_1 = c4_1.addingProduct(a4, b1) } }
            if computed > 5 { let a5 = SIMD16<Float>(repeating: pa[5]); c5_0 = c5_0.addingProduct(a5, b0); if wide { c5_1 = c5_1.addingProduct(a5, b1) } }
            if computed > 6 { let a6 = SIMD16<Float>(repeating: pa[6]); c6_0 = c6_0.addingProduct(a6, b0); if wide { c6_1 = c6_1.addingProduct(a6, b1) } }
            if computed > 7 { let a7 = SIMD16<Float>(repeating: pa[7]); c7_0 = c7_0.addingProduct(a7, b0); if wide { c7_1 = c7_1.addingProduct(a7, b1) } }
            if computed > 8 { let a8 = SIMD16<Float>(repeating: pa[8]); c8_0 = c8_0.addingProduct(a8, b0); if wide { c8_1 = c8_1.addingProduct(a8, b1) } }
            if computed > 9 { let a9 = SIMD16<Float>(repeating: pa[9]); c9_0 = c9_0.addingProduct(a9, b0); if wide { c9_1 = c9_1.addingProduct(a9, b1) } }
            if computed > 10 { let a10 = SIMD16<Float>(repeating: pa[10]); c10_0 = c10_0.addingProduct(a10, b0); if wide { c10_1 = c10_1.addingProduct(a10, b1) } }
            if computed > 11 { let a11 = SIMD16<Float>(repeating: pa[11]); c11_0 = c11_0.addingProduct(a11, b0); if wide { c11_1 = c11_1.addingProduct(a11, b1) } }
            if computed > 12 { let a12 = SIMD16<Float>(repeating: pa[12]); c12_0 = c12_0.addingProduct(a12, b0); if wide { c12_1 = c12_1.addingProduct(a12, b1) } }
            if computed > 13 { let a13 = SIMD16<Float>(repeating: pa[13]); c13_0 = c13_0.addingProduct(a13, b0); if wide { c13_1 = c13_1.addingProduct(a13, b1) } }
            pa += 14; pb += ldb
        }
        // Relu and clip as one clamp to [lo, hi] (relu: [0, +∞), none: (−∞, +∞)), the same values
        // as the separate forms (NaN passes, as x < lo and x > hi are false), without a branch per
        // store: 28 stores × 3 branches made the function large enough that the optimizer stopped
        // inlining the B loads of the k loop (a call per load, every accumulator spilled around it).
        let lo = SIMD16<Float>(repeating: code == ActivationCode.relu ? 0 : code == ActivationCode.clip ? p0 : -.infinity)
        let hi = SIMD16<Float>(repeating: code == ActivationCode.clip ? p1 : .infinity)
        @inline(__always) func fin(_ v: SIMD16<Float>, _ r: Int, _ off: Int) {
            if r >= rows || (off != 0 && !wide) { return }
            let p = c + (r &* ldc &+ off)
            var x = v
            if accumulate { x += load(p) }
            if let rowBias { x += SIMD16<Float>(repeating: rowBias[r]) }
            x = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
            store(x, p)
        }
        fin(c0_0, 0, 0)
        fin(c0_1, 0, 16)
        fin(c1_0, 1, 0)
        fin(c1_1, 1, 16)
        fin(c2_0, 2, 0)
        fin(c2_1, 2, 16)
        fin(c3_0, 3, 0)
        fin(c3_1, 3, 16)
        fin(c4_0, 4, 0)
        fin(c4_1, 4, 16)
        fin(c5_0, 5, 0)
        fin(c5_1, 5, 16)
        fin(c6_0, 6, 0)
        fin(c6_1, 6, 16)
        fin(c7_0, 7, 0)
        fin(c7_1, 7, 16)
        fin(c8_0, 8, 0)
        fin(c8_1, 8, 16)
        fin(c9_0, 9, 0)
        fin(c9_1, 9, 16)
        fin(c10_0, 10, 0)
        fin(c10_1, 10, 16)
        fin(c11_0, 11, 0)
        fin(c11_1, 11, 16)
        fin(c12_0, 12, 0)
        fin(c12_1, 12, 16)
        fin(c13_0, 13, 0)
        fin(c13_1, 13, 16)
    }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
    @inline(__always) static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self) }
    /// 14×16 tile on the left half of a 32-wide B panel (B row stride 32): for a last panel
    /// with at most 16 real columns, it skips the FMAs a full tile would spend on zero padding.
    public static func tileHalf(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c0 = SIMD16<Float>(repeating: 0)
        var c1 = SIMD16<Float>(repeating: 0)
        var c2 = SIMD16<Float>(repeating: 0)
        var c3 = SIMD16<Float>(repeating: 0)
        var c4 = SIMD16<Float>(repeating: 0)
        var c5 = SIMD16<Float>(repeating: 0)
        var c6 = SIMD16<Float>(repeating: 0)
        var c7 = SIMD16<Float>(repeating: 0)
        var c8 = SIMD16<Float>(repeating: 0)
        var c9 = SIMD16<Float>(repeating: 0)
        var c10 = SIMD16<Float>(repeating: 0)
        var c11 = SIMD16<Float>(repeating: 0)
        var c12 = SIMD16<Float>(repeating: 0)
        var c13 = SIMD16<Float>(repeating: 0)
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb).loadUnaligned(as: SIMD16<Float>.self)
            c0 = c0.addingProduct(SIMD16<Float>(repeating: pa[0]), b0)
            c1 = c1.addingProduct(SIMD16<Float>(repeating: pa[1]), b0)
            c2 = c2.addingProduct(SIMD16<Float>(repeating: pa[2]), b0)
            c3 = c3.addingProduct(SIMD16<Float>(repeating: pa[3]), b0)
            c4 = c4.addingProduct(SIMD16<Float>(repeating: pa[4]), b0)
            c5 = c5.addingProduct(SIMD16<Float>(repeating: pa[5]), b0)
            c6 = c6.addingProduct(SIMD16<Float>(repeating: pa[6]), b0)
            c7 = c7.addingProduct(SIMD16<Float>(repeating: pa[7]), b0)
            c8 = c8.addingProduct(SIMD16<Float>(repeating: pa[8]), b0)
            c9 = c9.addingProduct(SIMD16<Float>(repeating: pa[9]), b0)
            c10 = c10.addingProduct(SIMD16<Float>(repeating: pa[10]), b0)
            c11 = c11.addingProduct(SIMD16<Float>(repeating: pa[11]), b0)
            c12 = c12.addingProduct(SIMD16<Float>(repeating: pa[12]), b0)
            c13 = c13.addingProduct(SIMD16<Float>(repeating: pa[13]), b0)
            pa += 14; pb += 32
        }
        if accumulate {
            store(c0 + load(c + 0 * ldc), c + 0 * ldc)
            store(c1 + load(c + 1 * ldc), c + 1 * ldc)
            store(c2 + load(c + 2 * ldc), c + 2 * ldc)
            store(c3 + load(c + 3 * ldc), c + 3 * ldc)
            store(c4 + load(c + 4 * ldc), c + 4 * ldc)
            store(c5 + load(c + 5 * ldc), c + 5 * ldc)
            store(c6 + load(c + 6 * ldc), c + 6 * ldc)
            store(c7 + load(c + 7 * ldc), c + 7 * ldc)
            store(c8 + load(c + 8 * ldc), c + 8 * ldc)
            store(c9 + load(c + 9 * ldc), c + 9 * ldc)
            store(c10 + load(c + 10 * ldc), c + 10 * ldc)
            store(c11 + load(c + 11 * ldc), c + 11 * ldc)
            store(c12 + load(c + 12 * ldc), c + 12 * ldc)
            store(c13 + load(c + 13 * ldc), c + 13 * ldc)
        } else {
            store(c0, c + 0 * ldc)
            store(c1, c + 1 * ldc)
            store(c2, c + 2 * ldc)
            store(c3, c + 3 * ldc)
            store(c4, c + 4 * ldc)
            store(c5, c + 5 * ldc)
            store(c6, c + 6 * ldc)
            store(c7, c + 7 * ldc)
            store(c8, c + 8 * ldc)
            store(c9, c + 9 * ldc)
            store(c10, c + 10 * ldc)
            store(c11, c + 11 * ldc)
            store(c12, c + 12 * ldc)
            store(c13, c + 13 * ldc)
        }
    }
    /// One row of C: c[0..<32] (+)= Σ_k a[k]·b[k·32..<(k+1)·32] — the small-M (GEMV-like) path,
    /// with k unrolled by two into independent accumulators so FMA latency is hidden.
    public static func tile1(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var c0 = SIMD16<Float>(repeating: 0), c1 = SIMD16<Float>(repeating: 0), d0 = SIMD16<Float>(repeating: 0), d1 = SIMD16<Float>(repeating: 0)
        var p = 0, pb = b
        while p &+ 1 < kc {
            let a0 = SIMD16<Float>(repeating: a[p]), a1 = SIMD16<Float>(repeating: a[p &+ 1])
            c0 = c0.addingProduct(a0, loadB(pb)); c1 = c1.addingProduct(a0, loadB(pb + 16))
            d0 = d0.addingProduct(a1, loadB(pb + 32)); d1 = d1.addingProduct(a1, loadB(pb + 48))
            pb += 64; p &+= 2
        }
        if p < kc {
            let a0 = SIMD16<Float>(repeating: a[p])
            c0 = c0.addingProduct(a0, loadB(pb)); c1 = c1.addingProduct(a0, loadB(pb + 16))
        }
        c0 += d0; c1 += d1
        if accumulate { c0 += load(c); c1 += load(c + 16) }
        store(c0, c); store(c1, c + 16)
    }
    @inline(__always) static func loadB(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
    /// Bias + activation over a rows × cols block (see epilogueBlockImpl).
    public static func epilogueBlock(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                     _ rowBias: UnsafePointer<Float>?, _ colBias: UnsafePointer<Float>?,
                                     _ code: Int, _ p0: Float, _ p1: Float) {
        epilogueBlockImpl(c, ldc, rows, cols, rowBias, false, colBias, code, p0, p1)
    }
    /// Bias, residual z (row stride ldz), then activation over a rows × cols block (see epilogueBlockImpl).
    public static func epilogueResidual(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                 _ rowBias: UnsafePointer<Float>?, _ colBias: UnsafePointer<Float>?,
                                 _ z: UnsafePointer<Float>, _ ldz: Int, _ code: Int, _ p0: Float, _ p1: Float) {
        epilogueBlockImpl(c, ldc, rows, cols, rowBias, false, colBias, code, p0, p1, z, ldz)
    }
    public static func epilogueRow(_ c: UnsafeMutablePointer<Float>, _ n: Int, _ rowBias: Float,
                                   _ colBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        epilogueRowImpl(c, n, rowBias, colBias, code, p0, p1)
    }
    /// Direct depthwise conv of one plane; `geometry` = [ih, iw, oh, ow, kh, kw, sh, sw, padTop, padLeft, dh, dw].
    public static func depthwisePlane(_ geometry: [Int], _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                                      _ bias: Float, _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
                                      _ code: Int, _ p0: Float, _ p1: Float) {
        let g = geometry
        let s = DepthwiseShape(ih: g[0], iw: g[1], oh: g[2], ow: g[3], kh: g[4], kw: g[5], sh: g[6], sw: g[7],
                               padTop: g[8], padLeft: g[9], dh: g[10], dw: g[11])
        depthwisePlaneImpl(s, input, weights, bias, output, scratch, code, p0, p1)
    }
    public static func depthwiseScratchCount(_ g: [Int]) -> Int {
        DepthwiseShape(ih: g[0], iw: g[1], oh: g[2], ow: g[3], kh: g[4], kw: g[5], sh: g[6], sw: g[7],
                       padTop: g[8], padLeft: g[9], dh: g[10], dw: g[11]).scratchCount
    }
    /// Winograd input / output transforms (see Shared/WinogradImpl.swift).
    public static func winogradInput(_ geometry: UnsafePointer<Int>, _ plane: UnsafePointer<Float>, _ tBegin: Int, _ tEnd: Int,
                                     _ dst: UnsafeMutablePointer<Float>, _ panelStride: Int) {
        winogradInputImpl(geometry, plane, tBegin, tEnd, dst, panelStride)
    }
    /// Rows of U = G g Gᵀ from the im2col packing (see Shared/WinogradWeightTransform.swift).
    public static func winogradWeightRows(_ geometry: UnsafePointer<Int>, _ packed: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        winogradWeightRowsImpl(geometry, packed, dst)
    }
    public static func winogradOutput(_ geometry: UnsafePointer<Int>, _ src: UnsafePointer<Float>, _ tBegin: Int, _ tEnd: Int,
                                      _ plane: UnsafeMutablePointer<Float>, _ bias: Float, _ code: Int, _ p0: Float, _ p1: Float) {
        winogradOutputImpl(geometry, src, tBegin, tEnd, plane, bias, code, p0, p1)
    }
    /// B-panel packing (see Shared/PackBImpl.swift).
    public static func packBPanels(_ b: UnsafePointer<Float>, _ ldb: Int, _ trans: Bool, _ p0: Int, _ kcb: Int, _ j0: Int, _ cols: Int,
                            _ nr: Int, _ alpha: Float, _ dst: UnsafeMutablePointer<Float>) {
        packBPanelsImpl(b, ldb, trans, p0, kcb, j0, cols, nr, alpha, dst)
    }
    /// Output rows [oy0, oy1) of a direct small-C_in conv (see Shared/SmallConvImpl.swift).
    public static func smallConvBand(_ geometry: UnsafePointer<Int>, _ offsets: UnsafePointer<Int>, _ bandRows: Int,
                              _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                              _ output: UnsafeMutablePointer<Float>, _ oy0: Int, _ oy1: Int,
                              _ scratch: UnsafeMutablePointer<Float>, _ code: Int, _ p0: Float, _ p1: Float) {
        smallConvBandImpl(geometry, offsets, bandRows, input, weights, bias, output, oy0, oy1, scratch, code, p0, p1)
    }
    /// Implicit im2col panels (see Shared/Im2ColImpl.swift).
    public static func im2colPanels(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>, _ padValue: Float, _ nr: Int,
                                    _ p0: Int, _ kcb: Int, _ j0: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Float>) {
        im2colPanelsImpl(geometry, input, padValue, nr, p0, kcb, j0, cols, dst)
    }
    /// 2-D max pooling of one plane (see Shared/MaxPoolImpl.swift).
    public static func maxPool2D(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                 _ scratch: UnsafeMutablePointer<Float>) {
        maxPool2DPlaneImpl(geometry, input, output, scratch)
    }
    public static func floatToHalf(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<UInt16>, _ n: Int) { floatToHalfImpl(s, d, n) }
    public static func halfToFloat(_ s: UnsafePointer<UInt16>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { halfToFloatImpl(s, d, n) }
    public static func floatToBFloat16(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<UInt16>, _ n: Int) { floatToBFloat16Impl(s, d, n) }
    public static func bfloat16ToFloat(_ s: UnsafePointer<UInt16>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { bfloat16ToFloatImpl(s, d, n) }
}
