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
            if xpEnd > xpStart { copyRow(dstRow + xpStart, src + (xpStart - s.padLeft), xpEnd - xpStart) }
        } else if sw == 2 && xpEnd > xpStart {
            // Deinterleave 16 inputs at a time into 8 even + 8 odd slots (vshufps + vpermpd);
            // slots j in [jLo, jVec) have both phases inside the copied range.
            let jLo = (xpStart + 1) / 2, jHi = xpEnd / 2
            let jVec = jHi > jLo ? jLo + (jHi - jLo) / 8 * 8 : jLo
            var j = jLo
            while j < jVec {
                let v = UnsafeRawPointer(src + (2 * j - s.padLeft)).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(dstRow + j).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dstRow + slots + j).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                j += 8
            }
            for xp in xpStart..<min(xpEnd, 2 * jLo) { dstRow[(xp & 1) * slots + xp >> 1] = src[xp - s.padLeft] }
            for xp in max(xpStart, 2 * jVec)..<xpEnd { dstRow[(xp & 1) * slots + xp >> 1] = src[xp - s.padLeft] }
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
    // Tap t = (ky, kx) reads scratch[(oy·sh + ky·dh)·rowStride + phase·slots + slot0 + ox]; the
    // part that does not depend on (oy, ox) is precomputed once per plane.
    let taps = s.kh * s.kw
    withUnsafeTemporaryAllocation(of: Int.self, capacity: taps) { offsets in
        for ky in 0..<s.kh {
            for kx in 0..<s.kw {
                let off = kx * s.dw
                offsets[ky * s.kw + kx] = ky * s.dh * rowStride + (off % sw) * slots + off / sw
            }
        }
        let tap = offsets.baseAddress!
        let b = VecF(repeating: bias)
        for oy in 0..<s.oh {
            let base = scratch + oy * s.sh * rowStride
            let out = output + oy * s.ow
            var ox = 0
            while ox < s.ow {
                var acc = b
                if taps == 9 {
                    // 3×3: fully unrolled, nine independent loads.
                    acc = vfma(load16(base + tap[0] + ox), VecF(repeating: weights[0]), acc)
                    acc = vfma(load16(base + tap[1] + ox), VecF(repeating: weights[1]), acc)
                    acc = vfma(load16(base + tap[2] + ox), VecF(repeating: weights[2]), acc)
                    acc = vfma(load16(base + tap[3] + ox), VecF(repeating: weights[3]), acc)
                    acc = vfma(load16(base + tap[4] + ox), VecF(repeating: weights[4]), acc)
                    acc = vfma(load16(base + tap[5] + ox), VecF(repeating: weights[5]), acc)
                    acc = vfma(load16(base + tap[6] + ox), VecF(repeating: weights[6]), acc)
                    acc = vfma(load16(base + tap[7] + ox), VecF(repeating: weights[7]), acc)
                    acc = vfma(load16(base + tap[8] + ox), VecF(repeating: weights[8]), acc)
                } else {
                    var t = 0
                    while t < taps {
                        acc = vfma(load16(base + tap[t] + ox), VecF(repeating: weights[t]), acc)
                        t &+= 1
                    }
                }
                // A full-width store may spill past the row into the next row of this plane, which
                // is rewritten afterwards; only the plane's last row must stop exactly at its end.
                if ox + 16 <= s.ow || oy + 1 < s.oh && (oy + 1) * s.ow + 16 <= s.oh * s.ow {
                    UnsafeMutableRawPointer(out + ox).storeBytes(of: acc, as: VecF.self)
                } else {
                    for t in 0..<(s.ow - ox) { out[ox + t] = acc[t] }
                }
                ox += 16
            }
        }
        epilogueRowImpl(output, s.oh * s.ow, 0, nil, code, p0, p1)
    }
}

@inline(__always) func load16(_ p: UnsafeMutablePointer<Float>) -> VecF {
    UnsafeRawPointer(p).loadUnaligned(as: VecF.self)
}

@inline(__always) func copyRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i &+ 16 <= n {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: VecF.self), as: VecF.self)
        i &+= 16
    }
    while i < n { dst[i] = src[i]; i &+= 1 }
}
