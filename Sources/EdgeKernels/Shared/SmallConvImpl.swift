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
// than 16 are stored 16 wide into scratch and copied. The band's vectors (row, v) are numbered in order and taken nv at
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
    /// The phase-split input of a band of at most `bandRows` output rows: per input channel,
    /// inRows(bandRows) rows of sw phase rows (bands of fewer rows leave the rest unused).
    func inputScratchCount(bandRows: Int) -> Int { cin * inRows(bandRows) * rowStride }
    /// The input band, and for rows narrower than 16 the band's output at 16 floats a row.
    func scratchCount(bandRows: Int) -> Int { inputScratchCount(bandRows: bandRows) + (ow < 16 ? cout * bandRows * 16 : 0) }

    /// Where tap t = (ci, ky, kx) reads, relative to an output vector's base in the scratch:
    /// channel ci's rows, row ky·dh, phase (kx·dw) mod sw, slot (kx·dw) / sw. The same for every
    /// band, so computed once per call (no division in the kernel).
    func tapOffsets(bandRows: Int) -> [Int] {
        let channelStride = inRows(bandRows) * rowStride
        var offsets = [Int]()
        offsets.reserveCapacity(taps)
        for ci in 0..<cin {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let off = kx * dw
                    offsets.append(ci * channelStride + ky * dh * rowStride + (off % sw) * slots + off / sw)
                }
            }
        }
        return offsets
    }
}

/// Output rows [oy0, oy1) of one image: input C_in × ih × iw, output C_out × oh × ow, weights
/// [tap][C_out], bias C_out or nil; `bandRows` ≥ oy1 − oy0 sets the scratch layout, `offs` =
/// `tapOffsets(bandRows:)`, scratch ≥ `scratchCount(bandRows:)` floats.
/// Activation codes none/relu/clip are applied in registers, others by a pass over the band.
/// Channel blocks are `smallConvChannels` wide (a constant of each ISA target, as is
/// `smallConvVectors`); C_out below that runs blocks of 4 (overlapping) or of 1.
@inline(__always) func smallConvBandImpl(
    _ geometry: UnsafePointer<Int>, _ offs: UnsafePointer<Int>, _ bandRows: Int, _ input: UnsafePointer<Float>,
    _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>, _ oy0: Int, _ oy1: Int,
    _ scratch: UnsafeMutablePointer<Float>, _ code: Int, _ p0: Float, _ p1: Float
) {
    let s = SmallConvShape(geometry)
    smallConvFillBand(s, input, oy0, oy1, s.inRows(bandRows), scratch)
    let plane = s.oh * s.ow
    // Rows narrower than a vector go to a 16-wide buffer after the input band, then are copied.
    let narrow = s.ow < 16
    let (out, outRow, outPlane, outRow0) = narrow ? (scratch + s.inputScratchCount(bandRows: bandRows), 16, bandRows * 16, 0)
                                                  : (output, s.ow, plane, oy0)
    // ReLU and clip as a clamp range; other activations run over the band afterwards.
    let lo = VecF(repeating: code == ActivationCode.relu ? 0 : code == ActivationCode.clip ? p0 : -.infinity)
    let hi = VecF(repeating: code == ActivationCode.clip ? p1 : .infinity)
    let cb = s.cout >= smallConvChannels ? smallConvChannels : s.cout >= 4 ? 4 : 1
    var c0 = 0
    while c0 < s.cout {
        let c = min(c0, s.cout - cb)
        let b = bias == nil ? nil : bias! + c
        let y = out + c * outPlane
        switch cb {
        case smallConvChannels: smallConvBlockFull(s, offs, weights + c, b, y, outRow, outPlane, outRow0, oy0, oy1, scratch, lo, hi)
        case 4: smallConvBlock4(s, offs, weights + c, b, y, outRow, outPlane, outRow0, oy0, oy1, scratch, lo, hi)
        default: smallConvBlock1(s, offs, weights + c, b, y, outRow, outPlane, outRow0, oy0, oy1, scratch, lo, hi)
        }
        c0 += cb
    }
    if narrow {
        for co in 0..<s.cout {
            for r in 0..<(oy1 - oy0) {
                (output + co * plane + (oy0 + r) * s.ow).update(from: out + co * outPlane + r * 16, count: s.ow)
            }
        }
    }
    if code > ActivationCode.clip {
        let n = (oy1 - oy0) * s.ow
        for co in 0..<s.cout { epilogueRowImpl(output + co * plane + oy0 * s.ow, n, 0, nil, code, p0, p1) }
    }
}

