// Winograd weight transform per run (shared by the kernel targets, symlinked, see VectorMath.swift).
// The conv holds only its 3×3 weights, in the im2col GEMM packing (`PackedMatrix`, role A:
// W is C_out × 9·C_in, k = 9·c_in + 3·ky + kx, cut into k-blocks of kc, each block holding per
// MR-row panel kcb × MR floats k-major). So for one row panel and one input channel the 9 taps
// are 9 runs of MR consecutive floats, one lane per output channel, and U = G g Gᵀ of MR output
// channels at once is a handful of vector operations on 9 vectors.
//
// One call transforms rows i0..<i1 of the α × α grid of transformed positions (ξ = i·α + j),
// for one row panel and a range of input channels, into the GEMM's packed-A layout:
//   U_ξ[r][c] = Σ_b (Σ_a G[i][a] g[a][b]) G[j][b]        (r < MR output channels, c input channel)
// stored at dst + ((i − i0)·α + j)·xiStride + (c − c0)·MR + r: per channel, 9 loads, G along the
// columns (all α rows, shared sums), then G along each requested row, and one store per ξ.
// Stores are 16 lanes wide: lanes ≥ MR spill into the next channel's slot, which is written
// after (channels ascend), or into the ≥ 16 floats of slack past each position's block.

/// G (α × 3) of F(4,3) applied to (x0, x1, x2), all six rows sharing sums: rows [1/4 0 0],
/// [−1/6 −1/6 −1/6], [−1/6 1/6 −1/6], [1/24 1/12 1/6], [1/24 −1/12 1/6], [0 0 1].
@inline(__always) func winogradG4(_ x0: VecF, _ x1: VecF, _ x2: VecF)
    -> (VecF, VecF, VecF, VecF, VecF, VecF) {
    let sixth = VecF(repeating: -1.0 / 6), s = x0 + x2
    let p = vfma(x0, VecF(repeating: 1.0 / 24), x2 * VecF(repeating: 1.0 / 6)), q = x1 * VecF(repeating: 1.0 / 12)
    return (x0 * VecF(repeating: 0.25), (s + x1) * sixth, (s - x1) * sixth, p + q, p - q, x2)
}

/// G of F(2,3): rows [1 0 0], [½ ½ ½], [½ −½ ½], [0 0 1].
@inline(__always) func winogradG2(_ x0: VecF, _ x1: VecF, _ x2: VecF) -> (VecF, VecF, VecF, VecF) {
    let half = VecF(repeating: 0.5), s = x0 + x2
    return (x0, (s + x1) * half, (s - x1) * half, x2)
}

