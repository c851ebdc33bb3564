// im2col for convolution lowered to GEMM: row p = (c, kd, ky, kx) of the (C_in/g · kernel volume)
// rows, column j = output position (od, oy, ox), value = the input sample that tap reads there, or
// the pad value outside the input.

/// Implicit im2col: a GEMM B-panel packer that reads the input image directly, so the
/// (C_in/g · kernel volume) × (output plane) matrix is never materialised. Writes the panels of
/// rows [p0, p0 + kcb) and columns [j0, j0 + cols) in the standard NR-panel layout (see Packing.swift).
func im2colPanelPacker(_ g: ConvGeometry, input: UnsafePointer<Float>, padValue: Float, nr: Int)
    -> (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void {
    let (i, o, k, s, d, pad) = g.as3D
    // Scalars, not arrays, inside the closure: it runs once per NR panel of every k-block.
    let (i0, i1, w) = (i[0], i[1], i[2]), (o1, o2) = (o[1], o[2]), (k0, k1, k2) = (k[0], k[1], k[2])
    let (s0, s1, sx) = (s[0], s[1], s[2]), (d0, d1, d2) = (d[0], d[1], d[2]), (pad0, pad1, pad2) = (pad[0], pad[1], pad[2])
    let kVol = k0 * k1 * k2
    let inPlane = i0 * i1 * w
    return { p0, kcb, j0, cols, dst in
        let panels = (cols + nr - 1) / nr
        if cols % nr != 0 { (dst + (panels - 1) * nr * kcb).update(repeating: 0, count: nr * kcb) }
        // Decode row p0 = (c, kz, ky, kx) and column j0 = (oz, oy, ox) once; later rows step the
        // counters (divisions per row cost more than packing a 32-column panel row).
        var c = p0 / kVol
        var t = p0 % kVol
        var kx = t % k2; t /= k2
        var ky = t % k1; var kz = t / k1
        let ox0 = j0 % o2, oy0 = (j0 / o2) % o1, oz0 = j0 / (o2 * o1)
        for p in 0..<kcb {
            if p > 0 {
                kx += 1
                if kx == k2 { kx = 0; ky += 1; if ky == k1 { ky = 0; kz += 1; if kz == k0 { kz = 0; c += 1 } } }
            }
            let src = input + c * inPlane
            let x0 = kx * d2 - pad2
            var ox = ox0, oy = oy0, oz = oz0
            var q = 0
            // Column q of the slice lives in panel q / nr at offset q % nr, tracked incrementally
            // (integer division by the runtime nr costs more than copying the floats).
            var panel = 0, off = 0
            while q < cols {
                let run = min(o2 - ox, cols - q)
                let iz = oz * s0 - pad0 + kz * d0
                let iy = oy * s1 - pad1 + ky * d1
                let rowValid = iz >= 0 && iz < i0 && iy >= 0 && iy < i1
                let srow = src + (iz * i1 + iy) * w
                var e = 0
                while e < run {
                    let seg = min(run - e, nr - off)
                    let dp = dst + panel * nr * kcb + p * nr + off
                    if !rowValid {
                        for u in 0..<seg { dp[u] = padValue }
                    } else {
                        // u in [lo, hi) reads inside the row: 0 ≤ (ox + e + u)·sx + x0 < W.
                        let ix0 = (ox + e) * sx + x0
                        let lo: Int, hi: Int
                        if sx == 1 {
                            lo = ix0 >= 0 ? 0 : min(seg, -ix0)
                            hi = max(lo, min(seg, w - ix0))
                        } else {
                            lo = ix0 >= 0 ? 0 : min(seg, (-ix0 + sx - 1) / sx)
                            hi = ix0 >= w ? lo : max(lo, min(seg, (w - ix0 + sx - 1) / sx))
                        }
                        for u in 0..<lo { dp[u] = padValue }
                        if sx == 1 {
                            copyFloats(dp + lo, srow + ix0 + lo, hi - lo)
                        } else {
                            var u = lo
                            if sx == 2 {
                                // 16 inputs hold 8 samples at even offsets; stop while the vector
                                // stays left of the last sample read (inside the row).
                                let base = srow + ix0
                                while u &+ 8 < hi {
                                    let v = UnsafeRawPointer(base + 2 &* u).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                                    UnsafeMutableRawPointer(dp + u).storeBytes(of: v, as: SIMD8<Float>.self)
                                    u &+= 8
                                }
                            }
                            var from = srow + ix0 + u * sx
                            while u < hi { dp[u] = from.pointee; from += sx; u &+= 1 }
                        }
                        for u in hi..<seg { dp[u] = padValue }
                    }
                    e += seg
                    off += seg
                    if off == nr { off = 0; panel += 1 }
                }
                q += run
                ox += run
                if ox == o2 { ox = 0; oy += 1; if oy == o1 { oy = 0; oz += 1 } }
            }
        }
    }
}
