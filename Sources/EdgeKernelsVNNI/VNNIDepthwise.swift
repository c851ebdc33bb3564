// Integer depthwise 2-D convolution of one channel plane with vpdpwssd (AVX-512 VNNI):
//   out[oy, ox] = Σ_{ky,kx} (x[oy·sh + ky·dh − padTop, ox·sw + kx·dw − padLeft] − zx) · (w[ky,kx] − zw)
// in exact int32 arithmetic (wrapping, like the int32 GEMMs), the input padded with its zero point.
//
// vpdpwssd(acc, a, b): for each int32 lane l, acc[l] += a.lo16·b.lo16 + a.hi16·b.hi16 (signed, no
// saturation). Both factors fit int16: x − zx and w − zw lie in [−255, 255].
// Taps are paired along the kernel's rows, (ky, ky+1) for even ky: the scratch holds, for a padded
// row yp, the word (X[yp], X[yp + dh]) per padded column, with X = x − zx (0 in the padding), and
// the weights hold (w[ky, kx], w[ky+1, kx]) — w[kh, kx] = 0 when kh is odd. One vpdpwssd then adds
// two taps for 16 outputs; a 3×3 kernel takes 6 instead of 9 multiply-adds.
// Columns use the float kernel's stride-phase split (EdgeKernels/Shared/DepthwiseImpl.swift):
//   padded column xp = slot·sw + phase, stored at phase·slots + slot,
// so 16 consecutive outputs read 16 consecutive words for any stride.
// Only pair rows yp = oy·sh + 2q·dh are read; they are all multiples of gcd(sh, 2·dh), and only
// those rows are built.
import Swift

@inline(__always) func dpwssd(_ acc: SIMD16<Int32>, _ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.int_x86_avx512_vpdpwssd_512(unsafeBitCast(acc, to: Builtin.Vec16xInt32.self),
                                                      unsafeBitCast(a, to: Builtin.Vec16xInt32.self),
                                                      unsafeBitCast(b, to: Builtin.Vec16xInt32.self)), to: SIMD16<Int32>.self)
}

@inline(__always) func zext16(_ v: SIMD16<UInt16>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.zext_Vec16xInt16_Vec16xInt32(unsafeBitCast(v, to: Builtin.Vec16xInt16.self)), to: SIMD16<Int32>.self)
}

/// Geometry of one depthwise plane for `VNNIKernels.depthwisePlane`.
public struct VNNIDepthwiseShape: Sendable {
    public let ih: Int, iw: Int, oh: Int, ow: Int
    public let kh: Int, kw: Int, sh: Int, sw: Int
    public let padTop: Int, padLeft: Int, dh: Int, dw: Int

    public init(ih: Int, iw: Int, oh: Int, ow: Int, kh: Int, kw: Int, sh: Int, sw: Int,
                padTop: Int, padLeft: Int, dh: Int, dw: Int) {
        self.ih = ih; self.iw = iw; self.oh = oh; self.ow = ow; self.kh = kh; self.kw = kw
        self.sh = sh; self.sw = sw; self.padTop = padTop; self.padLeft = padLeft; self.dh = dh; self.dw = dw
    }

    /// Padded extents read by the outputs.
    var hPad: Int { (oh - 1) * sh + (kh - 1) * dh + 1 }
    var wPad: Int { (ow - 1) * sw + (kw - 1) * dw + 1 }
    /// Words per phase row, with 16 of slack so a vector at a row's tail can over-read.
    var slots: Int { (wPad + sw - 1) / sw + 16 }
    var rowStride: Int { sw * slots }
    /// Int32 words of scratch one plane needs.
    public var scratchWords: Int { hPad * rowStride }
    /// Kernel row pairs (ky, ky+1).
    public var pairRows: Int { (kh + 1) / 2 }
    /// Weight words per channel: pairRows × kw.
    public var weightWords: Int { pairRows * kw }
}

extension VNNIKernels {
    /// One channel's weight words from its kh×kw shifted weights (w − zw, each in [−255, 255]).
    public static func depthwiseWeightWords(_ shifted: UnsafePointer<Int32>, kh: Int, kw: Int, into dst: UnsafeMutablePointer<UInt32>) {
        for q in 0..<(kh + 1) / 2 {
            for kx in 0..<kw {
                let lo = shifted[2 * q * kw + kx]
                let hi = 2 * q + 1 < kh ? shifted[(2 * q + 1) * kw + kx] : 0
                dst[q * kw + kx] = UInt32(UInt16(truncatingIfNeeded: lo)) | UInt32(UInt16(truncatingIfNeeded: hi)) << 16
            }
        }
    }

