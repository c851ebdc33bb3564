// Direct convolution for few input channels (a network's first layer: 3 channels, 3×3 or 7×7,
// K = C_in·kh·kw ≤ 160), shared by the kernel targets (symlinked, see VectorMath.swift).
//
// With K this small an im2col GEMM does little work per packed column (27 products for 3×3) and
// still copies the input kh·kw/(sh·sw) times. Here the output is computed in registers instead:
// a block of `cb` output channels × `nv` vectors of 16 output pixels. Each tap t = (ci, ky, kx)
// loads the nv input vectors once and broadcasts the cb weights w[t][co] against them, so a tap
// costs nv loads + cb broadcasts for cb·nv FMAs (AVX-512: 8 × 3 = 24 accumulators).
//
// Input layout. A band of output rows first copies the input rows it reads into a zero-padded,
// stride-phase-split scratch (as the depthwise kernel does): padded column x' = x + padLeft goes
// to phase x' mod sw, slot x' / sw. Output column ox at tap kx reads x' = ox·sw + kx·dw, i.e. phase
// (kx·dw) mod sw, slot ox + (kx·dw)/sw, so 16 consecutive outputs read 16 consecutive slots for
// any stride, and pads are ordinary zeros. The band (C_in × rows × sw × slots) stays in L1.
//
// Output. Row vectors start at ox = 16·v, the last at ow − 16 (it overlaps its neighbour and
// stores the same values again), so every store is a full vector inside the row; rows narrower
// than 16 store lane by lane. The band's vectors (row, v) are numbered in order and taken nv at
// a time across rows; a last group of fewer than nv repeats its last vector. A last channel
// block of fewer than cb channels overlaps the previous block (recomputing up to cb − 1
// channels with the same sums, stored again) when C_out ≥ cb, so weights are held unpadded as
// [tap][C_out]: C_out·K floats, no more than the weights themselves.
//
// Summation order: bias first, then taps in (ci, ky, kx) order, one FMA each.

/// Shape of the direct conv: geometry = [cin, cout, ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, padTop, padLeft].
struct SmallConvShape {
    var cin: Int, cout: Int, ih: Int, iw: Int, oh: Int, ow: Int
    var kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int, padTop: Int, padLeft: Int

    init(_ g: UnsafePointer<Int>) {
        cin = g[0]; cout = g[1]; ih = g[2]; iw = g[3]; oh = g[4]; ow = g[5]
        kh = g[6]; kw = g[7]; sh = g[8]; sw = g[9]; dh = g[10]; dw = g[11]; padTop = g[12]; padLeft = g[13]
    }

    var taps: Int { cin * kh * kw }
    /// Padded columns the outputs read.
    var wPad: Int { (ow - 1) * sw + (kw - 1) * dw + 1 }
    /// Slots per phase row; 16 of slack so a vector of a row narrower than 16 reads inside the row.
    var slots: Int { (wPad + sw - 1) / sw + 16 }
    var rowStride: Int { sw * slots }
    /// Padded input rows a band of `rows` output rows reads.
    func inRows(_ rows: Int) -> Int { (rows - 1) * sh + (kh - 1) * dh + 1 }
    func scratchCount(bandRows: Int) -> Int { cin * inRows(bandRows) * rowStride }
}

/// Output rows [oy0, oy1) of one image: input C_in × ih × iw, output C_out × oh × ow, weights
/// [tap][C_out], bias C_out or nil, scratch ≥ `scratchCount(bandRows: oy1 − oy0)` floats.
/// Activation codes none/relu/clip are applied in registers, others by a pass over the band.
/// `cb` (≤ 8) and `nv` (≤ 3) are constants at each call, so the unused accumulators fold away.
@inline(__always) func smallConvBandImpl(
    _ geometry: UnsafePointer<Int>, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>, _ oy0: Int, _ oy1: Int,
    _ scratch: UnsafeMutablePointer<Float>, _ code: Int, _ p0: Float, _ p1: Float, cb: Int, nv: Int
) {
    let s = SmallConvShape(geometry)
    smallConvFillBand(s, input, oy0, oy1, scratch)
    let taps = s.taps, rowStride = s.rowStride, inRows = s.inRows(oy1 - oy0)
    withUnsafeTemporaryAllocation(of: Int.self, capacity: taps) { offsets in
        // Tap t = (ci, ky, kx) reads scratch[ci·C + ky·dh·R + phase·slots + slot0 + (vector base)].
        var t = 0
        for ci in 0..<s.cin {
            for ky in 0..<s.kh {
                for kx in 0..<s.kw {
                    let off = kx * s.dw
                    offsets[t] = (ci * inRows + ky * s.dh) * rowStride + (off % s.sw) * s.slots + off / s.sw
                    t += 1
                }
            }
        }
        let offs = UnsafePointer(offsets.baseAddress!)
        if s.cout >= cb {
            var c0 = 0
            while c0 < s.cout {
                let c = min(c0, s.cout - cb)
                smallConvChannelBlock(s, offs, weights + c, bias.map { $0 + c }, output + c * s.oh * s.ow, oy0, oy1,
                                      scratch, code, p0, p1, cb: cb, nv: nv)
                c0 += cb
            }
        } else {
            // Fewer channels than one block: a block exactly C_out wide.
            switch s.cout {
            case 1: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 1, nv: nv)
            case 2: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 2, nv: nv)
            case 3: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 3, nv: nv)
            case 4: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 4, nv: nv)
            case 5: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 5, nv: nv)
            case 6: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 6, nv: nv)
            default: smallConvChannelBlock(s, offs, weights, bias, output, oy0, oy1, scratch, code, p0, p1, cb: 7, nv: nv)
            }
        }
    }
    if code > ActivationCode.clip {
        let plane = s.oh * s.ow, n = (oy1 - oy0) * s.ow
        for co in 0..<s.cout { epilogueRowImpl(output + co * plane + oy0 * s.ow, n, 0, nil, code, p0, p1) }
    }
}

