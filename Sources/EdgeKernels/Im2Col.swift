// im2col for convolution lowered to GEMM: row p = (c, kd, ky, kx) of the (C_in/g · kernel volume)
// rows, column j = output position (od, oy, ox), value = the input sample that tap reads there, or
// the pad value outside the input.

/// Implicit im2col: a GEMM B-panel packer that reads the input image directly, so the
/// (C_in/g · kernel volume) × (output plane) matrix is never materialised. Writes the panels of
/// rows [p0, p0 + kcb) and columns [j0, j0 + cols) in the standard NR-panel layout (see Packing.swift).
func im2colPanelPacker(_ g: ConvGeometry, input: UnsafePointer<Float>, padValue: Float, nr: Int)
    -> (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void {
    let (i, o, k, s, d, pad) = g.as3D
    let kVol = k[0] * k[1] * k[2]
    let inPlane = i[0] * i[1] * i[2]
    return { p0, kcb, j0, cols, dst in
        let panels = (cols + nr - 1) / nr
        if cols % nr != 0 { (dst + (panels - 1) * nr * kcb).update(repeating: 0, count: nr * kcb) }
        for p in 0..<kcb {
            let r = p0 + p
            let c = r / kVol
            var t = r % kVol
            let kx = t % k[2]; t /= k[2]
            let ky = t % k[1]; let kz = t / k[1]
            let src = input + c * inPlane
            let x0 = kx * d[2] - pad[2]
            var ox = j0 % o[2]
            var oy = (j0 / o[2]) % o[1]
            var oz = j0 / (o[2] * o[1])
            var q = 0
            // Column q of the slice lives in panel q / nr at offset q % nr, tracked incrementally
            // (integer division by the runtime nr costs more than copying the floats).
            var panel = 0, off = 0
            let w = i[2], sx = s[2]
            while q < cols {
                let run = min(o[2] - ox, cols - q)
                let iz = oz * s[0] - pad[0] + kz * d[0]
                let iy = oy * s[1] - pad[1] + ky * d[1]
                let rowValid = iz >= 0 && iz < i[0] && iy >= 0 && iy < i[1]
                let srow = src + (iz * i[1] + iy) * w
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
                            var from = srow + ix0 + lo * sx
                            for u in lo..<hi { dp[u] = from.pointee; from += sx }
                        }
                        for u in hi..<seg { dp[u] = padValue }
                    }
                    e += seg
                    off += seg
                    if off == nr { off = 0; panel += 1 }
                }
                q += run
                ox += run
                if ox == o[2] { ox = 0; oy += 1; if oy == o[1] { oy = 0; oz += 1 } }
            }
        }
    }
}