    /// One plane: `input` ih×iw bytes (int8 if `signed`, else uint8), `weights` the plane's
    /// `weightWords` words, `output` oh×ow int32, `scratch` at least `scratchWords` words.
    public static func depthwisePlane(_ s: VNNIDepthwiseShape, _ input: UnsafeRawPointer, _ signed: Bool, _ zeroPoint: Int32,
                                      _ weights: UnsafePointer<UInt32>, _ output: UnsafeMutablePointer<Int32>,
                                      _ scratch: UnsafeMutablePointer<UInt32>) {
        if signed { fillPairs(s, input, true, zeroPoint, scratch) } else { fillPairs(s, input, false, zeroPoint, scratch) }
        accumulate(s, weights, output, UnsafeRawPointer(scratch))
    }

    /// X(y, x) = byte − zx inside the plane, 0 in the padding (y, x in padded coordinates).
    @inline(__always) static func shifted(_ s: VNNIDepthwiseShape, _ input: UnsafeRawPointer, _ signed: Bool, _ z: Int32,
                                          _ yp: Int, _ xp: Int) -> Int32 {
        let y = yp - s.padTop, x = xp - s.padLeft
        if y < 0 || y >= s.ih || x < 0 || x >= s.iw { return 0 }
        let b = input.load(fromByteOffset: y * s.iw + x, as: UInt8.self)
        return (signed ? Int32(Int8(bitPattern: b)) : Int32(b)) - z
    }

    @inline(__always) static func word(_ lo: Int32, _ hi: Int32) -> UInt32 {
        UInt32(UInt16(truncatingIfNeeded: lo)) | UInt32(UInt16(truncatingIfNeeded: hi)) << 16
    }

    @inline(__always) static func fillPairs(_ s: VNNIDepthwiseShape, _ input: UnsafeRawPointer, _ signed: Bool, _ z: Int32,
                                            _ scratch: UnsafeMutablePointer<UInt32>) {
        let slots = s.slots, sw = s.sw, rowStride = s.rowStride, wPad = s.wPad
        var a = s.sh, b = 2 * s.dh
        while b != 0 { (a, b) = (b, a % b) }
        let step = a
        let vz = SIMD16<Int32>(repeating: z), low16 = SIMD16<Int32>(repeating: 0xFFFF)
        // Padded columns whose input column exists.
        let xpStart = max(0, s.padLeft), xpEnd = min(wPad, s.iw + s.padLeft)
        var yp = 0
        while yp < s.hPad {
            let row = scratch + yp * rowStride
            let yLo = yp - s.padTop, yHi = yp + s.dh - s.padTop
            let loIn = yLo >= 0 && yLo < s.ih, hiIn = yHi >= 0 && yHi < s.ih
            row.update(repeating: 0, count: rowStride)
            if (loIn || hiIn) && xpEnd > xpStart {
                // A missing row reads row 0 (valid memory) and is masked to 0.
                let rLo = input + (loIn ? yLo : 0) * s.iw - s.padLeft, rHi = input + (hiIn ? yHi : 0) * s.iw - s.padLeft
                let mLo = SIMD16<Int32>(repeating: loIn ? -1 : 0), mHi = SIMD16<Int32>(repeating: hiIn ? -1 : 0)
                @inline(__always) func widen(_ v: SIMD16<UInt8>) -> SIMD16<Int32> { signed ? sext(v) : zext(v) }
                if sw == 1 {
                    var xp = xpStart
                    while xp + 16 <= xpEnd {
                        let lo = (widen((rLo + xp).loadUnaligned(as: SIMD16<UInt8>.self)) &- vz) & mLo
                        let hi = (widen((rHi + xp).loadUnaligned(as: SIMD16<UInt8>.self)) &- vz) & mHi
                        UnsafeMutableRawPointer(row + xp).storeBytes(of: (lo & low16) | (hi &<< 16), as: SIMD16<Int32>.self)
                        xp += 16
                    }
                    while xp < xpEnd {
                        row[xp] = word(shifted(s, input, signed, z, yp, xp), shifted(s, input, signed, z, yp + s.dh, xp))
                        xp += 1
                    }
                } else if sw == 2 {
                    // Slots j with both phases (xp = 2j, 2j+1) inside [xpStart, xpEnd): 32 bytes
                    // read as 16 byte pairs, split into the even and odd columns.
                    let jLo = (xpStart + 1) / 2, jHi = xpEnd / 2
                    var j = jLo
                    @inline(__always) func split(_ p: UnsafeRawPointer) -> (SIMD16<Int32>, SIMD16<Int32>) {
                        let w = zext16(p.loadUnaligned(as: SIMD16<UInt16>.self))
                        if signed { return ((w &<< 24) &>> 24, (w &<< 16) &>> 24) }
                        return (w & 0xFF, w &>> 8)
                    }
                    while j + 16 <= jHi {
                        let (le, lod) = split(rLo + 2 * j), (he, hod) = split(rHi + 2 * j)
                        let even = (((le &- vz) & mLo) & low16) | (((he &- vz) & mHi) &<< 16)
                        let odd = (((lod &- vz) & mLo) & low16) | (((hod &- vz) & mHi) &<< 16)
                        UnsafeMutableRawPointer(row + j).storeBytes(of: even, as: SIMD16<Int32>.self)
                        UnsafeMutableRawPointer(row + slots + j).storeBytes(of: odd, as: SIMD16<Int32>.self)
                        j += 16
                    }
                    for xp in xpStart..<min(xpEnd, 2 * jLo) {
                        row[(xp & 1) * slots + xp >> 1] = word(shifted(s, input, signed, z, yp, xp), shifted(s, input, signed, z, yp + s.dh, xp))
                    }
                    var xp = max(xpStart, 2 * j)
                    while xp < xpEnd {
                        row[(xp & 1) * slots + xp >> 1] = word(shifted(s, input, signed, z, yp, xp), shifted(s, input, signed, z, yp + s.dh, xp))
                        xp += 1
                    }
                } else {
                    for xp in xpStart..<xpEnd {
                        row[(xp % sw) * slots + xp / sw] = word(shifted(s, input, signed, z, yp, xp), shifted(s, input, signed, z, yp + s.dh, xp))
                    }
                }
            }
            yp += step
        }
    }

