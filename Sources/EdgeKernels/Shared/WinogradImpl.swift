// Winograd F(m×m, 3×3) transforms for stride-1 3×3 convolution, shared by the kernel targets
// (symlinked, see VectorMath.swift). Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks" (2016): one output tile of m×m pixels from an α×α input tile, α = m + 2,
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
// so the Σ over input channels becomes α² independent GEMMs (one per transformed position ξ) of
// the transformed weights U_ξ (C_out × C_in) with the transformed inputs V_ξ (C_in × tiles).
// Here: the input transform d → V and the output transform M → Y, each on 16 tiles at once (one
// tile per vector lane). m = 4 (α = 6, 36 products per tile instead of 144) and m = 2 (α = 4,
// 16 instead of 36); points 0, ±1, ±2 (m = 4) and 0, ±1 (m = 2), as in Lavin's paper.
//
// Tiles are numbered row-major over the output (tile t = ty·tilesW + tx covers output rows
// m·ty..<m·ty+m and columns m·tx..<m·tx+m, reading input rows m·ty − padTop ..< +α); samples outside
// the input are the zero padding, output pixels past the edge are dropped.

@inline(__always) func wload(_ p: UnsafePointer<Float>) -> VecF { UnsafeRawPointer(p).loadUnaligned(as: VecF.self) }
@inline(__always) func wstore(_ v: VecF, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: VecF.self) }

/// dst[0..<n] = input row `row` (nil: a padding row) at columns x0..<x0+n, 0 outside the row.
@inline(__always) func winogradCopyRow(_ dst: UnsafeMutablePointer<Float>, _ row: UnsafePointer<Float>?, _ x0: Int, _ n: Int, _ iw: Int) {
    guard let row else { dst.update(repeating: 0, count: n); return }
    let lo = min(n, max(0, -x0)), hi = max(lo, min(n, iw &- x0))
    if lo > 0 { dst.update(repeating: 0, count: lo) }
    if hi > lo { copyFloats(dst + lo, row + (x0 &+ lo), hi &- lo) }
    if n > hi { (dst + hi).update(repeating: 0, count: n &- hi) }
}

/// 16 lanes from every `stride`-th float: lanes[l] = p[stride·l + phase], for stride 4 (phases
/// 0–3) or 2 (phases 0–1), built from even/odd splits (vector shuffles).
@inline(__always) func winogradSplit4(_ p: UnsafePointer<Float>) -> (VecF, VecF, VecF, VecF) {
    let v0 = wload(p), v1 = wload(p + 16), v2 = wload(p + 32), v3 = wload(p + 48)
    let e01 = VecF(lowHalf: v0.evenHalf, highHalf: v1.evenHalf), o01 = VecF(lowHalf: v0.oddHalf, highHalf: v1.oddHalf)
    let e23 = VecF(lowHalf: v2.evenHalf, highHalf: v3.evenHalf), o23 = VecF(lowHalf: v2.oddHalf, highHalf: v3.oddHalf)
    return (VecF(lowHalf: e01.evenHalf, highHalf: e23.evenHalf), VecF(lowHalf: o01.evenHalf, highHalf: o23.evenHalf),
            VecF(lowHalf: e01.oddHalf, highHalf: e23.oddHalf), VecF(lowHalf: o01.oddHalf, highHalf: o23.oddHalf))
}
@inline(__always) func winogradSplit2(_ p: UnsafePointer<Float>) -> (VecF, VecF) {
    let v0 = wload(p), v1 = wload(p + 16)
    return (VecF(lowHalf: v0.evenHalf, highHalf: v1.evenHalf), VecF(lowHalf: v0.oddHalf, highHalf: v1.oddHalf))
}

