// Direct depthwise 2-D convolution of one channel plane, shared by the kernel targets (symlinked,
// see VectorMath.swift). The plane is first copied into a zero-padded, stride-phase-split scratch
// layout so that every output vector reads contiguous memory:
//   padded column x' = x + padLeft, phase p = x' mod sw, slot j = x' / sw.
// Output column ox, tap kx reads x' = ox·sw + kx·dw → phase (kx·dw) mod sw, slot ox + (kx·dw)/sw,
// so 16 consecutive outputs read 16 consecutive slots of one phase row, for any stride.
// Zero padding makes border outputs ordinary (pads contribute 0, as ONNX Conv defines).

struct DepthwiseShape {
    var ih: Int, iw: Int, oh: Int, ow: Int
    var kh: Int, kw: Int, sh: Int, sw: Int
    var padTop: Int, padLeft: Int, dh: Int, dw: Int

    /// Padded extents actually read by the outputs.
    var hPad: Int { (oh - 1) * sh + (kh - 1) * dh + 1 }
    var wPad: Int { (ow - 1) * sw + (kw - 1) * dw + 1 }
    /// Slots per phase row, with 16 floats of slack so a vector at the tail can over-read.
    var slots: Int { (wPad + sw - 1) / sw + 16 }
    var scratchCount: Int { hPad * sw * slots }
}

@inline(__always) func depthwisePlaneImpl(
    _ s: DepthwiseShape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: Float,
    _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
    _ code: Int, _ p0: Float, _ p1: Float
) {
    let slots = s.slots, sw = s.sw
    let rowStride = sw * slots
    // Fill the padded, phase-split plane.
    scratch.update(repeating: 0, count: s.scratchCount)
    for yp in 0..<s.hPad {
        let y = yp - s.padTop
        if y < 0 || y >= s.ih { continue }
        let src = input + y * s.iw
        let dstRow = scratch + yp * rowStride
        let xpStart = max(0, s.padLeft), xpEnd = min(s.wPad, s.iw + s.padLeft)
        if sw == 1 {
            if xpEnd > xpStart { (dstRow + xpStart).update(from: src + (xpStart - s.padLeft), count: xpEnd - xpStart) }
        } else if xpEnd > xpStart {
            for phase in 0..<sw {
                // xp = slot·sw + phase over [xpStart, xpEnd)
                let firstSlot = (xpStart - phase + sw - 1) / sw, endSlot = (xpEnd - phase + sw - 1) / sw
                if endSlot <= firstSlot { continue }
                let d = dstRow + phase * slots
                var from = src + (firstSlot * sw + phase - s.padLeft)
                for slot in firstSlot..<endSlot { d[slot] = from.pointee; from += sw }
            }
        }
    }
    for oy in 0..<s.oh {
        let out = output + oy * s.ow
        var ox = 0
        while ox < s.ow {
            var acc = VecF(repeating: bias)
            for ky in 0..<s.kh {
                let row = scratch + (oy * s.sh + ky * s.dh) * rowStride
                for kx in 0..<s.kw {
                    let off = kx * s.dw
                    let p = row + (off % sw) * slots + off / sw + ox
                    acc = vfma(UnsafeRawPointer(p).loadUnaligned(as: VecF.self), VecF(repeating: weights[ky * s.kw + kx]), acc)
                }
            }
            acc = vactivate(acc, code, p0, p1)
            let n = min(16, s.ow - ox)
            if n == 16 {
                UnsafeMutableRawPointer(out + ox).storeBytes(of: acc, as: VecF.self)
            } else {
                for t in 0..<n { out[ox + t] = acc[t] }
            }
            ox += 16
        }
    }
}
