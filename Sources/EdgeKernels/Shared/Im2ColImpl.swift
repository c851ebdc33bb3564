// Implicit im2col packing, shared by the kernel targets (symlinked, see VectorMath.swift) so that
// its copies and stride-2 gathers are compiled with each ISA's flags: built without them, a
// tiny-C_in conv (SqueezeNet's and ShuffleNet's first layers, K = 27) spent as long packing as
// multiplying. Row p = (c, kz, ky, kx) of the (C_in/g · kernel volume) rows, column j = output
// position (oz, oy, ox); the value is the input sample that tap reads there, or the pad value.

/// Writes the NR-column panels of rows [p0, p0 + kcb) and columns [j0, j0 + cols) into `dst` in
/// the standard packed layout (panel q at dst + q·nr·kcb, row p of it at + p·nr), zero-filling
/// the columns of a last partial panel. geometry (3-D, leading dims 1) = [i0, i1, w (input),
/// o1, o2 (output height, width), k0, k1, k2, s0, s1, sx, d0, d1, d2, pad0, pad1, pad2].
///
/// Two ways to fill row p:
/// - sx = 1: each output row's run is a contiguous input span, copied straight into the panels
///   piece by piece (a piece ends at a panel boundary);
/// - sx > 1: the row is first gathered into a contiguous line of `cols` values, one run per output
///   row, then copied into the panels NR at a time. Gathering straight into the panels split each
///   run at the NR boundaries (SqueezeNet's 111-wide rows into 4–5 pieces of ≤ 32), and every piece
///   paid its own bounds (two divisions), a vector prologue and a scalar tail of up to 8 — more than
///   the extra copy, which stays in L1.
@inline(__always) func im2colPanelsImpl(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>, _ padValue: Float, _ nr: Int,
                                        _ p0: Int, _ kcb: Int, _ j0: Int, _ cols: Int, _ dst: UnsafeMutablePointer<Float>) {
    let i0 = geometry[0], i1 = geometry[1], w = geometry[2], o1 = geometry[3], o2 = geometry[4]
    let k0 = geometry[5], k1 = geometry[6], k2 = geometry[7], s0 = geometry[8], s1 = geometry[9], sx = geometry[10]
    let d0 = geometry[11], d1 = geometry[12], d2 = geometry[13], pad0 = geometry[14], pad1 = geometry[15], pad2 = geometry[16]
    let kVol = k0 &* k1 &* k2
    let inPlane = i0 &* i1 &* w
    let panels = (cols &+ nr &- 1) / nr
    if cols % nr != 0 { (dst + ((panels &- 1) &* nr &* kcb)).update(repeating: 0, count: nr &* kcb) }
    // Decode row p0 = (c, kz, ky, kx) and column j0 = (oz, oy, ox) once; later rows step the
    // counters (divisions per row cost more than packing a 32-column panel row).
    var c = p0 / kVol
    var t = p0 % kVol
    var kx = t % k2; t /= k2
    var ky = t % k1; var kz = t / k1
    let ox0 = j0 % o2, oy0 = (j0 / o2) % o1, oz0 = j0 / (o2 &* o1)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: sx == 1 ? 0 : cols) { lineBuffer in
        for p in 0..<kcb {
            if p > 0 {
                kx &+= 1
                if kx == k2 { kx = 0; ky &+= 1; if ky == k1 { ky = 0; kz &+= 1; if kz == k0 { kz = 0; c &+= 1 } } }
            }
            let src = input + (c &* inPlane)
            let x0 = kx &* d2 &- pad2
            var ox = ox0, oy = oy0, oz = oz0
            var q = 0
            if sx != 1 {
                let line = lineBuffer.baseAddress!
                while q < cols {
                    let run = min(o2 &- ox, cols &- q)
                    let iz = oz &* s0 &- pad0 &+ kz &* d0
                    let iy = oy &* s1 &- pad1 &+ ky &* d1
                    let lp = line + q
                    if iz >= 0 && iz < i0 && iy >= 0 && iy < i1 {
                        // u in [lo, hi) reads inside the row: 0 ≤ (ox + u)·sx + x0 < W.
                        let ix0 = ox &* sx &+ x0
                        var lo = 0, hi = run
                        if ix0 < 0 || ix0 &+ (run &- 1) &* sx >= w {
                            lo = ix0 >= 0 ? 0 : min(run, (-ix0 &+ sx &- 1) / sx)
                            hi = ix0 >= w ? lo : max(lo, min(run, (w &- ix0 &+ sx &- 1) / sx))
                        }
                        var u = 0
                        while u < lo { lp[u] = padValue; u &+= 1 }
                        let base = src + ((iz &* i1 &+ iy) &* w &+ ix0)
                        if sx == 2 {
                            gatherStride2(lp, base, lo, hi)
                        } else {
                            u = lo
                            while u < hi { lp[u] = base[u &* sx]; u &+= 1 }
                        }
                        u = hi
                        while u < run { lp[u] = padValue; u &+= 1 }
                    } else {
                        lp.update(repeating: padValue, count: run)
                    }
                    q &+= run
                    ox &+= run
                    if ox == o2 { ox = 0; oy &+= 1; if oy == o1 { oy = 0; oz &+= 1 } }
                }
                var panel = 0
                while panel &* nr < cols {
                    let j = panel &* nr
                    copyFloats(dst + (panel &* nr &* kcb &+ p &* nr), line + j, min(nr, cols &- j))
                    panel &+= 1
                }
                continue
            }
            // Column q of the slice lives in panel q / nr at offset q % nr, tracked incrementally
            // (integer division by the runtime nr costs more than copying the floats).
            var panel = 0, off = 0
            while q < cols {
                let run = min(o2 &- ox, cols &- q)
                let iz = oz &* s0 &- pad0 &+ kz &* d0
                let iy = oy &* s1 &- pad1 &+ ky &* d1
                let rowValid = iz >= 0 && iz < i0 && iy >= 0 && iy < i1
                let srow = src + ((iz &* i1 &+ iy) &* w)
                var e = 0
                while e < run {
                    let seg = min(run &- e, nr &- off)
                    let dp = dst + (panel &* nr &* kcb &+ p &* nr &+ off)
                    if !rowValid {
                        dp.update(repeating: padValue, count: seg)
                    } else {
                        // u in [lo, hi) reads inside the row: 0 ≤ ox + e + u + x0 < W.
                        let ix0 = ox &+ e &+ x0
                        let lo = ix0 >= 0 ? 0 : min(seg, -ix0)
                        let hi = max(lo, min(seg, w &- ix0))
                        var u = 0
                        while u < lo { dp[u] = padValue; u &+= 1 }
                        copyFloats(dp + lo, srow + (ix0 &+ lo), hi &- lo)
                        u = hi
                        while u < seg { dp[u] = padValue; u &+= 1 }
                    }
                    e &+= seg
                    off &+= seg
                    if off == nr { off = 0; panel &+= 1 }
                }
                q &+= run
                ox &+= run
                if ox == o2 { ox = 0; oy &+= 1; if oy == o1 { oy = 0; oz &+= 1 } }
            }
        }
    }
}