/// Gathers 16 tiles' α×α input patches of one channel plane into `buf` ([r·α + c][lane]); lanes
/// past `count` and samples outside the input are 0. Consecutive tiles of one tile row read
/// overlapping runs of the same input rows, so per input row each run of lanes is copied once as
/// columns 0..<m of every tile (`lo`, m floats per lane) and once shifted by m (`hi`: columns
/// m..<α), then split into one vector per column by stride-m shuffles.
@inline(__always) func winogradGather(_ alpha: Int, _ m: Int, _ plane: UnsafePointer<Float>, _ ih: Int, _ iw: Int,
                                      _ padTop: Int, _ padLeft: Int, _ tilesW: Int, _ t0: Int, _ count: Int,
                                      _ buf: UnsafeMutablePointer<Float>, _ lo: UnsafeMutablePointer<Float>,
                                      _ hi: UnsafeMutablePointer<Float>) {
    let span = 16 &* m
    if count < 16 {
        lo.update(repeating: 0, count: span)
        hi.update(repeating: 0, count: span)
    }
    for r in 0..<alpha {
        // Runs of lanes within one tile row.
        var l = 0, ty = t0 / tilesW, tx = t0 % tilesW
        while l < count {
            let run = min(count &- l, tilesW &- tx)
            let y = ty &* m &- padTop &+ r
            let row: UnsafePointer<Float>? = y >= 0 && y < ih ? plane + y &* iw : nil
            let x0 = tx &* m &- padLeft
            winogradCopyRow(lo + l &* m, row, x0, run &* m, iw)
            winogradCopyRow(hi + l &* m, row, x0 &+ m, run &* m, iw)
            l &+= run; tx = 0; ty &+= 1
        }
        let d = buf + r &* alpha &* 16
        if m == 4 {
            let (c0, c1, c2, c3) = winogradSplit4(lo)
            let (c4, c5, _, _) = winogradSplit4(hi)
            wstore(c0, d); wstore(c1, d + 16); wstore(c2, d + 32); wstore(c3, d + 48); wstore(c4, d + 64); wstore(c5, d + 80)
        } else {
            let (c0, c1) = winogradSplit2(lo)
            let (c2, c3) = winogradSplit2(hi)
            wstore(c0, d); wstore(c1, d + 16); wstore(c2, d + 32); wstore(c3, d + 48)
        }
    }
}


/// Bᵀ for m = 4 applied to six vectors (rows of Bᵀ: [4 0 −5 0 1 0], [0 −4 −4 1 1 0], [0 4 −4 −1 1 0],
/// [0 −2 −1 2 1 0], [0 2 −1 −2 1 0], [0 4 0 −5 0 1]); reads d[k·stride], writes o[k·ostride].
@inline(__always) func winogradBT4(_ d: UnsafePointer<Float>, _ stride: Int, _ o: UnsafeMutablePointer<Float>, _ ostride: Int) {
    let d0 = wload(d), d1 = wload(d + stride), d2 = wload(d + 2 &* stride)
    let d3 = wload(d + 3 &* stride), d4 = wload(d + 4 &* stride), d5 = wload(d + 5 &* stride)
    let four = VecF(repeating: 4), minusFive = VecF(repeating: -5), two = VecF(repeating: 2)
    wstore(vfma(d2, minusFive, vfma(d0, four, d4)), o)
    let s12 = d1 + d2, s34 = d3 + d4, a12 = d1 - d2, a43 = d4 - d3
    wstore(vfma(s12, -four, s34), o + ostride)
    wstore(vfma(a12, four, a43), o + 2 &* ostride)
    let a42 = d4 - d2, a31 = d3 - d1
    wstore(vfma(a31, two, a42), o + 3 &* ostride)
    wstore(vfma(a31, -two, a42), o + 4 &* ostride)
    wstore(vfma(d3, minusFive, vfma(d1, four, d5)), o + 5 &* ostride)
}

/// Bᵀ for m = 2 (rows [1 0 −1 0], [0 1 1 0], [0 −1 1 0], [0 1 0 −1]).
@inline(__always) func winogradBT2(_ d: UnsafePointer<Float>, _ stride: Int, _ o: UnsafeMutablePointer<Float>, _ ostride: Int) {
    let d0 = wload(d), d1 = wload(d + stride), d2 = wload(d + 2 &* stride), d3 = wload(d + 3 &* stride)
    wstore(d0 - d2, o)
    wstore(d1 + d2, o + ostride)
    wstore(d2 - d1, o + 2 &* ostride)
    wstore(d1 - d3, o + 3 &* ostride)
}