/// geometry = [m, i0, i1, mr, kc (the packing's k-block), roundedExtent (C_out rounded up to MR),
/// K (= 9·C_in), panel, c0, c1, xiStride, storageCount]; `packed` is the im2col packing's storage
/// (storageCount floats).
@inline(__always) func winogradWeightRowsImpl(_ geometry: UnsafePointer<Int>, _ packed: UnsafePointer<Float>,
                                             _ dst: UnsafeMutablePointer<Float>) {
    let m = geometry[0], i0 = geometry[1], i1 = geometry[2], mr = geometry[3], kc = geometry[4], extent = geometry[5]
    let k = geometry[6], panel = geometry[7], c0 = geometry[8], c1 = geometry[9], xiStride = geometry[10]
    let storageCount = geometry[11]
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 9 * 16) { tmp in
        let padded = tmp.baseAddress!
        // The k-block holding tap k0 = 9·c (tracked as c ascends; a channel's taps may straddle two).
        var p0 = 9 &* c0 / kc &* kc
        var taps = (UnsafePointer<Float>(packed), UnsafePointer<Float>(packed), UnsafePointer<Float>(packed),
                    UnsafePointer<Float>(packed), UnsafePointer<Float>(packed), UnsafePointer<Float>(packed),
                    UnsafePointer<Float>(packed), UnsafePointer<Float>(packed), UnsafePointer<Float>(packed))
        for c in c0..<c1 {
            let k0 = 9 &* c
            if k0 >= p0 &+ kc { p0 &+= kc }
            @inline(__always) func address(_ kk: Int) -> UnsafePointer<Float> {
                let b0 = kk >= p0 &+ kc ? p0 &+ kc : p0, kcb = min(kc, k &- b0)
                return packed + (b0 &* extent &+ panel &* mr &* kcb &+ (kk &- b0) &* mr)
            }
            if k0 &+ 8 < p0 &+ kc {
                let a = address(k0)
                taps = (a, a + mr, a + 2 &* mr, a + 3 &* mr, a + 4 &* mr, a + 5 &* mr, a + 6 &* mr, a + 7 &* mr, a + 8 &* mr)
            } else {
                taps = (address(k0), address(k0 &+ 1), address(k0 &+ 2), address(k0 &+ 3), address(k0 &+ 4), address(k0 &+ 5),
                        address(k0 &+ 6), address(k0 &+ 7), address(k0 &+ 8))
            }
            // A 16-lane load past the packing's end (its last panel's last channel) reads a
            // zero-padded copy instead.
            if taps.8 + 16 > packed + storageCount {
                padded.update(repeating: 0, count: 9 * 16)
                let list = [taps.0, taps.1, taps.2, taps.3, taps.4, taps.5, taps.6, taps.7, taps.8]
                for t in 0..<9 { (padded + t &* 16).update(from: list[t], count: mr) }
                let q = UnsafePointer(padded)
                taps = (q, q + 16, q + 32, q + 48, q + 64, q + 80, q + 96, q + 112, q + 128)
            }
            let g00 = wload(taps.0), g01 = wload(taps.1), g02 = wload(taps.2)
            let g10 = wload(taps.3), g11 = wload(taps.4), g12 = wload(taps.5)
            let g20 = wload(taps.6), g21 = wload(taps.7), g22 = wload(taps.8)
            let out = dst + (c &- c0) &* mr
            if m == 4 {
                // G g: G applied down each of the three columns.
                let c0s = winogradG4(g00, g10, g20), c1s = winogradG4(g01, g11, g21), c2s = winogradG4(g02, g12, g22)
                for i in i0..<i1 {
                    let (t0, t1, t2): (VecF, VecF, VecF)
                    switch i {
                    case 0: (t0, t1, t2) = (c0s.0, c1s.0, c2s.0)
                    case 1: (t0, t1, t2) = (c0s.1, c1s.1, c2s.1)
                    case 2: (t0, t1, t2) = (c0s.2, c1s.2, c2s.2)
                    case 3: (t0, t1, t2) = (c0s.3, c1s.3, c2s.3)
                    case 4: (t0, t1, t2) = (c0s.4, c1s.4, c2s.4)
                    default: (t0, t1, t2) = (c0s.5, c1s.5, c2s.5)
                    }
                    // (G g) Gᵀ along row i.
                    let (u0, u1, u2, u3, u4, u5) = winogradG4(t0, t1, t2)
                    let o = out + (i &- i0) &* 6 &* xiStride
                    wstore(u0, o); wstore(u1, o + xiStride); wstore(u2, o + 2 &* xiStride)
                    wstore(u3, o + 3 &* xiStride); wstore(u4, o + 4 &* xiStride); wstore(u5, o + 5 &* xiStride)
                }
            } else {
                let c0s = winogradG2(g00, g10, g20), c1s = winogradG2(g01, g11, g21), c2s = winogradG2(g02, g12, g22)
                for i in i0..<i1 {
                    let (t0, t1, t2): (VecF, VecF, VecF)
                    switch i {
                    case 0: (t0, t1, t2) = (c0s.0, c1s.0, c2s.0)
                    case 1: (t0, t1, t2) = (c0s.1, c1s.1, c2s.1)
                    case 2: (t0, t1, t2) = (c0s.2, c1s.2, c2s.2)
                    default: (t0, t1, t2) = (c0s.3, c1s.3, c2s.3)
                    }
                    let (u0, u1, u2, u3) = winogradG2(t0, t1, t2)
                    let o = out + (i &- i0) &* 4 &* xiStride
                    wstore(u0, o); wstore(u1, o + xiStride); wstore(u2, o + 2 &* xiStride); wstore(u3, o + 3 &* xiStride)
                }
            }
        }
    }
}