/// line[u] = base[2u] for u in [lo, hi), every read inside [base + 2·lo, base + 2·(hi − 1)].
/// Vectors of 16 (8) from the even lanes of 32 (16) loaded floats while the loads stay left of the
/// last sample; the last ≤ 8 from the odd lanes of the 16 floats ending on the last sample, a
/// store overlapping the previous one (same values), when the range holds ≥ 9 samples so that
/// load starts inside it; scalar otherwise.
@inline(__always) func gatherStride2(_ line: UnsafeMutablePointer<Float>, _ base: UnsafePointer<Float>, _ lo: Int, _ hi: Int) {
    var u = lo
    while u &+ 16 < hi {
        let a = UnsafeRawPointer(base + 2 &* u).loadUnaligned(as: SIMD16<Float>.self)
        let b = UnsafeRawPointer(base + (2 &* u &+ 16)).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(line + u).storeBytes(of: SIMD16(lowHalf: a.evenHalf, highHalf: b.evenHalf), as: SIMD16<Float>.self)
        u &+= 16
    }
    if u &+ 8 < hi {
        let v = UnsafeRawPointer(base + 2 &* u).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        UnsafeMutableRawPointer(line + u).storeBytes(of: v, as: SIMD8<Float>.self)
        u &+= 8
    }
    if u >= hi { return }
    if hi &- lo >= 9 {
        // Floats 2·hi − 17 … 2·hi − 2: odd lanes are samples hi − 8 … hi − 1.
        let v = UnsafeRawPointer(base + (2 &* hi &- 17)).loadUnaligned(as: SIMD16<Float>.self).oddHalf
        UnsafeMutableRawPointer(line + (hi &- 8)).storeBytes(of: v, as: SIMD8<Float>.self)
    } else {
        while u < hi { line[u] = base[2 &* u]; u &+= 1 }
    }
}