/// Input transform of one channel plane for tiles [tBegin, tEnd) (tBegin − blockStart a multiple
/// of 16): V_ξ = Bᵀ d B per tile, stored as 16-float runs at
/// dst + ξ·xiStride + ((t − blockStart) / nr)·panelStride + (t − blockStart) % nr,
/// i.e. into row `channel` of each ξ's GEMM B operand in NR-column panel layout.
/// geometry = [m, ih, iw, padTop, padLeft, tilesW, nr, xiStride, blockStart].
@inline(__always) func winogradInputImpl(_ geometry: UnsafePointer<Int>, _ plane: UnsafePointer<Float>, _ tBegin: Int,
                                         _ tEnd: Int, _ dst: UnsafeMutablePointer<Float>, _ panelStride: Int) {
    let m = geometry[0], ih = geometry[1], iw = geometry[2], padTop = geometry[3], padLeft = geometry[4]
    let tilesW = geometry[5], nr = geometry[6], xiStride = geometry[7], blockStart = geometry[8]
    let alpha = m &+ 2
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * 36 * 16 + 2 * 64) { scratch in
        let gathered = scratch.baseAddress!, rows = gathered + 36 &* 16, lo = rows + 36 &* 16, hi = lo + 64
        var t = tBegin
        while t < tEnd {
            let count = min(16, tEnd &- t)
            winogradGather(alpha, m, plane, ih, iw, padTop, padLeft, tilesW, t, count, gathered, lo, hi)
            let rel = t &- blockStart
            let out = dst + ((rel / nr) &* panelStride &+ rel % nr)
            if m == 4 {
                // Columns first (Bᵀ d), then rows ((Bᵀ d) B); ξ = r·6 + c.
                for c in 0..<6 { winogradBT4(gathered + c &* 16, 6 &* 16, rows + c &* 16, 6 &* 16) }
                for r in 0..<6 { winogradBT4(rows + r &* 96, 16, out + r &* 6 &* xiStride, xiStride) }
            } else {
                for c in 0..<4 { winogradBT2(gathered + c &* 16, 4 &* 16, rows + c &* 16, 4 &* 16) }
                for r in 0..<4 { winogradBT2(rows + r &* 64, 16, out + r &* 4 &* xiStride, xiStride) }
            }
            t &+= 16
        }
    }
}

