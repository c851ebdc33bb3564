// Byte im2col for the VNNI int8 convolution: row p = (c, kd, ky, kx) of the (C_in/g · kernel
// volume) × (output plane) matrix, column j = output position (od, oy, ox); the value is the input
// byte that tap reads there, or `pad` (the input zero point, i.e. 0 in the shifted domain)
// outside the input. Rows are produced on demand for a range of columns, never materialised
// whole (the same walk as the float packer in Im2Col.swift, on bytes).
struct Int8Im2Col {
    let input: UnsafePointer<UInt8>
    let pad: UInt8
    let i0: Int, i1: Int, w: Int
    let o1: Int, o2: Int
    let k0: Int, k1: Int, k2: Int
    let s0: Int, s1: Int, sx: Int
    let d0: Int, d1: Int, d2: Int
    let pad0: Int, pad1: Int, pad2: Int

    init(_ g: ConvGeometry, input: UnsafeRawPointer, pad: UInt8) {
        let (i, o, k, s, d, p) = g.as3D
        self.input = input.assumingMemoryBound(to: UInt8.self)
        self.pad = pad
        (i0, i1, w) = (i[0], i[1], i[2]); (o1, o2) = (o[1], o[2]); (k0, k1, k2) = (k[0], k[1], k[2])
        (s0, s1, sx) = (s[0], s[1], s[2]); (d0, d1, d2) = (d[0], d[1], d[2]); (pad0, pad1, pad2) = (p[0], p[1], p[2])
    }

    /// Writes row p for columns j0 ..< j0 + cols into dst.
    func row(_ p: Int, _ j0: Int, _ cols: Int, _ dst: UnsafeMutablePointer<UInt8>) {
        let kVol = k0 * k1 * k2
        let c = p / kVol
        var t = p % kVol
        let kx = t % k2; t /= k2
        let ky = t % k1, kz = t / k1
        let src = input + c * (i0 * i1 * w)
        let x0 = kx * d2 - pad2
        var ox = j0 % o2, oy = (j0 / o2) % o1, oz = j0 / (o2 * o1)
        var q = 0
        while q < cols {
            let run = min(o2 - ox, cols - q)
            let iz = oz * s0 - pad0 + kz * d0
            let iy = oy * s1 - pad1 + ky * d1
            let dp = dst + q
            if iz < 0 || iz >= i0 || iy < 0 || iy >= i1 {
                dp.update(repeating: pad, count: run)
            } else {
                let srow = src + (iz * i1 + iy) * w
                // u in [lo, hi) reads inside the row: 0 ≤ (ox + u)·sx + x0 < W.
                let ix0 = ox * sx + x0
                let lo: Int, hi: Int
                if sx == 1 {
                    lo = ix0 >= 0 ? 0 : min(run, -ix0)
                    hi = max(lo, min(run, w - ix0))
                } else {
                    lo = ix0 >= 0 ? 0 : min(run, (-ix0 + sx - 1) / sx)
                    hi = ix0 >= w ? lo : max(lo, min(run, (w - ix0 + sx - 1) / sx))
                }
                if lo > 0 { dp.update(repeating: pad, count: lo) }
                if sx == 1 {
                    if hi > lo { (dp + lo).update(from: srow + ix0 + lo, count: hi - lo) }
                } else {
                    var from = srow + ix0 + lo * sx
                    for u in lo..<hi { dp[u] = from.pointee; from += sx }
                }
                if run > hi { (dp + hi).update(repeating: pad, count: run - hi) }
            }
            q += run
            ox += run
            if ox == o2 { ox = 0; oy += 1; if oy == o1 { oy = 0; oz += 1 } }
        }
    }
}