    @inline(__always) static func accumulate(_ s: VNNIDepthwiseShape, _ weights: UnsafePointer<UInt32>,
                                             _ output: UnsafeMutablePointer<Int32>, _ scratch: UnsafeRawPointer) {
        let slots = s.slots, sw = s.sw, rowStride = s.rowStride
        let taps = s.weightWords
        withUnsafeTemporaryAllocation(of: Int.self, capacity: taps) { offsets in
            // Byte offset of tap (q, kx) from the output vector's base word.
            for q in 0..<s.pairRows {
                for kx in 0..<s.kw {
                    let off = kx * s.dw
                    offsets[q * s.kw + kx] = 4 * (2 * q * s.dh * rowStride + (off % sw) * slots + off / sw)
                }
            }
            let tap = offsets.baseAddress!
            // Four output vectors at a time with independent accumulators hide vpdpwssd's latency
            // (see the float kernel); positions advance like an odometer over (oy, 16·v).
            let perRow = (s.ow + 15) / 16, vectors = s.oh * perRow, planeEnd = s.oh * s.ow
            var nextY = 0, nextV = 0
            @inline(__always) func position() -> (UnsafeRawPointer, Int, Int) {
                let oy = nextY, ox = nextV * 16
                nextV += 1
                if nextV == perRow { nextV = 0; nextY += 1 }
                return (scratch + 4 * (oy * s.sh * rowStride + ox), oy, ox)
            }
            @inline(__always) func put(_ acc: SIMD16<Int32>, _ oy: Int, _ ox: Int) {
                // A full-width store may spill into the next row, rewritten afterwards (stores go
                // in increasing order); only the plane's last row must stop at its end.
                let at = oy * s.ow + ox
                if ox + 16 <= s.ow || at + 16 <= planeEnd {
                    store16(acc, output + at)
                } else {
                    for t in 0..<(s.ow - ox) { output[at + t] = acc[t] }
                }
            }
            let zero = SIMD16<Int32>(repeating: 0)
            var k = 0
            while k + 4 <= vectors {
                let (p0, y0, x0) = position(), (p1, y1, x1) = position()
                let (p2, y2, x2) = position(), (p3, y3, x3) = position()
                var a0 = zero, a1 = zero, a2 = zero, a3 = zero
                var t = 0
                while t < taps {
                    let w = SIMD16<Int32>(repeating: Int32(bitPattern: weights[t])), o = tap[t]
                    a0 = dpwssd(a0, load16(p0 + o), w)
                    a1 = dpwssd(a1, load16(p1 + o), w)
                    a2 = dpwssd(a2, load16(p2 + o), w)
                    a3 = dpwssd(a3, load16(p3 + o), w)
                    t &+= 1
                }
                put(a0, y0, x0); put(a1, y1, x1); put(a2, y2, x2); put(a3, y3, x3)
                k += 4
            }
            while k < vectors {
                let (p, y, x) = position()
                var acc = zero
                var t = 0
                while t < taps {
                    acc = dpwssd(acc, load16(p + tap[t]), SIMD16<Int32>(repeating: Int32(bitPattern: weights[t])))
                    t &+= 1
                }
                put(acc, y, x)
                k += 1
            }
        }
    }
}
