/// Lowers one group of one image to the im2col matrix: row p = (c, kd, ky, kx) of the
/// (C_in/g · kernel volume) rows, column j = output position (od, oy, ox), value = the input
/// sample the tap reads there or `padValue` outside the input. Rows are independent, so the
/// work is split over rows.
func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, channels: Int, padValue: Float,
            col: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
    let (i, o, k, s, d, p) = g.as3D
    let kVol = k[0] * k[1] * k[2]
    let rows = channels * kVol
    let outPlane = o[0] * o[1] * o[2]
    let inPlane = i[0] * i[1] * i[2]
    let body: (Int, Int) -> Void = { r, _ in
        let c = r / kVol
        var t = r % kVol
        let kx = t % k[2]; t /= k[2]
        let ky = t % k[1]; let kz = t / k[1]
        let src = input + c * inPlane
        var dst = col + r * outPlane
        for oz in 0..<o[0] {
            let iz = oz * s[0] - p[0] + kz * d[0]
            for oy in 0..<o[1] {
                let iy = oy * s[1] - p[1] + ky * d[1]
                if iz < 0 || iz >= i[0] || iy < 0 || iy >= i[1] {
                    dst.update(repeating: padValue, count: o[2])
                    dst += o[2]
                    continue
                }
                let srow = src + (iz * i[1] + iy) * i[2]
                let x0 = kx * d[2] - p[2]
                // ox range with 0 ≤ ox·s + x0 < W
                let lo = x0 >= 0 ? 0 : min(o[2], (-x0 + s[2] - 1) / s[2])
                let hi = max(lo, min(o[2], i[2] - x0 <= 0 ? 0 : (i[2] - x0 + s[2] - 1) / s[2]))
                for ox in 0..<lo { dst[ox] = padValue }
                if s[2] == 1 {
                    (dst + lo).update(from: srow + lo + x0, count: hi - lo)
                } else {
                    var ox = lo
                    while ox < hi { dst[ox] = srow[ox * s[2] + x0]; ox += 1 }
                }
                for ox in hi..<o[2] { dst[ox] = padValue }
                dst += o[2]
            }
        }
    }
    if let pool, pool.threadCount > 1, rows > 1 { pool.parallelFor(rows, body) } else { for r in 0..<rows { body(r, 0) } }
}