/// Copies the padded input rows of output rows [oy0, oy1) into the phase-split scratch
/// (C_in × inRows × sw phase rows of `slots`), zeros where the window reads padding.
@inline(__always) func smallConvFillBand(_ s: SmallConvShape, _ input: UnsafePointer<Float>, _ oy0: Int, _ oy1: Int,
                                         _ scratch: UnsafeMutablePointer<Float>) {
    let rows = s.inRows(oy1 - oy0), slots = s.slots, sw = s.sw, rowStride = s.rowStride
    // Padded columns [xpStart, xpEnd) hold input; the rest of each phase row is zero.
    let xpStart = s.padLeft, xpEnd = min(s.wPad, s.iw + s.padLeft)
    for ci in 0..<s.cin {
        let plane = input + ci * s.ih * s.iw
        for r in 0..<rows {
            let dst = scratch + (ci * rows + r) * rowStride
            dst.update(repeating: 0, count: rowStride)
            let y = oy0 * s.sh + r - s.padTop
            if y < 0 || y >= s.ih || xpEnd <= xpStart { continue }
            let src = plane + y * s.iw - s.padLeft  // src[xp] = input column xp − padLeft
            if sw == 1 {
                var xp = xpStart
                while xp + 16 <= xpEnd {
                    UnsafeMutableRawPointer(dst + xp).storeBytes(of: UnsafeRawPointer(src + xp).loadUnaligned(as: VecF.self), as: VecF.self)
                    xp += 16
                }
                while xp < xpEnd { dst[xp] = src[xp]; xp += 1 }
            } else if sw == 2 {
                // 16 inputs at a time into 8 even + 8 odd slots; slots j in [jLo, jVec) have both
                // phases inside the copied range.
                let jLo = (xpStart + 1) / 2, jHi = xpEnd / 2
                let jVec = jHi > jLo ? jLo + (jHi - jLo) / 8 * 8 : jLo
                var j = jLo
                while j < jVec {
                    let v = UnsafeRawPointer(src + 2 * j).loadUnaligned(as: VecF.self)
                    UnsafeMutableRawPointer(dst + j).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(dst + slots + j).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                    j += 8
                }
                for xp in xpStart..<min(xpEnd, 2 * jLo) { dst[(xp & 1) * slots + xp >> 1] = src[xp] }
                for xp in max(xpStart, 2 * jVec)..<xpEnd { dst[(xp & 1) * slots + xp >> 1] = src[xp] }
            } else {
                for xp in xpStart..<xpEnd { dst[(xp % sw) * slots + xp / sw] = src[xp] }
            }
        }
    }
}

/// One output channel's accumulators for up to three pixel vectors.
struct SmallConvAcc {
    var a: VecF, b: VecF, c: VecF

    @inline(__always) init(_ bias: Float) {
        a = VecF(repeating: bias); b = a; c = a
    }

    /// += w · x_j for the first nv vectors (one broadcast of w for all of them).
    @inline(__always) mutating func add(_ w: Float, _ x0: VecF, _ x1: VecF, _ x2: VecF, _ nv: Int) {
        let wv = VecF(repeating: w)
        a = vfma(x0, wv, a)
        if nv > 1 { b = vfma(x1, wv, b) }
        if nv > 2 { c = vfma(x2, wv, c) }
    }

    /// Activation (codes none/relu/clip; others later) and store of the nv vectors of channel row `y`.
    @inline(__always) func store(_ y: UnsafeMutablePointer<Float>, _ o0: Int, _ o1: Int, _ o2: Int, _ nv: Int,
                                 _ width: Int, _ code: Int, _ p0: Float, _ p1: Float) {
        smallConvStore(a, y + o0, width, code, p0, p1)
        if nv > 1 { smallConvStore(b, y + o1, width, code, p0, p1) }
        if nv > 2 { smallConvStore(c, y + o2, width, code, p0, p1) }
    }
}

/// Stores one output vector: 16 lanes, or the first `width` (< 16) for narrow rows.
@inline(__always) func smallConvStore(_ v: VecF, _ p: UnsafeMutablePointer<Float>, _ width: Int,
                                      _ code: Int, _ p0: Float, _ p1: Float) {
    var x = v
    if code == ActivationCode.relu { x = x.replacing(with: 0, where: x .< 0) }
    else if code == ActivationCode.clip { x = x.replacing(with: p0, where: x .< p0).replacing(with: p1, where: x .> p1) }
    if width >= 16 {
        UnsafeMutableRawPointer(p).storeBytes(of: x, as: VecF.self)
    } else {
        for i in 0..<width { p[i] = x[i] }
    }
}

