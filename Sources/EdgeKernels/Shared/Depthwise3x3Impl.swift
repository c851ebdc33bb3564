// Depthwise 3×3 convolution of one plane, stride 1 or 2, no dilation: the MobileNet / ShuffleNet
// layers. Shared by the kernel targets (symlinked, see VectorMath.swift).
//
// The padded input is split by stride phase into s² sub-planes of row stride S = ow + e
// (e = 2 / s, the taps' reach in sub-plane units):
//   sub[pr][pc][i][j] = input(s·i + pr − padTop, s·j + pc − padLeft), 0 outside the input,
// so output (y, x), tap (ky, kx) reads sub[ky mod s][kx mod s] at (y + ky / s)·S + x + kx / s: for
// every tap the address is a constant plus v = y·S + x. Outputs are computed over v directly, 16
// consecutive v per vector (a vector runs across row ends; the e columns per row past ow are
// scratch), so small planes fill the lanes too (7×7: 7 of 9 lanes useful instead of 7 of 16).
// Eight vectors at a time with the nine weights in registers keep both FMA pipes busy. The
// useful columns are then copied out with the bias already in and the activation applied.

struct Depthwise3x3Shape {
    var ih: Int, iw: Int, oh: Int, ow: Int, stride: Int, padTop: Int, padLeft: Int

    var reach: Int { 2 / stride }
    var rowStride: Int { ow + reach }
    var subRows: Int { oh + reach }
    /// Rows of S slots; stride 2 adds 16 floats of slack (a pad's zero vector may run past the
    /// last row).
    var subPlane: Int { subRows * rowStride + (stride == 2 ? 16 : 0) }
    /// Sub-planes, 32 floats of slack (vectors over-read past the last one), then the v-indexed
    /// outputs plus one vector group of slack.
    var scratchCount: Int { stride * stride * subPlane + 32 + oh * rowStride + 8 * 16 }
}

/// The plane in strips of output rows whose sub-planes and outputs fit in about 20 KB, so that
/// step 2 reads what step 1 just wrote from L1 (a 112² stride-2 plane's four sub-planes take
/// 52 KB, more than the 48 KB L1). A strip is the plane kernel on the rows [y0, y0 + rows): the
/// same input pointer with padTop moved up by stride·y0. Each strip re-reads the `reach` input
/// rows it shares with the one before.
@inline(__always) func depthwise3x3PlaneImpl(
    _ s: Depthwise3x3Shape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: Float,
    _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
    _ code: Int, _ p0: Float, _ p1: Float
) {
    let perRow = s.stride &* s.stride &* s.rowStride &+ s.rowStride
    let rows = max(4, 5120 / perRow)
    if rows >= s.oh {
        depthwise3x3StripImpl(s, input, weights, bias, output, scratch, code, p0, p1)
        return
    }
    var y0 = 0
    while y0 < s.oh {
        var strip = s
        strip.oh = min(rows, s.oh &- y0)
        strip.padTop = s.padTop &- s.stride &* y0
        depthwise3x3StripImpl(strip, input, weights, bias, output + y0 &* s.ow, scratch, code, p0, p1)
        y0 &+= rows
    }
}

