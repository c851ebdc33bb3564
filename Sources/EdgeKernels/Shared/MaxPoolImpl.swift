// 2-D max pooling of one plane, horizontal stride 1 or 2, no dilation, shared by the kernel
// targets (symlinked, see VectorMath.swift). The window max is separable: per output row, the
// elementwise max of the window's input rows (contiguous vectors), then the max over kw
// neighbouring columns of that row. For stride 2, 32 columns of the row are split in registers
// into their even and odd columns (two-source permutes) so that every tap is a vector. Padding is −∞ (it never wins), and a
// NaN anywhere in the window gives NaN, as the reference loop does.

/// The two maxes of the two passes, as types: each pass's functions are specialised for one of
/// them, with the max inlined. (With a `sticky: Bool` argument and @inline(__always), Swift kept
/// the row functions out of line and tested the flag in the inner loop, turning every plain max
/// into a compare, a mask or and a masked move.)
protocol PoolMaxOp {
    /// Whether this pass feeds the NaN/±∞ check (the plain pass does; the sticky one needs not).
    static var checks: Bool { get }
    static func max(_ a: VecF, _ b: VecF) -> VecF
}
/// b > a ? b : a — one vmaxps, exact for ordered values; a NaN in b is dropped.
enum PlainMax: PoolMaxOp {
    static var checks: Bool { true }
    @inline(__always) static func max(_ a: VecF, _ b: VecF) -> VecF { a.replacing(with: b, where: b .> a) }
}
enum StickyMax: PoolMaxOp {
    static var checks: Bool { false }
    @inline(__always) static func max(_ a: VecF, _ b: VecF) -> VecF { poolMax(a, b) }
}

/// NaN-sticky max: b where b > a or b is NaN, else a.
@inline(__always) func poolMax(_ a: VecF, _ b: VecF) -> VecF { a.replacing(with: b, where: (b .> a) .| (b .!= b)) }
@inline(__always) func poolMax(_ a: Float, _ b: Float) -> Float { (b > a || b != b) ? b : a }

/// geometry = [ih, iw, oh, ow, kh, kw, sh, sw, padTop, padLeft], sw = 1 or 2; scratch: see
/// `Kernels.maxPool2D`.
///
/// The plane first runs with a plain max, one vmaxps per tap (`b > a ? b : a`, exact for ordered
/// values), and a running check c = fma(s, 0, c) where s is the sum of each window column's
/// taps: c turns NaN as soon as one input is NaN or ±∞ (0·∞ = NaN). Only such a plane runs again with the NaN-
/// sticky max (4 instructions per tap: two compares, an or and a blend); −∞ in a plane (a pad
/// or an empty window upstream) takes that path too, with the same result. SqueezeNet's
/// 64 × 111² → 55² pool took 0.29 ms sticky against ORT's 0.07 ms.
@inline(__always) func maxPool2DPlaneImpl(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>,
                                          _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
    let check = maxPool2DPlanePass(geometry, input, output, scratch, PlainMax.self)
    if check != check { _ = maxPool2DPlanePass(geometry, input, output, scratch, StickyMax.self) }
}

