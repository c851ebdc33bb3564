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
    var scratchCount: Int { fast3x3?.scratchCount ?? hPad * sw * slots }

    /// 3×3, stride 1 or 2 on both axes, no dilation: the dedicated kernel (Depthwise3x3Impl.swift).
    var fast3x3: Depthwise3x3Shape? {
        guard kh == 3 && kw == 3 && dh == 1 && dw == 1 && sh == sw && (sh == 1 || sh == 2) else { return nil }
        return Depthwise3x3Shape(ih: ih, iw: iw, oh: oh, ow: ow, stride: sh, padTop: padTop, padLeft: padLeft)
    }
}

@inline(__always) func depthwisePlaneImpl(
    _ s: DepthwiseShape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: Float,
    _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
    _ code: Int, _ p0: Float, _ p1: Float
) {
    if let fast = s.fast3x3 {
        depthwise3x3PlaneImpl(fast, input, weights, bias, output, scratch, code, p0, p1)
        return
    }
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
        // Output vectors (oy, ox = 16·v) are numbered k = oy·perRow + v and computed four at a
        // time with independent accumulators: one accumulator's taps form a dependent FMA chain
        // (latency-bound, ~4 cycles per tap), four chains keep the FMA units busy. Rows shorter
        // than 16 (14×14, 7×7 planes) interleave across rows the same way.
        let perRow = (s.ow + 15) / 16, vectors = s.oh * perRow
        let planeEnd = s.oh * s.ow
        // The position of vector k, stepped without dividing: (oy, v) advances like an odometer.
        var nextY = 0, nextV = 0
        @inline(__always) func position() -> (UnsafeMutablePointer<Float>, Int, Int) {
            let oy = nextY, ox = nextV * 16
            nextV += 1
            if nextV == perRow { nextV = 0; nextY += 1 }
            return (scratch + oy * s.sh * rowStride + ox, oy, ox)
        }
        @inline(__always) func put(_ acc: VecF, _ oy: Int, _ ox: Int) {
            // A full-width store may spill past the row into the next row of this plane, which
            // is rewritten afterwards (vectors are stored in increasing k); only the plane's
            // last row must stop exactly at its end.
            let at = oy * s.ow + ox
            if ox + 16 <= s.ow || at + 16 <= planeEnd {
                UnsafeMutableRawPointer(output + at).storeBytes(of: acc, as: VecF.self)
            } else {
                for t in 0..<(s.ow - ox) { output[at + t] = acc[t] }
            }
        }
        var k = 0
        while k + 4 <= vectors {
            let (p0b, y0, x0) = position(), (p1b, y1, x1) = position()
            let (p2b, y2, x2) = position(), (p3b, y3, x3) = position()
            var a0 = b, a1 = b, a2 = b, a3 = b
            var t = 0
            while t < taps {
                let w = VecF(repeating: weights[t]), o = tap[t]
                a0 = vfma(load16(p0b + o), w, a0)
                a1 = vfma(load16(p1b + o), w, a1)
                a2 = vfma(load16(p2b + o), w, a2)
                a3 = vfma(load16(p3b + o), w, a3)
                t &+= 1
            }
            // In k order: a later vector's store fixes what an earlier full-width store spilled.
            put(a0, y0, x0); put(a1, y1, x1); put(a2, y2, x2); put(a3, y3, x3)
            k += 4
        }
        while k < vectors {
            let (pb, y, x) = position()
            var acc = b
            var t = 0
            while t < taps { acc = vfma(load16(pb + tap[t]), VecF(repeating: weights[t]), acc); t &+= 1 }
            put(acc, y, x)
            k += 1
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
