// AVX2 + FMA + F16C kernels.
// Built with -mavx2 -mfma -mf16c (see Package.swift); the SGEMM micro-kernel below keeps an 6×16 block
// of C in 12 ymm vector registers and streams packed panels of A (broadcast) and B (vector loads).
// The tile body is unrolled, one accumulator variable per row of C, because Swift has
// no way to keep an array of SIMD accumulators in registers.

@inline(__always) func vfma(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
    c.addingProduct(a, b)  // two vfmadd231ps ymm
}

/// Direct small-C_in conv block (Shared/SmallConvImpl.swift): 4 channels × 1 vector (8 of the 16 ymm registers: a vector is two ymm halves).
let smallConvChannels = 4, smallConvVectors = 1

public enum AVX2Kernels {
    public static let mr = 6
    public static let nr = 16

    /// 6×16 tile: c[r][0..<16] (+)= Σ_k a[k·6+r]·b[k·16..<(k+1)·16].
    /// `a` is an MR-row panel packed k-major, `b` an NR-column panel packed k-major.
    /// Only SIMD8<Float> is used: wider SIMD types lower to per-lane loops in Swift's stdlib.
    public static func tile(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c0_0 = SIMD8<Float>(repeating: 0); var c0_1 = SIMD8<Float>(repeating: 0)
        var c1_0 = SIMD8<Float>(repeating: 0); var c1_1 = SIMD8<Float>(repeating: 0)
        var c2_0 = SIMD8<Float>(repeating: 0); var c2_1 = SIMD8<Float>(repeating: 0)
        var c3_0 = SIMD8<Float>(repeating: 0); var c3_1 = SIMD8<Float>(repeating: 0)
        var c4_0 = SIMD8<Float>(repeating: 0); var c4_1 = SIMD8<Float>(repeating: 0)
        var c5_0 = SIMD8<Float>(repeating: 0); var c5_1 = SIMD8<Float>(repeating: 0)
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb + 0).loadUnaligned(as: SIMD8<Float>.self)
            let b1 = UnsafeRawPointer(pb + 8).loadUnaligned(as: SIMD8<Float>.self)
            let a0 = SIMD8<Float>(repeating: pa[0]); c0_0 = c0_0.addingProduct(a0, b0); c0_1 = c0_1.addingProduct(a0, b1)
            let a1 = SIMD8<Float>(repeating: pa[1]); c1_0 = c1_0.addingProduct(a1, b0); c1_1 = c1_1.addingProduct(a1, b1)
            let a2 = SIMD8<Float>(repeating: pa[2]); c2_0 = c2_0.addingProduct(a2, b0); c2_1 = c2_1.addingProduct(a2, b1)
            let a3 = SIMD8<Float>(repeating: pa[3]); c3_0 = c3_0.addingProduct(a3, b0); c3_1 = c3_1.addingProduct(a3, b1)
            let a4 = SIMD8<Float>(repeating: pa[4]); c4_0 = c4_0.addingProduct(a4, b0); c4_1 = c4_1.addingProduct(a4, b1)
            let a5 = SIMD8<Float>(repeating: pa[5]); c5_0 = c5_0.addingProduct(a5, b0); c5_1 = c5_1.addingProduct(a5, b1)
            pa += 6; pb += 16
        }
        if accumulate {
            store(c0_0 + load(c + 0 * ldc + 0), c + 0 * ldc + 0); store(c0_1 + load(c + 0 * ldc + 8), c + 0 * ldc + 8)
            store(c1_0 + load(c + 1 * ldc + 0), c + 1 * ldc + 0); store(c1_1 + load(c + 1 * ldc + 8), c + 1 * ldc + 8)
            store(c2_0 + load(c + 2 * ldc + 0), c + 2 * ldc + 0); store(c2_1 + load(c + 2 * ldc + 8), c + 2 * ldc + 8)
            store(c3_0 + load(c + 3 * ldc + 0), c + 3 * ldc + 0); store(c3_1 + load(c + 3 * ldc + 8), c + 3 * ldc + 8)
            store(c4_0 + load(c + 4 * ldc + 0), c + 4 * ldc + 0); store(c4_1 + load(c + 4 * ldc + 8), c + 4 * ldc + 8)
            store(c5_0 + load(c + 5 * ldc + 0), c + 5 * ldc + 0); store(c5_1 + load(c + 5 * ldc + 8), c + 5 * ldc + 8)
        } else {
            store(c0_0, c + 0 * ldc + 0); store(c0_1, c + 0 * ldc + 8)
            store(c1_0, c + 1 * ldc + 0); store(c1_1, c + 1 * ldc + 8)
            store(c2_0, c + 2 * ldc + 0); store(c2_1, c + 2 * ldc + 8)
            store(c3_0, c + 3 * ldc + 0); store(c3_1, c + 3 * ldc + 8)
            store(c4_0, c + 4 * ldc + 0); store(c4_1, c + 4 * ldc + 8)
            store(c5_0, c + 5 * ldc + 0); store(c5_1, c + 5 * ldc + 8)
        }
    }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }
    /// One row of C: c[0..<16] (+)= Σ_k a[k]·b[k·16..<(k+1)·16] — the small-M (GEMV-like) path,
    /// with k unrolled by two into independent accumulators so FMA latency is hidden.
    public static func tile1(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var c0 = SIMD8<Float>(repeating: 0), c1 = SIMD8<Float>(repeating: 0), d0 = SIMD8<Float>(repeating: 0), d1 = SIMD8<Float>(repeating: 0)
        var p = 0, pb = b
        while p &+ 1 < kc {
            let a0 = SIMD8<Float>(repeating: a[p]), a1 = SIMD8<Float>(repeating: a[p &+ 1])
            c0 = c0.addingProduct(a0, loadB(pb)); c1 = c1.addingProduct(a0, loadB(pb + 8))
            d0 = d0.addingProduct(a1, loadB(pb + 16)); d1 = d1.addingProduct(a1, loadB(pb + 24))
            pb += 32; p &+= 2
        }
        if p < kc {
            let a0 = SIMD8<Float>(repeating: a[p])
            c0 = c0.addingProduct(a0, loadB(pb)); c1 = c1.addingProduct(a0, loadB(pb + 8))
        }
        c0 += d0; c1 += d1
        if accumulate { c0 += load(c); c1 += load(c + 8) }
        store(c0, c); store(c1, c + 8)
    }
    @inline(__always) static func loadB(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
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
