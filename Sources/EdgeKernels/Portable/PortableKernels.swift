// Portable kernels (baseline SSE2 on x86-64, NEON on arm64): no FMA, so products and sums are
// separate operations (SIMD `addingProduct` would become a libm fmaf call per lane here).
// Built with no ISA flags (see Package.swift); the SGEMM micro-kernel below keeps an 4×8 block
// of C in 8 xmm vector registers and streams packed panels of A (broadcast) and B (vector loads).
// The tile body is unrolled, one accumulator variable per row of C, because Swift has
// no way to keep an array of SIMD accumulators in registers.

@inline(__always) func vfma(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
    a * b + c
}

/// Direct small-C_in conv block (Shared/SmallConvImpl.swift): 2 channels × 1 vector (8 of the 16 xmm registers).
let smallConvChannels = 2, smallConvVectors = 1

enum PortableKernels {
    static let mr = 4
    static let nr = 8

    /// 4×8 tile: c[r][0..<8] (+)= Σ_k a[k·4+r]·b[k·8..<(k+1)·8].
    /// `a` is an MR-row panel packed k-major, `b` an NR-column panel packed k-major.
    /// Only SIMD4<Float> is used: wider SIMD types lower to per-lane loops in Swift's stdlib.
    static func tile(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c0_0 = SIMD4<Float>(repeating: 0); var c0_1 = SIMD4<Float>(repeating: 0)
        var c1_0 = SIMD4<Float>(repeating: 0); var c1_1 = SIMD4<Float>(repeating: 0)
        var c2_0 = SIMD4<Float>(repeating: 0); var c2_1 = SIMD4<Float>(repeating: 0)
        var c3_0 = SIMD4<Float>(repeating: 0); var c3_1 = SIMD4<Float>(repeating: 0)
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(pb + 0).loadUnaligned(as: SIMD4<Float>.self)
            let b1 = UnsafeRawPointer(pb + 4).loadUnaligned(as: SIMD4<Float>.self)
            let a0 = SIMD4<Float>(repeating: pa[0]); c0_0 = c0_0 + a0 * b0; c0_1 = c0_1 + a0 * b1
            let a1 = SIMD4<Float>(repeating: pa[1]); c1_0 = c1_0 + a1 * b0; c1_1 = c1_1 + a1 * b1
            let a2 = SIMD4<Float>(repeating: pa[2]); c2_0 = c2_0 + a2 * b0; c2_1 = c2_1 + a2 * b1
            let a3 = SIMD4<Float>(repeating: pa[3]); c3_0 = c3_0 + a3 * b0; c3_1 = c3_1 + a3 * b1
            pa += 4; pb += 8
        }
        if accumulate {
            store(c0_0 + load(c + 0 * ldc + 0), c + 0 * ldc + 0); store(c0_1 + load(c + 0 * ldc + 4), c + 0 * ldc + 4)
            store(c1_0 + load(c + 1 * ldc + 0), c + 1 * ldc + 0); store(c1_1 + load(c + 1 * ldc + 4), c + 1 * ldc + 4)
            store(c2_0 + load(c + 2 * ldc + 0), c + 2 * ldc + 0); store(c2_1 + load(c + 2 * ldc + 4), c + 2 * ldc + 4)
            store(c3_0 + load(c + 3 * ldc + 0), c + 3 * ldc + 0); store(c3_1 + load(c + 3 * ldc + 4), c + 3 * ldc + 4)
        } else {
            store(c0_0, c + 0 * ldc + 0); store(c0_1, c + 0 * ldc + 4)
            store(c1_0, c + 1 * ldc + 0); store(c1_1, c + 1 * ldc + 4)
            store(c2_0, c + 2 * ldc + 0); store(c2_1, c + 2 * ldc + 4)
            store(c3_0, c + 3 * ldc + 0); store(c3_1, c + 3 * ldc + 4)
        }
    }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
    @inline(__always) static func store(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self) }
    /// One row of C: c[0..<8] (+)= Σ_k a[k]·b[k·8..<(k+1)·8] — the small-M (GEMV-like) path,
    /// with k unrolled by two into independent accumulators so FMA latency is hidden.
    static func tile1(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var c0 = SIMD4<Float>(repeating: 0), c1 = SIMD4<Float>(repeating: 0), d0 = SIMD4<Float>(repeating: 0), d1 = SIMD4<Float>(repeating: 0)
        var p = 0, pb = b
        while p &+ 1 < kc {
            let a0 = SIMD4<Float>(repeating: a[p]), a1 = SIMD4<Float>(repeating: a[p &+ 1])
            c0 = c0 + a0 * loadB(pb); c1 = c1 + a0 * loadB(pb + 4)
            d0 = d0 + a1 * loadB(pb + 8); d1 = d1 + a1 * loadB(pb + 12)
            pb += 16; p &+= 2
        }
        if p < kc {
            let a0 = SIMD4<Float>(repeating: a[p])
            c0 = c0 + a0 * loadB(pb); c1 = c1 + a0 * loadB(pb + 4)
        }
        c0 += d0; c1 += d1
        if accumulate { c0 += load(c); c1 += load(c + 4) }
        store(c0, c); store(c1, c + 4)
    }
    @inline(__always) static func loadB(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
    /// Bias + activation over a rows × cols block (see epilogueBlockImpl).
    static func epilogueBlock(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                     _ rowBias: UnsafePointer<Float>?, _ colBias: UnsafePointer<Float>?,
                                     _ code: Int, _ p0: Float, _ p1: Float) {
        epilogueBlockImpl(c, ldc, rows, cols, rowBias, false, colBias, code, p0, p1)
    }
    /// Bias, residual z (row stride ldz), then activation over a rows × cols block (see epilogueBlockImpl).
    static func epilogueResidual(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                 _ rowBias: UnsafePointer<Float>?, _ colBias: UnsafePointer<Float>?,
                                 _ z: UnsafePointer<Float>, _ ldz: Int, _ code: Int, _ p0: Float, _ p1: Float) {
        epilogueBlockImpl(c, ldc, rows, cols, rowBias, false, colBias, code, p0, p1, z, ldz)
    }
    static func epilogueRow(_ c: UnsafeMutablePointer<Float>, _ n: Int, _ rowBias: Float,
                                   _ colBias: UnsafePointer<Float>?, _ code: Int, _ p0: Float, _ p1: Float) {
        epilogueRowImpl(c, n, rowBias, colBias, code, p0, p1)
    }
    /// Direct depthwise conv of one plane; `geometry` = [ih, iw, oh, ow, kh, kw, sh, sw, padTop, padLeft, dh, dw].
    static func depthwisePlane(_ geometry: [Int], _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                                      _ bias: Float, _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
                                      _ code: Int, _ p0: Float, _ p1: Float) {
        let g = geometry
        let s = DepthwiseShape(ih: g[0], iw: g[1], oh: g[2], ow: g[3], kh: g[4], kw: g[5], sh: g[6], sw: g[7],
                               padTop: g[8], padLeft: g[9], dh: g[10], dw: g[11])
        depthwisePlaneImpl(s, input, weights, bias, output, scratch, code, p0, p1)
    }
    static func depthwiseScratchCount(_ g: [Int]) -> Int {
        DepthwiseShape(ih: g[0], iw: g[1], oh: g[2], ow: g[3], kh: g[4], kw: g[5], sh: g[6], sw: g[7],
                       padTop: g[8], padLeft: g[9], dh: g[10], dw: g[11]).scratchCount
    }
    /// B-panel packing (see Shared/PackBImpl.swift).
    static func packBPanels(_ b: UnsafePointer<Float>, _ ldb: Int, _ trans: Bool, _ p0: Int, _ kcb: Int, _ j0: Int, _ cols: Int,
                            _ nr: Int, _ alpha: Float, _ dst: UnsafeMutablePointer<Float>) {
        packBPanelsImpl(b, ldb, trans, p0, kcb, j0, cols, nr, alpha, dst)
    }
    /// Output rows [oy0, oy1) of a direct small-C_in conv (see Shared/SmallConvImpl.swift).
    static func smallConvBand(_ geometry: UnsafePointer<Int>, _ offsets: UnsafePointer<Int>, _ bandRows: Int,
                              _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                              _ output: UnsafeMutablePointer<Float>, _ oy0: Int, _ oy1: Int,
                              _ scratch: UnsafeMutablePointer<Float>, _ code: Int, _ p0: Float, _ p1: Float) {
        smallConvBandImpl(geometry, offsets, bandRows, input, weights, bias, output, oy0, oy1, scratch, code, p0, p1)
    }
    /// Implicit im2col panels (see Shared/Im2ColImpl.swift).
    static func im2colPanels(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>, _ padValue: Float, _ nr: Int,
                                    _ p0: Int, _ kcb: Int, _ j0: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Float>) {
        im2colPanelsImpl(geometry, input, padValue, nr, p0, kcb, j0, cols, dst)
    }
    /// 2-D max pooling of one plane (see Shared/MaxPoolImpl.swift).
    static func maxPool2D(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                 _ scratch: UnsafeMutablePointer<Float>) {
        maxPool2DPlaneImpl(geometry, input, output, scratch)
    }
    static func floatToHalf(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<UInt16>, _ n: Int) { floatToHalfImpl(s, d, n) }
    static func halfToFloat(_ s: UnsafePointer<UInt16>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { halfToFloatImpl(s, d, n) }
    static func floatToBFloat16(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<UInt16>, _ n: Int) { floatToBFloat16Impl(s, d, n) }
    static func bfloat16ToFloat(_ s: UnsafePointer<UInt16>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { bfloat16ToFloatImpl(s, d, n) }
}