/// Channels [c, c + cb) of output rows [oy0, oy1): `weights` and `bias` start at channel c
/// (weight row stride C_out per tap), `output` at channel c's plane.
@inline(__always) func smallConvChannelBlock(
    _ s: SmallConvShape, _ offs: UnsafePointer<Int>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ output: UnsafeMutablePointer<Float>, _ oy0: Int, _ oy1: Int, _ scratch: UnsafeMutablePointer<Float>,
    _ code: Int, _ p0: Float, _ p1: Float, cb: Int, nv: Int
) {
    let taps = s.taps, ow = s.ow, plane = s.oh * s.ow, cout = s.cout
    let perRow = ow >= 16 ? (ow + 15) / 16 : 1
    let vectors = (oy1 - oy0) * perRow
    let rowStep = s.sh * s.rowStride
    let bias0 = bias?[0] ?? 0
    let bias1 = cb > 1 ? bias?[1] ?? 0 : 0, bias2 = cb > 2 ? bias?[2] ?? 0 : 0, bias3 = cb > 3 ? bias?[3] ?? 0 : 0
    let bias4 = cb > 4 ? bias?[4] ?? 0 : 0, bias5 = cb > 5 ? bias?[5] ?? 0 : 0
    let bias6 = cb > 6 ? bias?[6] ?? 0 : 0, bias7 = cb > 7 ? bias?[7] ?? 0 : 0
    // Vector k of the band: row oy0 + k / perRow, column min(16·(k mod perRow), ow − 16);
    // stepped like an odometer instead of dividing.
    var rowL = 0, v = 0
    @inline(__always) func next() -> (UnsafePointer<Float>, Int) {
        let ox = ow >= 16 ? min(v * 16, ow - 16) : 0
        let at = (UnsafePointer(scratch) + rowL * rowStep + ox, (oy0 + rowL) * ow + ox)
        v += 1
        if v == perRow { v = 0; rowL += 1 }
        return at
    }
    var k = 0
    while k < vectors {
        // nv vectors; past the band's last vector, repeat it.
        let (x0, o0) = next()
        var (x1, o1) = (x0, o0), (x2, o2) = (x0, o0)
        if nv > 1 && k + 1 < vectors { (x1, o1) = next() }
        if nv > 2 { if k + 2 < vectors { (x2, o2) = next() } else { (x2, o2) = (x1, o1) } }
        k += nv
        var a0 = SmallConvAcc(bias0), a1 = SmallConvAcc(bias1), a2 = SmallConvAcc(bias2), a3 = SmallConvAcc(bias3)
        var a4 = SmallConvAcc(bias4), a5 = SmallConvAcc(bias5), a6 = SmallConvAcc(bias6), a7 = SmallConvAcc(bias7)
        var w = weights
        var t = 0
        while t < taps {
            let o = offs[t]
            let v0 = UnsafeRawPointer(x0 + o).loadUnaligned(as: VecF.self)
            let v1 = nv > 1 ? UnsafeRawPointer(x1 + o).loadUnaligned(as: VecF.self) : v0
            let v2 = nv > 2 ? UnsafeRawPointer(x2 + o).loadUnaligned(as: VecF.self) : v0
            a0.add(w[0], v0, v1, v2, nv)
            if cb > 1 { a1.add(w[1], v0, v1, v2, nv) }
            if cb > 2 { a2.add(w[2], v0, v1, v2, nv) }
            if cb > 3 { a3.add(w[3], v0, v1, v2, nv) }
            if cb > 4 { a4.add(w[4], v0, v1, v2, nv) }
            if cb > 5 { a5.add(w[5], v0, v1, v2, nv) }
            if cb > 6 { a6.add(w[6], v0, v1, v2, nv) }
            if cb > 7 { a7.add(w[7], v0, v1, v2, nv) }
            w += cout
            t &+= 1
        }
        let width = min(ow, 16)
        a0.store(output, o0, o1, o2, nv, width, code, p0, p1)
        if cb > 1 { a1.store(output + plane, o0, o1, o2, nv, width, code, p0, p1) }
        if cb > 2 { a2.store(output + 2 * plane, o0, o1, o2, nv, width, code, p0, p1) }
        if cb > 3 { a3.store(output + 3 * plane, o0, o1, o2, nv, width, code, p0, p1) }
        if cb > 4 { a4.store(output + 4 * plane, o0, o1, o2, nv, width, code, p0, p1) }
        if cb > 5 { a5.store(output + 5 * plane, o0, o1, o2, nv, width, code, p0, p1) }
        if cb > 6 { a6.store(output + 6 * plane, o0, o1, o2, nv, width, code, p0, p1) }
        if cb > 7 { a7.store(output + 7 * plane, o0, o1, o2, nv, width, code, p0, p1) }
    }
}