/// [a0, b0, a1, b1, …, a7, b7] and [a8, b8, …, a15, b15] (LLVM turns these into unpack shuffles).
@inline(__always) func winogradZipLo(_ a: VecF, _ b: VecF) -> VecF {
    VecF(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
}
@inline(__always) func winogradZipHi(_ a: VecF, _ b: VecF) -> VecF {
    VecF(a[8], b[8], a[9], b[9], a[10], b[10], a[11], b[11], a[12], b[12], a[13], b[13], a[14], b[14], a[15], b[15])
}

/// Aᵀ for m = 4 (rows [1 1 1 1 1 0], [0 1 −1 2 −2 0], [0 1 1 4 4 0], [0 1 −1 8 −8 1]).
@inline(__always) func winogradAT4(_ s: UnsafePointer<Float>, _ stride: Int, _ o: UnsafeMutablePointer<Float>, _ ostride: Int) {
    let m0 = wload(s), m1 = wload(s + stride), m2 = wload(s + 2 &* stride)
    let m3 = wload(s + 3 &* stride), m4 = wload(s + 4 &* stride), m5 = wload(s + 5 &* stride)
    let s12 = m1 + m2, a12 = m1 - m2, s34 = m3 + m4, a34 = m3 - m4
    wstore(m0 + s12 + s34, o)
    wstore(vfma(a34, VecF(repeating: 2), a12), o + ostride)
    wstore(vfma(s34, VecF(repeating: 4), s12), o + 2 &* ostride)
    wstore(vfma(a34, VecF(repeating: 8), a12) + m5, o + 3 &* ostride)
}

/// Aᵀ for m = 2 (rows [1 1 1 0], [0 1 −1 −1]).
@inline(__always) func winogradAT2(_ s: UnsafePointer<Float>, _ stride: Int, _ o: UnsafeMutablePointer<Float>, _ ostride: Int) {
    let m0 = wload(s), m1 = wload(s + stride), m2 = wload(s + 2 &* stride), m3 = wload(s + 3 &* stride)
    wstore(m0 + m1 + m2, o)
    wstore(m1 - m2 - m3, o + ostride)
}

/// Output transform of one output channel for tiles [tBegin, tEnd): reads the GEMM results
/// src[ξ·xiStride + (t − blockStart)] (16 tiles per vector), computes Y = Aᵀ M A + bias, applies
/// the activation and writes the tiles' pixels inside the oh × ow plane.
/// geometry = [m, oh, ow, tilesW, xiStride, blockStart].
@inline(__always) func winogradOutputImpl(_ geometry: UnsafePointer<Int>, _ src: UnsafePointer<Float>, _ tBegin: Int, _ tEnd: Int,
                                          _ plane: UnsafeMutablePointer<Float>, _ bias: Float,
                                          _ code: Int, _ p0: Float, _ p1: Float) {
    let m = geometry[0], oh = geometry[1], ow = geometry[2], tilesW = geometry[3], xiStride = geometry[4]
    let blockStart = geometry[5]
    withUnsafeTemporaryAllocation(of: Float.self, capacity: (4 * 6 + 16 + 16) * 16) { scratch in
        let cols = scratch.baseAddress!, result = cols + 4 &* 6 &* 16, rowBuf = result + 16 &* 16
        let b = VecF(repeating: bias)
        var t = tBegin
        var ty = t / tilesW, tx = t % tilesW
        while t < tEnd {
            let count = min(16, tEnd &- t)
            let s = src + (t &- blockStart)
            // Rows first (Aᵀ M: α columns of m values), then columns ((Aᵀ M) A) into result[i·m + j].
            if m == 4 {
                for c in 0..<6 { winogradAT4(s + c &* xiStride, 6 &* xiStride, cols + c &* 16, 6 &* 16) }
                for i in 0..<4 { winogradAT4(cols + i &* 96, 16, result + i &* 4 &* 16, 16) }
            } else {
                for c in 0..<4 { winogradAT2(s + c &* xiStride, 4 &* xiStride, cols + c &* 16, 4 &* 16) }
                for i in 0..<2 { winogradAT2(cols + i &* 64, 16, result + i &* 2 &* 16, 16) }
            }
            // Bias and activation, then per output row i the m vectors (one per column j) are
            // interleaved into the row's pixels of all 16 tiles, rowBuf[i][m·lane + j], and each
            // run of lanes within one tile row is copied out (clipped at the plane's edge).
            for e in 0..<(m &* m) {
                let p = result + e &* 16
                wstore(vactivate(wload(p) + b, code, p0, p1), p)
            }
            for i in 0..<m {
                let r = result + i &* m &* 16, dst = rowBuf + i &* 16 &* m
                if m == 4 {
                    let r0 = wload(r), r1 = wload(r + 16), r2 = wload(r + 32), r3 = wload(r + 48)
                    let aLo = winogradZipLo(r0, r2), aHi = winogradZipHi(r0, r2)
                    let bLo = winogradZipLo(r1, r3), bHi = winogradZipHi(r1, r3)
                    wstore(winogradZipLo(aLo, bLo), dst); wstore(winogradZipHi(aLo, bLo), dst + 16)
                    wstore(winogradZipLo(aHi, bHi), dst + 32); wstore(winogradZipHi(aHi, bHi), dst + 48)
                } else {
                    let r0 = wload(r), r1 = wload(r + 16)
                    wstore(winogradZipLo(r0, r1), dst); wstore(winogradZipHi(r0, r1), dst + 16)
                }
            }
            var l = 0
            while l < count {
                let run = min(count &- l, tilesW &- tx)
                let oy0 = ty &* m, ox0 = tx &* m
                let rows = min(m, oh &- oy0), width = min(run &* m, ow &- ox0)
                for i in 0..<rows { copyFloats(plane + ((oy0 &+ i) &* ow &+ ox0), rowBuf + (i &* 16 &+ l) &* m, width) }
                l &+= run; tx &+= run
                if tx == tilesW { tx = 0; ty &+= 1 }
            }
            t &+= 16
        }
    }
}
