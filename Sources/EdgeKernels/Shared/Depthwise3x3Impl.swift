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
    var subPlane: Int { subRows * rowStride }
    /// Sub-planes, 32 floats of slack (vectors over-read past the last one), then the v-indexed
    /// outputs plus one vector group of slack.
    var scratchCount: Int { stride * stride * subPlane + 32 + oh * rowStride + 8 * 16 }
}

@inline(__always) func depthwise3x3PlaneImpl(
    _ s: Depthwise3x3Shape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: Float,
    _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
    _ code: Int, _ p0: Float, _ p1: Float
) {
    let st = s.stride, rs = s.rowStride, sub = s.subPlane
    // 1. Sub-planes: zero them, then place the input rows (stride 2: split into even and odd
    // padded columns, 16 inputs → 8 + 8 slots per vector). Columns past the sub-row are unused.
    do {
        let zero = VecF(repeating: 0)
        let count = st &* st &* sub
        var k = 0
        while k &+ 16 <= count { dwStore16(zero, scratch + k); k &+= 16 }
        while k < count { scratch[k] = 0; k &+= 1 }
    }
    let yFirst = max(0, -s.padTop), yEnd = min(s.ih, st &* s.subRows &- s.padTop)
    // Input columns whose padded column lands inside a sub-row: xp = x + padLeft < st·rs.
    let xEnd = min(s.iw, st &* rs &- s.padLeft)
    if yFirst < yEnd && xEnd > 0 {
        for y in yFirst..<yEnd {
            let yp = y &+ s.padTop
            let src = input + y &* s.iw
            if st == 1 {
                copyFloats(scratch + (yp &* rs &+ s.padLeft), src, xEnd)
                continue
            }
            let pr = yp & 1, i = yp >> 1
            // Phase-c plane pc = (pr, c): row i, slot (x + padLeft) / 2.
            let even = scratch + ((pr &* 2) &* sub &+ i &* rs), odd = even + sub
            var x = 0
            // Scalar until x + padLeft is even, so vectors start on an even padded column.
            if (s.padLeft & 1) == 1 && x < xEnd { odd[(x &+ s.padLeft) >> 1] = src[x]; x &+= 1 }
            while x &+ 16 <= xEnd {
                let v = UnsafeRawPointer(src + x).loadUnaligned(as: VecF.self)
                let j = (x &+ s.padLeft) >> 1
                UnsafeMutableRawPointer(even + j).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(odd + j).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                x &+= 16
            }
            while x < xEnd {
                let xp = x &+ s.padLeft
                ((xp & 1) == 0 ? even : odd)[xp >> 1] = src[x]
                x &+= 1
            }
        }
    }
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