/// One pass over the plane; returns the input check (NaN if an input was NaN or ±∞, or — harmless,
/// it only costs the sticky pass — if a window's column sums overflow; always 0 for the sticky
/// pass, which does not check). Each output row is two calls, the vertical max of its window's
/// rows into the row buffer, then the horizontal max over kw columns: as separate, small
/// functions their vector helpers are inlined (inside one large plane function Swift left them
/// out of line, a call per vector).
func maxPool2DPlanePass<M: PoolMaxOp>(_ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>,
                                      _ output: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
                                      _ op: M.Type) -> Float {
    let ih = geometry[0], iw = geometry[1], oh = geometry[2], ow = geometry[3]
    let kh = geometry[4], kw = geometry[5], sh = geometry[6], sw = geometry[7], padTop = geometry[8], padLeft = geometry[9]
    // Row buffer: [0, padLeft) and [padLeft + iw, rowLen) stay −∞; columns c of the padded row at c.
    // The horizontal pass reads below column 2·ow + kw + 32 (stride 2) or ow + kw + 16.
    let rowLen = padLeft + max(iw, 2 * ow + kw) + kw + 48
    let vb = scratch
    do {
        let vninf = VecF(repeating: -.infinity)
        var c = 0
        while c &+ 16 <= rowLen { dwStore16(vninf, vb + c); c &+= 16 }
        while c < rowLen { vb[c] = -.infinity; c &+= 1 }
    }
    // Two check accumulators, fed once per 16 columns of a window (the sum of the column's taps,
    // NaN or ±∞ when one of them is): one dependent FMA per 16 input columns per accumulator
    // instead of one per loaded vector, which made the check chain the loop's critical path.
    var checks = (VecF(repeating: 0), VecF(repeating: 0), Float(0))
    for y in 0..<oh {
        let out = output + y &* ow
        let r0 = max(0, y &* sh &- padTop), r1 = min(ih, y &* sh &- padTop &+ kh)
        if r0 >= r1 {
            for x in 0..<ow { out[x] = -.infinity }
            continue
        }
        maxPoolColumns(input + r0 &* iw, iw, r1 &- r0, vb + padLeft, &checks, M.self)
        maxPoolRow(vb, out, ow, kw, sw, room: (oh &- y) &* ow, M.self)
    }
    return (checks.0 + checks.1).sum() + checks.2
}

/// body[x] = max over `rows` input rows from `first` (row stride iw) of column x, x < iw; the
/// plain pass also feeds `checks` (see maxPool2DPlanePass). 32 columns per step (two independent
/// max chains); a ragged end is one more vector ending at iw (it recomputes a few columns with
/// the same result).
func maxPoolColumns<M: PoolMaxOp>(_ first: UnsafePointer<Float>, _ iw: Int, _ rows: Int, _ body: UnsafeMutablePointer<Float>,
                                   _ checks: inout (VecF, VecF, Float), _ op: M.Type) {
    @inline(__always) func vmax(_ a: VecF, _ b: VecF) -> VecF { M.max(a, b) }
    let checking = M.checks
    let zero = VecF(repeating: 0)
    var check0 = checks.0, check1 = checks.1, scalarCheck = checks.2
    var x = 0
    while x &+ 32 <= iw {
        var m0 = load16p(first + x), m1 = load16p(first + (x &+ 16))
        var s0 = m0, s1 = m1
        var p = first + (x &+ iw)
        var r = 1
        while r < rows {
            let v0 = load16p(p), v1 = load16p(p + 16)
            m0 = vmax(m0, v0); m1 = vmax(m1, v1)
            if checking { s0 += v0; s1 += v1 }
            p += iw
            r &+= 1
        }
        if checking { check0 = vfma(s0, zero, check0); check1 = vfma(s1, zero, check1) }
        dwStore16(m0, body + x); dwStore16(m1, body + (x &+ 16))
        x &+= 32
    }
    if iw >= 16 {
        // At most two more vectors: one at x if 16 columns remain, one ending at iw.
        while x < iw {
            let at = min(x, iw &- 16)
            var m = load16p(first + at)
            var s = m
            var p = first + (at &+ iw)
            var r = 1
            while r < rows {
                let v = load16p(p)
                m = vmax(m, v)
                if checking { s += v }
                p += iw
                r &+= 1
            }
            if checking { check0 = vfma(s, zero, check0) }
            dwStore16(m, body + at)
            x = at &+ 16
        }
    }
    while x < iw {
        // Scalar columns (rows narrower than a vector): NaN-sticky in both passes, and
        // checked too, since the horizontal max that follows is plain.
        var m = first[x]
        if checking { scalarCheck += m * 0 }
        var r = 1
        while r < rows {
            let v = first[r &* iw &+ x]
            if checking { scalarCheck += v * 0 }
            m = poolMax(m, v)
            r &+= 1
        }
        body[x] = m
        x &+= 1
    }
    checks = (check0, check1, scalarCheck)
}