/// Copies the padded input rows of output rows [oy0, oy1) into the phase-split scratch
/// (C_in × `channelRows` × sw phase rows of `slots`), zeros where the window reads padding.
@inline(__always) func smallConvFillBand(_ s: SmallConvShape, _ input: UnsafePointer<Float>, _ oy0: Int, _ oy1: Int,
                                         _ channelRows: Int, _ scratch: UnsafeMutablePointer<Float>) {
    let rows = s.inRows(oy1 - oy0), slots = s.slots, sw = s.sw, rowStride = s.rowStride
    // Padded columns [xpStart, xpEnd) hold input; the rest of each phase row is zero.
    let xpStart = s.padLeft, xpEnd = min(s.wPad, s.iw + s.padLeft)
    for ci in 0..<s.cin {
        let plane = input + ci * s.ih * s.iw
        for r in 0..<rows {
            let dst = scratch + (ci * channelRows + r) * rowStride
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

// One function per block width, each a single inlined copy of the kernel: inlining all of them
// into one caller exceeds the optimiser's block budget, and the copy it then leaves out of line
// takes cb and nv as run-time values (every accumulator guarded, ~25% slower).
@inline(never) func smallConvBlockFull(
    _ s: SmallConvShape, _ offs: UnsafePointer<Int>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ output: UnsafeMutablePointer<Float>, _ outRow: Int, _ outPlane: Int, _ outRow0: Int, _ oy0: Int, _ oy1: Int,
    _ scratch: UnsafeMutablePointer<Float>, _ lo: VecF, _ hi: VecF
) {
    smallConvChannelBlock(s, offs, weights, bias, output, outRow, outPlane, outRow0, oy0, oy1, scratch, lo, hi,
                          cb: smallConvChannels, nv: smallConvVectors)
}

@inline(never) func smallConvBlock4(
    _ s: SmallConvShape, _ offs: UnsafePointer<Int>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ output: UnsafeMutablePointer<Float>, _ outRow: Int, _ outPlane: Int, _ outRow0: Int, _ oy0: Int, _ oy1: Int,
    _ scratch: UnsafeMutablePointer<Float>, _ lo: VecF, _ hi: VecF
) {
    smallConvChannelBlock(s, offs, weights, bias, output, outRow, outPlane, outRow0, oy0, oy1, scratch, lo, hi,
                          cb: 4, nv: smallConvVectors)
}

@inline(never) func smallConvBlock1(
    _ s: SmallConvShape, _ offs: UnsafePointer<Int>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ output: UnsafeMutablePointer<Float>, _ outRow: Int, _ outPlane: Int, _ outRow0: Int, _ oy0: Int, _ oy1: Int,
    _ scratch: UnsafeMutablePointer<Float>, _ lo: VecF, _ hi: VecF
) {
    smallConvChannelBlock(s, offs, weights, bias, output, outRow, outPlane, outRow0, oy0, oy1, scratch, lo, hi,
                          cb: 1, nv: smallConvVectors)
}

/// Clamps to [lo, hi] (the activation as a range: none, ReLU or clip; NaN stays NaN) and stores
/// 16 lanes.
@inline(__always) func smallConvPut(_ v: VecF, _ p: UnsafeMutablePointer<Float>, _ lo: VecF, _ hi: VecF) {
    let x = v.replacing(with: lo, where: v .< lo).replacing(with: hi, where: v .> hi)
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: VecF.self)
}

/// Channels [c, c + cb) of output rows [oy0, oy1): `weights` and `bias` start at channel c
/// (weight row stride C_out per tap), `output` at channel c's plane, whose rows are `outRow`
/// floats apart (ow, or 16 for rows narrower than a vector), with row oy0 at row `outRow0`.
/// The body is written out flat, one variable per accumulator (a_c_j: channel c, vector j): a
/// struct of accumulators with methods was left out of line by the optimiser in this large a
/// function, passing the vectors through memory.
@inline(__always) func smallConvChannelBlock(
    _ s: SmallConvShape, _ offs: UnsafePointer<Int>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ output: UnsafeMutablePointer<Float>, _ outRow: Int, _ outPlane: Int, _ outRow0: Int, _ oy0: Int, _ oy1: Int,
    _ scratch: UnsafeMutablePointer<Float>, _ lo: VecF, _ hi: VecF, cb: Int, nv: Int
) {
    let taps = s.taps, ow = s.ow, cout = s.cout
    let perRow = (ow + 15) / 16, lastX = max(0, ow - 16)
    let vectors = (oy1 - oy0) * perRow
    let rowStep = s.sh * s.rowStride
    let b0 = bias?[0] ?? 0, b1 = cb > 1 ? bias?[1] ?? 0 : 0, b2 = cb > 2 ? bias?[2] ?? 0 : 0, b3 = cb > 3 ? bias?[3] ?? 0 : 0
    let b4 = cb > 4 ? bias?[4] ?? 0 : 0, b5 = cb > 5 ? bias?[5] ?? 0 : 0, b6 = cb > 6 ? bias?[6] ?? 0 : 0, b7 = cb > 7 ? bias?[7] ?? 0 : 0
    // Vector k of the band: row oy0 + k / perRow, column min(16·(k mod perRow), ow − 16);
    // stepped like an odometer instead of dividing.
    var rowL = 0, v = 0
    @inline(__always) func next() -> (UnsafePointer<Float>, Int) {
        let ox = min(v * 16, lastX)
        let at = (UnsafePointer(scratch) + rowL * rowStep + ox, (outRow0 + rowL) * outRow + ox)
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
        var a00 = VecF(repeating: b0), a01 = a00, a02 = a00
        var a10 = VecF(repeating: b1), a11 = a10, a12 = a10
        var a20 = VecF(repeating: b2), a21 = a20, a22 = a20
        var a30 = VecF(repeating: b3), a31 = a30, a32 = a30
        var a40 = VecF(repeating: b4), a41 = a40, a42 = a40
        var a50 = VecF(repeating: b5), a51 = a50, a52 = a50
        var a60 = VecF(repeating: b6), a61 = a60, a62 = a60
        var a70 = VecF(repeating: b7), a71 = a70, a72 = a70
        var w = weights
        var t = 0
        while t < taps {
            let o = offs[t]
            let v0 = UnsafeRawPointer(x0 + o).loadUnaligned(as: VecF.self)
            let v1 = nv > 1 ? UnsafeRawPointer(x1 + o).loadUnaligned(as: VecF.self) : v0
            let v2 = nv > 2 ? UnsafeRawPointer(x2 + o).loadUnaligned(as: VecF.self) : v0
            do { let s = VecF(repeating: w[0]); a00 = vfma(v0, s, a00); if nv > 1 { a01 = vfma(v1, s, a01) }; if nv > 2 { a02 = vfma(v2, s, a02) } }
            if cb > 1 { let s = VecF(repeating: w[1]); a10 = vfma(v0, s, a10); if nv > 1 { a11 = vfma(v1, s, a11) }; if nv > 2 { a12 = vfma(v2, s, a12) } }
            if cb > 2 { let s = VecF(repeating: w[2]); a20 = vfma(v0, s, a20); if nv > 1 { a21 = vfma(v1, s, a21) }; if nv > 2 { a22 = vfma(v2, s, a22) } }
            if cb > 3 { let s = VecF(repeating: w[3]); a30 = vfma(v0, s, a30); if nv > 1 { a31 = vfma(v1, s, a31) }; if nv > 2 { a32 = vfma(v2, s, a32) } }
            if cb > 4 { let s = VecF(repeating: w[4]); a40 = vfma(v0, s, a40); if nv > 1 { a41 = vfma(v1, s, a41) }; if nv > 2 { a42 = vfma(v2, s, a42) } }
            if cb > 5 { let s = VecF(repeating: w[5]); a50 = vfma(v0, s, a50); if nv > 1 { a51 = vfma(v1, s, a51) }; if nv > 2 { a52 = vfma(v2, s, a52) } }
            if cb > 6 { let s = VecF(repeating: w[6]); a60 = vfma(v0, s, a60); if nv > 1 { a61 = vfma(v1, s, a61) }; if nv > 2 { a62 = vfma(v2, s, a62) } }
            if cb > 7 { let s = VecF(repeating: w[7]); a70 = vfma(v0, s, a70); if nv > 1 { a71 = vfma(v1, s, a71) }; if nv > 2 { a72 = vfma(v2, s, a72) } }
            w += cout
            t &+= 1
        }
        do { let y = output; smallConvPut(a00, y + o0, lo, hi); if nv > 1 { smallConvPut(a01, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a02, y + o2, lo, hi) } }
        if cb > 1 { let y = output + 1 * outPlane; smallConvPut(a10, y + o0, lo, hi); if nv > 1 { smallConvPut(a11, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a12, y + o2, lo, hi) } }
        if cb > 2 { let y = output + 2 * outPlane; smallConvPut(a20, y + o0, lo, hi); if nv > 1 { smallConvPut(a21, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a22, y + o2, lo, hi) } }
        if cb > 3 { let y = output + 3 * outPlane; smallConvPut(a30, y + o0, lo, hi); if nv > 1 { smallConvPut(a31, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a32, y + o2, lo, hi) } }
        if cb > 4 { let y = output + 4 * outPlane; smallConvPut(a40, y + o0, lo, hi); if nv > 1 { smallConvPut(a41, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a42, y + o2, lo, hi) } }
        if cb > 5 { let y = output + 5 * outPlane; smallConvPut(a50, y + o0, lo, hi); if nv > 1 { smallConvPut(a51, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a52, y + o2, lo, hi) } }
        if cb > 6 { let y = output + 6 * outPlane; smallConvPut(a60, y + o0, lo, hi); if nv > 1 { smallConvPut(a61, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a62, y + o2, lo, hi) } }
        if cb > 7 { let y = output + 7 * outPlane; smallConvPut(a70, y + o0, lo, hi); if nv > 1 { smallConvPut(a71, y + o1, lo, hi) }; if nv > 2 { smallConvPut(a72, y + o2, lo, hi) } }
    }
}
