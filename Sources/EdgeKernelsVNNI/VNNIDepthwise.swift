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
    /// Words per phase row, with at least 16 of slack so a vector at a row's tail can over-read,
    /// rounded to a multiple of 16 so rows are whole vectors.
    var slots: Int { ((wPad + sw - 1) / sw + 31) / 16 * 16 }
    var rowStride: Int { sw * slots }
    /// The pair rows, then the int32 X rows (hPad + dh of them) they are built from.
    var pairWords: Int { hPad * rowStride }
    var shiftedWords: Int { (hPad + dh) * rowStride }
    /// Int32 words of scratch one plane needs.
    /// … and 8 words (32 bytes) for a row's tail.
    public var scratchWords: Int { pairWords + shiftedWords + 8 }
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

    /// Builds the pair rows in two vector passes. First every padded row yp < hPad + dh as int32
    /// X values in the phase-split layout (`shiftedRows`, zero in the padding: zeroed, then each
    /// input row converted 16 bytes at a time, a tail of < 16 scalars), then each pair row read by
    /// the outputs as (X[yp] & 0xFFFF) | X[yp + dh] << 16 over whole rows.
    @inline(__always) static func fillPairs(_ s: VNNIDepthwiseShape, _ input: UnsafeRawPointer, _ signed: Bool, _ z: Int32,
                                            _ scratch: UnsafeMutablePointer<UInt32>) {
        let slots = s.slots, sw = s.sw, rowStride = s.rowStride
        let xrows = UnsafeMutableRawPointer(scratch + s.pairWords).assumingMemoryBound(to: Int32.self)
        xrows.update(repeating: 0, count: s.shiftedWords)
        let vz = SIMD16<Int32>(repeating: z)
        let tailBuffer = UnsafeMutableRawPointer(xrows + s.shiftedWords)
        @inline(__always) func widen(_ v: SIMD16<UInt8>) -> SIMD16<Int32> { signed ? sext(v) : zext(v) }
        @inline(__always) func scalarValue(_ p: UnsafeRawPointer, _ x: Int) -> Int32 {
            let b = p.load(fromByteOffset: x, as: UInt8.self)
            return (signed ? Int32(Int8(bitPattern: b)) : Int32(b)) &- z
        }
        for y in 0..<s.ih {
            let yp = y + s.padTop
            if yp >= s.hPad + s.dh { break }
            let src = input + y * s.iw
            let row = xrows + yp * rowStride
            // Input columns x with padded column xp = x + padLeft inside [0, wPad).
            let x0 = max(0, -s.padLeft), x1 = min(s.iw, s.wPad - s.padLeft)
            if x1 <= x0 { continue }
            // The last partial vector reads a 32-byte copy of the row's tail padded with the zero
            // point byte, whose lanes past the row become X = 0: the padding value, and within
            // the row's slack (slots ≥ ⌈wPad/sw⌉ + 16).
            @inline(__always) func tail(_ x: Int) -> UnsafeRawPointer {
                tailBuffer.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: z), count: 32)
                tailBuffer.copyMemory(from: src + x, byteCount: x1 - x)
                return UnsafeRawPointer(tailBuffer)
            }
            if sw == 1 {
                let d = row + s.padLeft
                var x = x0
                while x < x1 {
                    let p = x + 16 <= x1 ? src + x : tail(x)
                    UnsafeMutableRawPointer(d + x).storeBytes(of: widen(p.loadUnaligned(as: SIMD16<UInt8>.self)) &- vz,
                                                              as: SIMD16<Int32>.self)
                    x += 16
                }
            } else if sw == 2 {
                // Columns x and x+1 (x + padLeft even) go to the two phases' slot (x + padLeft) / 2:
                // 32 bytes read as 16 byte pairs and split.
                var x = x0
                if (x + s.padLeft) & 1 == 1 { row[slots + (x + s.padLeft) >> 1] = scalarValue(src, x); x += 1 }
                while x < x1 {
                    let p = x + 32 <= x1 ? src + x : tail(x)
                    let w = zext16(p.loadUnaligned(as: SIMD16<UInt16>.self))
                    let even: SIMD16<Int32>, odd: SIMD16<Int32>
                    if signed { even = (w &<< 24) &>> 24; odd = (w &<< 16) &>> 24 } else { even = w & 0xFF; odd = w &>> 8 }
                    let j = (x + s.padLeft) >> 1
                    UnsafeMutableRawPointer(row + j).storeBytes(of: even &- vz, as: SIMD16<Int32>.self)
                    UnsafeMutableRawPointer(row + slots + j).storeBytes(of: odd &- vz, as: SIMD16<Int32>.self)
                    x += 32
                }
            } else {
                for x in x0..<x1 {
                    let xp = x + s.padLeft
                    row[(xp % sw) * slots + xp / sw] = scalarValue(src, x)
                }
            }
        }
        // Pair rows: only those the outputs read (multiples of gcd(sh, 2·dh)).
        var a = s.sh, b = 2 * s.dh
        while b != 0 { (a, b) = (b, a % b) }
        let low16 = SIMD16<Int32>(repeating: 0xFFFF)
        var yp = 0
        while yp < s.hPad {
            let lo = UnsafeRawPointer(xrows + yp * rowStride), hi = UnsafeRawPointer(xrows + (yp + s.dh) * rowStride)
            let d = UnsafeMutableRawPointer(scratch + yp * rowStride)
            var i = 0
            while i < rowStride {  // rowStride is a multiple of 16
                d.storeBytes(of: (load16(lo + 4 * i) & low16) | (load16(hi + 4 * i) &<< 16), toByteOffset: 4 * i, as: SIMD16<Int32>.self)
                i += 16
            }
            yp += a
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