/// out[x] = max_b row[x·sw + b] for x < ow, b < kw (maxPoolWindow16); a ragged end is one more
/// vector ending at ow (same values again). A row narrower than a vector is one full vector store
/// when `room` (floats of this plane's output from `out` on) leaves space for it: it spills into
/// the next rows, which are written afterwards; else lane by lane.
func maxPoolRow<M: PoolMaxOp>(_ row: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ ow: Int, _ kw: Int, _ sw: Int,
                              room: Int, _ op: M.Type) {
    var x = 0
    if sw == 2 && kw == 3 && ow >= 16 {
        // The 3×3 / stride-2 window (SqueezeNet, ResNet): split 32 columns into even and odd
        // halves once per block; tap 2 is the even half one lane on, its last lane the next
        // block's first even column. The next block is split one step ahead, so each block
        // costs two loads at the column offsets the vertical pass stored (a load straddling two
        // fresh stores cannot be forwarded and waits for them to retire).
        var cur = deinterleave(load16p(row), load16p(row + 16))
        while x &+ 16 <= ow {
            let at = row + 2 &* (x &+ 16)
            let next = deinterleave(load16p(at), load16p(at + 16))
            let third = shiftInLane(cur.even, next.even)
            dwStore16(M.max(M.max(cur.even, cur.odd), third), out + x)
            cur = next
            x &+= 16
        }
    }
    while x &+ 16 <= ow { dwStore16(maxPoolWindow16(row, x, kw, sw, M.self), out + x); x &+= 16 }
    if x < ow {
        if ow >= 16 { dwStore16(maxPoolWindow16(row, ow &- 16, kw, sw, M.self), out + (ow &- 16)) } else {
            let m = maxPoolWindow16(row, x, kw, sw, M.self)
            if room >= 16 { dwStore16(m, out) } else { for t in 0..<(ow &- x) { out[x &+ t] = m[t] } }
        }
    }
}

/// out[x + t] = max_b row[(x + t)·sw + b] for t < 16, b < kw (sw = 1 or 2). Stride 2: 32
/// consecutive row columns from 2x + (b rounded down to even) are split in registers into their
/// 16 even and 16 odd lanes (two-source permutes); tap b is the even (b even) or odd half. A
/// top-level function: as a nested one it was compiled out of line, returning its vector in
/// four xmm registers.
@inline(__always) func maxPoolWindow16<M: PoolMaxOp>(_ row: UnsafePointer<Float>, _ x: Int, _ kw: Int, _ sw: Int, _ op: M.Type) -> VecF {
    @inline(__always) func vmax(_ a: VecF, _ b: VecF) -> VecF { M.max(a, b) }
    var m = VecF(repeating: -.infinity)
    if sw == 1 {
        for b in 0..<kw { m = vmax(m, load16p(row + (x &+ b))) }
    } else {
        var b = 0
        while b < kw {
            let at = row + (2 &* x &+ b)
            let pair = deinterleave(load16p(at), load16p(at + 16))
            m = vmax(m, pair.even)
            if b &+ 1 < kw { m = vmax(m, pair.odd) }
            b &+= 2
        }
    }
    return m
}

/// The 32 floats a ‖ b split into their even and odd lanes: (a0 a2 … a14 b0 … b14, a1 … b15).
/// Written lane by lane so LLVM folds it into one two-source permute each (vpermt2ps); the
/// standard library's `SIMD32.evenHalf` is not inlined and ran as a call per vector.
@inline(__always) func deinterleave(_ a: VecF, _ b: VecF) -> (even: VecF, odd: VecF) {
    var even = VecF(), odd = VecF()
    for i in 0..<8 {
        even[i] = a[2 &* i]; even[i &+ 8] = b[2 &* i]
        odd[i] = a[2 &* i &+ 1]; odd[i &+ 8] = b[2 &* i &+ 1]
    }
    return (even, odd)
}

/// (a1, a2, …, a15, b0): a shifted down one lane with b's first lane in at the top (valignd).
@inline(__always) func shiftInLane(_ a: VecF, _ b: VecF) -> VecF {
    var r = VecF()
    for i in 0..<15 { r[i] = a[i &+ 1] }
    r[15] = b[0]
    return r
}

@inline(__always) func load16p(_ p: UnsafePointer<Float>) -> VecF { UnsafeRawPointer(p).loadUnaligned(as: VecF.self) }