@inline(__always) func depthwise3x3StripImpl(
    _ s: Depthwise3x3Shape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: Float,
    _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
    _ code: Int, _ p0: Float, _ p1: Float
) {
    let st = s.stride, rs = s.rowStride, sub = s.subPlane
    let xEnd = max(0, min(s.iw, st &* rs &- s.padLeft))
    let zero = VecF(repeating: 0)
    if st == 1 {
        // 1. Stride 1, the padded plane: zero it, then copy the input rows in (cheaper than per-row pad
        // zeros on the small planes this stride sees).
        let count = sub
        var k = 0
        while k &+ 16 <= count { dwStore16(zero, scratch + k); k &+= 16 }
        while k < count { scratch[k] = 0; k &+= 1 }
        let yFirst = max(0, -s.padTop), yEnd = min(s.ih, s.subRows &- s.padTop)
        if yFirst < yEnd && xEnd > 0 {
            for y in yFirst..<yEnd { copyFloats(scratch + ((y &+ s.padTop) &* rs &+ s.padLeft), input + y &* s.iw, xEnd) }
        }
    }
    // 1. Stride 2, the four sub-planes row by row: a row that maps to an input row gets its
    // columns split into even and odd padded columns in registers (32 inputs → 16 + 16 slots
    // per step) and zeros only in the pad slots either side; a row in the top or bottom pad is
    // zeroed whole. Every slot a useful output reads (rows < subRows, slots < S) is written once
    // per plane. Zeroing all four sub-planes first cost a tenth of the kernel at 112², and the
    // split's scalar tail (up to 15 columns a row) a fifth.
    for pr in 0..<(st == 2 ? 2 : 0) {
        for i in 0..<s.subRows {
            let y = 2 &* i &+ pr &- s.padTop
            let rowBase = scratch + ((pr &* 2) &* sub &+ i &* rs)
            guard y >= 0 && y < s.ih && xEnd > 0 else {
                for pc in 0..<2 {
                    var j = 0
                    while j < rs { dwStore16(zero, rowBase + (pc &* sub &+ j)); j &+= 16 }
                }
                continue
            }
            let src = input + y &* s.iw
            // Phase pc holds padded columns xp ≡ pc (mod 2) at slot xp / 2; the input covers
            // xp in [padLeft, padLeft + xEnd), slots [⌈(padLeft − pc)/2⌉, ⌈(padLeft + xEnd − pc)/2⌉).
            // The pads either side get one zero vector each, stored before the input: it may
            // run past the row end into the next row (filled later) or the sub-plane's 16
            // floats of slack.
            for pc in 0..<2 {
                let lo = (s.padLeft &- pc &+ 1) >> 1, hi = (s.padLeft &+ xEnd &- pc &+ 1) >> 1
                let phaseRow = rowBase + pc &* sub
                // One store covers the usual pad of a slot or two; the loops (which LLVM turns
                // into memset calls) only run for pads wider than a vector.
                if lo > 0 {
                    dwStore16(zero, phaseRow)
                    var j = 16
                    while j < lo { dwStore16(zero, phaseRow + j); j &+= 16 }
                }
                if hi < rs {
                    dwStore16(zero, phaseRow + hi)
                    var j = hi &+ 16
                    while j < rs { dwStore16(zero, phaseRow + j); j &+= 16 }
                }
            }
            // A step from input column x (xp = x + padLeft): its even lanes are phase xp & 1 from
            // slot xp / 2, its odd lanes the other phase from slot (xp + 1) / 2. The last step
            // overlaps the one before (same values again) instead of a scalar tail.
            @inline(__always) func split32(_ x: Int) {
                let (even, odd) = deinterleave(load16p(src + x), load16p(src + (x &+ 16)))
                let xp = x &+ s.padLeft
                dwStore16(even, rowBase + ((xp & 1) &* sub &+ (xp >> 1)))
                dwStore16(odd, rowBase + ((1 &- (xp & 1)) &* sub &+ ((xp &+ 1) >> 1)))
            }
            @inline(__always) func split16(_ x: Int) {
                let v = load16p(src + x)
                let xp = x &+ s.padLeft
                UnsafeMutableRawPointer(rowBase + ((xp & 1) &* sub &+ (xp >> 1))).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(rowBase + ((1 &- (xp & 1)) &* sub &+ ((xp &+ 1) >> 1))).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
            }
            if xEnd >= 32 {
                var x = 0
                while x &+ 32 <= xEnd { split32(x); x &+= 32 }
                if x < xEnd { split32(xEnd &- 32) }
            } else if xEnd >= 16 {
                split16(0)
                if xEnd > 16 { split16(xEnd &- 16) }
            } else {
                for x in 0..<xEnd {
                    let xp = x &+ s.padLeft
                    rowBase[(xp & 1) &* sub &+ (xp >> 1)] = src[x]
                }
            }
        }
    }
    // The sub-planes' slack and the 32 floats after them, which vectors over-read for lanes that
    // are never copied out: zeroed anyway, so no lane ever computes on stale or uninitialised data.
    if st == 2 { for k in 0..<4 { dwStore16(zero, scratch + (k &* sub &+ s.subRows &* rs)) } }
    dwStore16(zero, scratch + st &* st &* sub); dwStore16(zero, scratch + (st &* st &* sub &+ 16))
    let virt = scratch + (st &* st &* sub &+ 32)
    // 2. Outputs over v = y·S + x.
    @inline(__always) func tap(_ ky: Int, _ kx: Int) -> UnsafeMutablePointer<Float> {
        scratch + (((ky % st) &* st &+ kx % st) &* sub &+ (ky / st) &* rs &+ kx / st)
    }
    do {
        let t0 = tap(0, 0), t1 = tap(0, 1), t2 = tap(0, 2)
        let t3 = tap(1, 0), t4 = tap(1, 1), t5 = tap(1, 2)
        let t6 = tap(2, 0), t7 = tap(2, 1), t8 = tap(2, 2)
        let w0 = VecF(repeating: weights[0]), w1 = VecF(repeating: weights[1]), w2 = VecF(repeating: weights[2])
        let w3 = VecF(repeating: weights[3]), w4 = VecF(repeating: weights[4]), w5 = VecF(repeating: weights[5])
        let w6 = VecF(repeating: weights[6]), w7 = VecF(repeating: weights[7]), w8 = VecF(repeating: weights[8])
        let b = VecF(repeating: bias)
        @inline(__always) func dot(_ v: Int) -> VecF {
            var a = vfma(load16(t0 + v), w0, b)
            a = vfma(load16(t1 + v), w1, a)
            a = vfma(load16(t2 + v), w2, a)
            var c = load16(t3 + v) * w3
            c = vfma(load16(t4 + v), w4, c)
            c = vfma(load16(t5 + v), w5, c)
            a = vfma(load16(t6 + v), w6, a)
            c = vfma(load16(t7 + v), w7, c)
            a = vfma(load16(t8 + v), w8, a)
            return a + c
        }
        let total = s.oh &* rs
        var v = 0
        while v &+ 128 <= total {
            let r0 = dot(v), r1 = dot(v &+ 16), r2 = dot(v &+ 32), r3 = dot(v &+ 48)
            let r4 = dot(v &+ 64), r5 = dot(v &+ 80), r6 = dot(v &+ 96), r7 = dot(v &+ 112)
            dwStore16(r0, virt + v); dwStore16(r1, virt + (v &+ 16)); dwStore16(r2, virt + (v &+ 32)); dwStore16(r3, virt + (v &+ 48))
            dwStore16(r4, virt + (v &+ 64)); dwStore16(r5, virt + (v &+ 80)); dwStore16(r6, virt + (v &+ 96)); dwStore16(r7, virt + (v &+ 112))
            v &+= 128
        }
        while v < total { dwStore16(dot(v), virt + v); v &+= 16 }
    }
    // 3. Copy the useful columns out, applying the activation (one specialised loop per kind).
    switch code {
    case ActivationCode.none: depthwiseCopyOut(s, virt, output) { $0 }
    case ActivationCode.relu: depthwiseCopyOut(s, virt, output) { $0.replacing(with: 0, where: $0 .< 0) }
    case ActivationCode.clip:
        depthwiseCopyOut(s, virt, output) { $0.replacing(with: p0, where: $0 .< p0).replacing(with: p1, where: $0 .> p1) }
    default: depthwiseCopyOut(s, virt, output) { vactivate($0, code, p0, p1) }
    }
}

@inline(__always) func depthwiseCopyOut(_ s: Depthwise3x3Shape, _ virt: UnsafeMutablePointer<Float>,
                                        _ output: UnsafeMutablePointer<Float>, _ f: (VecF) -> VecF) {
    let ow = s.ow, rs = s.rowStride, planeEnd = s.oh &* ow
    for y in 0..<s.oh {
        let src = virt + y &* rs, dst = output + y &* ow
        var x = 0
        while x &+ 16 <= ow { dwStore16(f(load16(src + x)), dst + x); x &+= 16 }
        if x < ow {
            let v = f(load16(src + x))
            if planeEnd &- (y &* ow &+ x) >= 16 {
                // Spills into the plane's next rows, which are written afterwards (never past
                // the plane: another thread may own the next one).
                dwStore16(v, dst + x)
            } else {
                for t in 0..<(ow &- x) { dst[x &+ t] = v[t] }
            }
        }
    }
}

@inline(__always) func dwStore16(_ v: VecF, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: VecF.self)
}
