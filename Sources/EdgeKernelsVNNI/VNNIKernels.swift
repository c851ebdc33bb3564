// AVX-512 VNNI int8 kernels: u8 × s8 products summed into int32 with vpdpbusd.
//
// Swift's SIMD types never lower to vpdpbusd, and the package allows no C target. This module is
// compiled with -parse-stdlib (see Package.swift), which exposes LLVM's intrinsics through the
// Builtin module: `Builtin.int_x86_avx512_vpdpbusd_512` is `llvm.x86.avx512.vpdpbusd.512`, the
// non-saturating form (vpdpbusds would clamp; int32 accumulation must wrap like every other
// int32 GEMM). Everything else here is ordinary Swift behind `import Swift`.
//
// vpdpbusd(acc, u, s): for each of the 16 int32 lanes l, acc[l] += Σ_{t<4} u8(u[4l+t])·s8(s[4l+t]).
// The GEMM therefore reads K in groups of 4 bytes:
//   rows operand (broadcast): panel of MR = 8 rows, group g at g·32 bytes: row r's bytes
//       k = 4g..<4g+4 at g·32 + 4r;
//   columns operand (vector): panel of NR = 32 columns, group g at g·128 bytes: column c's bytes
//       k = 4g..<4g+4 at g·128 + 4c (two zmm loads).
// One operand holds unsigned bytes and the other signed ones (`rowsUnsigned` says which); bytes
// past K or past the matrix edge are 0, so they add nothing.
//
// The caller shifts operands into those ranges and folds zero points back in exactly (see
// EdgeKernels/Int8GEMM.swift):  C[i,j] = D[i,j] + rowSum[i]·dCol[j] + dRow[i]·colTerm[j]
// with D the vpdpbusd sum. The kernels apply that correction in registers before the store:
//   rowFix = [rowSum[0..<8], dRow[0..<8]],  colFix = [dCol[0..<32], colTerm[0..<32]]  (Int32).
// All arithmetic wraps (mod 2³²).
import Swift

@inline(__always) func dpbusd(_ acc: SIMD16<Int32>, _ u: SIMD16<Int32>, _ s: SIMD16<Int32>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.int_x86_avx512_vpdpbusd_512(unsafeBitCast(acc, to: Builtin.Vec16xInt32.self),
                                                      unsafeBitCast(u, to: Builtin.Vec16xInt32.self),
                                                      unsafeBitCast(s, to: Builtin.Vec16xInt32.self)), to: SIMD16<Int32>.self)
}

/// Byte lanes widened to int32 (vpmovzxbd / vpmovsxbd); the stdlib's generic SIMD conversions
/// are not inlined into a loop like this.
@inline(__always) func zext(_ v: SIMD16<UInt8>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.zext_Vec16xInt8_Vec16xInt32(unsafeBitCast(v, to: Builtin.Vec16xInt8.self)), to: SIMD16<Int32>.self)
}
@inline(__always) func sext(_ v: SIMD16<UInt8>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.sext_Vec16xInt8_Vec16xInt32(unsafeBitCast(v, to: Builtin.Vec16xInt8.self)), to: SIMD16<Int32>.self)
}

@inline(__always) func load16(_ p: UnsafeRawPointer) -> SIMD16<Int32> { p.loadUnaligned(as: SIMD16<Int32>.self) }
@inline(__always) func broadcast(_ p: UnsafeRawPointer) -> SIMD16<Int32> { SIMD16<Int32>(repeating: p.loadUnaligned(as: Int32.self)) }
@inline(__always) func store16(_ v: SIMD16<Int32>, _ p: UnsafeMutablePointer<Int32>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Int32>.self)
}

public enum VNNIKernels {
    public static let mr = 8
    public static let nr = 32

    /// 8×32 tile over `groups` k-groups: c[r·ldc + 0..<32] = Σ products + correction (see file
    /// comment). `a`: rows panel, `b`: columns panel.
    public static func tile(_ groups: Int, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                            _ c: UnsafeMutablePointer<Int32>, _ ldc: Int, _ rowsUnsigned: Bool,
                            _ rowFix: UnsafeRawPointer, _ colFix: UnsafeRawPointer) {
        let t = rowsUnsigned ? tileBody(groups, a, b, true, rowFix, colFix) : tileBody(groups, a, b, false, rowFix, colFix)
        @inline(__always) func put(_ v0: SIMD16<Int32>, _ v1: SIMD16<Int32>, _ r: Int) {
            let p = c + (r &* ldc)
            store16(v0, p)
            store16(v1, p + 16)
        }
        put(t.0, t.1, 0); put(t.2, t.3, 1); put(t.4, t.5, 2); put(t.6, t.7, 3)
        put(t.8, t.9, 4); put(t.10, t.11, 5); put(t.12, t.13, 6); put(t.14, t.15, 7)
    }

    /// As `tile`, with each row's 32 results requantized in registers and stored as 32 bytes at
    /// dst + r·ldd — the int32 tile never reaches memory. `rq` = [scale[0..<8] (Float),
    /// bias[0..<8] (Int32)] of the tile's rows; the arithmetic is `requantizeRow`'s (finite scales).
    /// A nil `rowFix` skips the zero-point correction (the caller folded it into the biases).
    public static func tileRequantized(_ groups: Int, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                                       _ dst: UnsafeMutableRawPointer, _ ldd: Int, _ rowsUnsigned: Bool,
                                       _ rowFix: UnsafeRawPointer?, _ colFix: UnsafeRawPointer,
                                       _ rq: UnsafeRawPointer, _ zeroPoint: Int32, _ lo: Float, _ hi: Float) {
        let t: Tile
        if let rowFix {
            t = rowsUnsigned ? tileBody(groups, a, b, true, rowFix, colFix) : tileBody(groups, a, b, false, rowFix, colFix)
        } else {
            t = rowsUnsigned ? tileBody(groups, a, b, true, nil, colFix) : tileBody(groups, a, b, false, nil, colFix)
        }
        let q = Requant(zeroPoint, lo, hi)
        putRequantized(q, t.0, t.1, 0, rq, dst, ldd); putRequantized(q, t.2, t.3, 1, rq, dst, ldd)
        putRequantized(q, t.4, t.5, 2, rq, dst, ldd); putRequantized(q, t.6, t.7, 3, rq, dst, ldd)
        putRequantized(q, t.8, t.9, 4, rq, dst, ldd); putRequantized(q, t.10, t.11, 5, rq, dst, ldd)
        putRequantized(q, t.12, t.13, 6, rq, dst, ldd); putRequantized(q, t.14, t.15, 7, rq, dst, ldd)
    }

    /// Row r of a requantized tile. @_transparent, and only @inline(__always) helpers inside: in a
    /// function this large the optimizer left @inline(__always) code and even a specialized
    /// `load(fromByteOffset:as:)` out of line, and out of line `Requant.bytes` compiled to 16
    /// scalar lanes (the tile then ran at half the speed of the int32 tile plus its row pass).
    @_transparent static func putRequantized(_ q: Requant, _ v0: SIMD16<Int32>, _ v1: SIMD16<Int32>, _ r: Int,
                                             _ rq: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ ldd: Int) {
        let s = unsafeBitCast(broadcast(rq + (4 &* r)), to: SIMD16<Float>.self)  // the scale's bits
        let bias = broadcast(rq + (32 &+ 4 &* r))
        let p = dst + (r &* ldd)
        p.storeBytes(of: q.bytes(v0 &+ bias, s), as: SIMD16<UInt8>.self)
        (p + 16).storeBytes(of: q.bytes(v1 &+ bias, s), as: SIMD16<UInt8>.self)
    }

    typealias V = SIMD16<Int32>
    typealias Tile = (V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V)
    /// The 8×32 tile's products with the zero-point correction (none for a nil `rowFix`): row r's
    /// columns 0..<16 and 16..<32 are elements 2r and 2r + 1.
    @inline(__always) static func tileBody(_ groups: Int, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ rowsUnsigned: Bool,
                                           _ rowFix: UnsafeRawPointer?, _ colFix: UnsafeRawPointer) -> Tile {
        @inline(__always) func dp(_ acc: SIMD16<Int32>, _ row: SIMD16<Int32>, _ col: SIMD16<Int32>) -> SIMD16<Int32> {
            rowsUnsigned ? dpbusd(acc, row, col) : dpbusd(acc, col, row)
        }
        let z = SIMD16<Int32>(repeating: 0)
        var c0_0 = z, c0_1 = z, c1_0 = z, c1_1 = z, c2_0 = z, c2_1 = z, c3_0 = z, c3_1 = z
        var c4_0 = z, c4_1 = z, c5_0 = z, c5_1 = z, c6_0 = z, c6_1 = z, c7_0 = z, c7_1 = z
        var pa = a, pb = b
        for _ in 0..<groups {
            let b0 = load16(pb), b1 = load16(pb + 64)
            let a0 = broadcast(pa); c0_0 = dp(c0_0, a0, b0); c0_1 = dp(c0_1, a0, b1)
            let a1 = broadcast(pa + 4); c1_0 = dp(c1_0, a1, b0); c1_1 = dp(c1_1, a1, b1)
            let a2 = broadcast(pa + 8); c2_0 = dp(c2_0, a2, b0); c2_1 = dp(c2_1, a2, b1)
            let a3 = broadcast(pa + 12); c3_0 = dp(c3_0, a3, b0); c3_1 = dp(c3_1, a3, b1)
            let a4 = broadcast(pa + 16); c4_0 = dp(c4_0, a4, b0); c4_1 = dp(c4_1, a4, b1)
            let a5 = broadcast(pa + 20); c5_0 = dp(c5_0, a5, b0); c5_1 = dp(c5_1, a5, b1)
            let a6 = broadcast(pa + 24); c6_0 = dp(c6_0, a6, b0); c6_1 = dp(c6_1, a6, b1)
            let a7 = broadcast(pa + 28); c7_0 = dp(c7_0, a7, b0); c7_1 = dp(c7_1, a7, b1)
            pa += 32; pb += 128
        }
        guard let rowFix else {
            return (c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1)
        }
        let dCol0 = load16(colFix), dCol1 = load16(colFix + 64)
        let term0 = load16(colFix + 128), term1 = load16(colFix + 192)
        @inline(__always) func fix0(_ v: SIMD16<Int32>, _ r: Int) -> SIMD16<Int32> {
            v &+ broadcast(rowFix + (4 &* r)) &* dCol0 &+ broadcast(rowFix + (32 &+ 4 &* r)) &* term0
        }
        @inline(__always) func fix1(_ v: SIMD16<Int32>, _ r: Int) -> SIMD16<Int32> {
            v &+ broadcast(rowFix + (4 &* r)) &* dCol1 &+ broadcast(rowFix + (32 &+ 4 &* r)) &* term1
        }
        return (fix0(c0_0, 0), fix1(c0_1, 0), fix0(c1_0, 1), fix1(c1_1, 1), fix0(c2_0, 2), fix1(c2_1, 2),
                fix0(c3_0, 3), fix1(c3_1, 3), fix0(c4_0, 4), fix1(c4_1, 4), fix0(c5_0, 5), fix1(c5_1, 5),
                fix0(c6_0, 6), fix1(c6_1, 6), fix0(c7_0, 7), fix1(c7_1, 7))
    }

    /// One row of C (the small-M path: batch-1 MatMul, an RNN step): c[0..<32] = Σ_g row group g ·
    /// panel group g + rowSum·dCol + dRow·colTerm. `a` is the row's bytes, 4 per group, contiguous.
    /// Four k-groups per iteration in separate accumulators hide vpdpbusd's latency.
    public static func row(_ groups: Int, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeMutablePointer<Int32>,
                           _ rowsUnsigned: Bool, _ rowSum: Int32, _ dRow: Int32, _ colFix: UnsafeRawPointer) {
        if rowsUnsigned { rowBody(groups, a, b, c, true, rowSum, dRow, colFix) }
        else { rowBody(groups, a, b, c, false, rowSum, dRow, colFix) }
    }

    @inline(__always) static func rowBody(_ groups: Int, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeMutablePointer<Int32>,
                                          _ rowsUnsigned: Bool, _ rowSum: Int32, _ dRow: Int32, _ colFix: UnsafeRawPointer) {
        @inline(__always) func dp(_ acc: SIMD16<Int32>, _ row: SIMD16<Int32>, _ col: SIMD16<Int32>) -> SIMD16<Int32> {
            rowsUnsigned ? dpbusd(acc, row, col) : dpbusd(acc, col, row)
        }
        let z = SIMD16<Int32>(repeating: 0)
        var x0 = z, x1 = z, y0 = z, y1 = z, u0 = z, u1 = z, w0 = z, w1 = z
        var g = 0, pa = a, pb = b
        while g &+ 4 <= groups {
            let a0 = broadcast(pa), a1 = broadcast(pa + 4), a2 = broadcast(pa + 8), a3 = broadcast(pa + 12)
            x0 = dp(x0, a0, load16(pb)); x1 = dp(x1, a0, load16(pb + 64))
            y0 = dp(y0, a1, load16(pb + 128)); y1 = dp(y1, a1, load16(pb + 192))
            u0 = dp(u0, a2, load16(pb + 256)); u1 = dp(u1, a2, load16(pb + 320))
            w0 = dp(w0, a3, load16(pb + 384)); w1 = dp(w1, a3, load16(pb + 448))
            pa += 16; pb += 512; g &+= 4
        }
        while g < groups {
            let a0 = broadcast(pa)
            x0 = dp(x0, a0, load16(pb)); x1 = dp(x1, a0, load16(pb + 64))
            pa += 4; pb += 128; g &+= 1
        }
        let s = SIMD16<Int32>(repeating: rowSum), d = SIMD16<Int32>(repeating: dRow)
        store16((x0 &+ y0) &+ (u0 &+ w0) &+ s &* load16(colFix) &+ d &* load16(colFix + 128), c)
        store16((x1 &+ y1) &+ (u1 &+ w1) &+ s &* load16(colFix + 64) &+ d &* load16(colFix + 192), c + 16)
    }

    /// Packs up to 8 rows of a row-major byte matrix (`src[r·ld + p]`, p < k) into one rows panel
    /// (`groups` = ⌈k/4⌉ groups of 32 bytes), each byte XOR `flip` (0x80 turns int8 into the
    /// unsigned range and back); rows ≥ `rows` and bytes past k are 0.
    public static func packRows(_ src: UnsafeRawPointer, _ ld: Int, _ rows: Int, _ k: Int, _ flip: UInt8,
                                _ dst: UnsafeMutableRawPointer) {
        let groups = (k &+ 3) / 4, full = k / 4
        let flip4 = UInt32(flip) &* 0x0101_0101
        if rows < 8 { dst.initializeMemory(as: UInt8.self, repeating: 0, count: groups &* 32) }
        for r in 0..<rows {
            let s = src + r &* ld
            var d = dst + (4 &* r)
            for g in 0..<full {
                d.storeBytes(of: s.loadUnaligned(fromByteOffset: 4 &* g, as: UInt32.self) ^ flip4, as: UInt32.self)
                d += 32
            }
            if full < groups {
                var word: UInt32 = 0
                for t in 0..<(k &- 4 &* full) {
                    word |= UInt32(s.load(fromByteOffset: 4 &* full &+ t, as: UInt8.self) ^ flip) << (8 &* UInt32(t))
                }
                d.storeBytes(of: word, as: UInt32.self)
            }
        }
    }

    /// Interleaves one k-group — four rows of `cols` bytes (r0…r3; a missing row points at bytes
    /// equal to `flip`, which become 0) — into columns panels: column c goes to
    /// dst + (c / 32)·panelStride + 4·(c % 32). Columns from `cols` up to the next multiple of 32
    /// are zeroed. Each byte is XOR `flip`. When `sums` is given, sums[c] += the four shifted bytes
    /// read as unsigned (`unsigned`) or signed.
    public static func packColumnsGroup(_ r0: UnsafeRawPointer, _ r1: UnsafeRawPointer, _ r2: UnsafeRawPointer, _ r3: UnsafeRawPointer,
                                        _ cols: Int, _ flip: UInt8, _ dst: UnsafeMutableRawPointer, _ panelStride: Int,
                                        _ sums: UnsafeMutablePointer<Int32>?, _ unsigned: Bool) {
        let f = SIMD16<UInt8>(repeating: flip)
        var c = 0
        while c &+ 16 <= cols {
            let v0 = r0.loadUnaligned(fromByteOffset: c, as: SIMD16<UInt8>.self) ^ f
            let v1 = r1.loadUnaligned(fromByteOffset: c, as: SIMD16<UInt8>.self) ^ f
            let v2 = r2.loadUnaligned(fromByteOffset: c, as: SIMD16<UInt8>.self) ^ f
            let v3 = r3.loadUnaligned(fromByteOffset: c, as: SIMD16<UInt8>.self) ^ f
            let w0 = zext(v0), w1 = zext(v1), w2 = zext(v2), w3 = zext(v3)
            let word = w0 | (w1 &<< 8) | (w2 &<< 16) | (w3 &<< 24)
            let offset: Int = (c / 32) &* panelStride &+ 4 &* (c % 32)
            let d = dst + offset
            d.storeBytes(of: word, as: SIMD16<Int32>.self)
            if let sums {
                let s: SIMD16<Int32>
                if unsigned {
                    s = (w0 &+ w1) &+ (w2 &+ w3)
                } else {
                    s = (sext(v0) &+ sext(v1)) &+ (sext(v2) &+ sext(v3))
                }
                let sp = UnsafeMutableRawPointer(sums + c)
                sp.storeBytes(of: sp.loadUnaligned(as: SIMD16<Int32>.self) &+ s, as: SIMD16<Int32>.self)
            }
            c &+= 16
        }
        let end = (cols &+ 31) / 32 &* 32
        while c < end {
            var word: UInt32 = 0
            if c < cols {
                let b0 = r0.load(fromByteOffset: c, as: UInt8.self) ^ flip, b1 = r1.load(fromByteOffset: c, as: UInt8.self) ^ flip
                let b2 = r2.load(fromByteOffset: c, as: UInt8.self) ^ flip, b3 = r3.load(fromByteOffset: c, as: UInt8.self) ^ flip
                word = UInt32(b0) | UInt32(b1) << 8 | UInt32(b2) << 16 | UInt32(b3) << 24
                if let sums {
                    sums[c] &+= unsigned ? Int32(b0) + Int32(b1) + Int32(b2) + Int32(b3)
                        : Int32(Int8(bitPattern: b0)) + Int32(Int8(bitPattern: b1)) + Int32(Int8(bitPattern: b2)) + Int32(Int8(bitPattern: b3))
                }
            }
            let offset: Int = (c / 32) &* panelStride &+ 4 &* (c % 32)
            (dst + offset).storeBytes(of: word, as: UInt32.self)
            c &+= 1
        }
    }
}

extension VNNIKernels {
    /// One row of requantization, 16 lanes at a time (the int8 operators' epilogue; see
    /// EdgeKernels/Requantize.swift for the formula):
    ///   dst[i] = clamp(roundHalfEven(Float(src[i] &+ bias) · scale) + zeroPoint, lo, hi)
    /// Rounding half to even by the 1.5·2²³ trick: for |v| ≤ 2²², v + 1.5·2²³ lies in [2²³, 2²⁴)
    /// where the float spacing is 1, so the add rounds v to an integer, ties to even (1.5·2²³ is
    /// even), and the subtraction is exact. v is first clamped to ±2²², which changes no result:
    /// anything that large saturates either way. A NaN product (only from a NaN scale) gives the
    /// zero point, as the scalar formula does.
    public static func requantizeRow(_ src: UnsafePointer<Int32>, _ count: Int, _ bias: Int32, _ scale: Float, _ zeroPoint: Int32,
                                     _ lo: Float, _ hi: Float, _ dst: UnsafeMutableRawPointer) {
        let q = Requant(zeroPoint, lo, hi)
        let s = SIMD16<Float>(repeating: scale), b = SIMD16<Int32>(repeating: bias)
        var i = 0
        // A non-finite scale can make NaN products; the scalar loop below handles those.
        while scale.isFinite && i &+ 16 <= count {
            let acc = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Int32>.self) &+ b
            (dst + i).storeBytes(of: q.bytes(acc, s), as: SIMD16<UInt8>.self)
            i &+= 16
        }
        while i < count {
            dst.storeBytes(of: requantizeScalar(src[i] &+ bias, scale, zeroPoint, lo, hi), toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }

    /// `requantizeRow` for accumulators held as exact integer floats (the int8 depthwise sums,
    /// |x| < 2²⁴): acc = Int32(src[i]), then the same arithmetic, without an int32 copy.
    public static func requantizeFloatRow(_ src: UnsafePointer<Float>, _ count: Int, _ bias: Int32, _ scale: Float, _ zeroPoint: Int32,
                                          _ lo: Float, _ hi: Float, _ dst: UnsafeMutableRawPointer) {
        let q = Requant(zeroPoint, lo, hi)
        let s = SIMD16<Float>(repeating: scale), b = SIMD16<Int32>(repeating: bias)
        var i = 0
        while scale.isFinite && i &+ 16 <= count {
            let acc = toInt(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)) &+ b
            (dst + i).storeBytes(of: q.bytes(acc, s), as: SIMD16<UInt8>.self)
            i &+= 16
        }
        while i < count {
            dst.storeBytes(of: requantizeScalar(Int32(src[i]) &+ bias, scale, zeroPoint, lo, hi), toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }

    /// One value of `requantizeRow` (acc has the bias added), with the vector path's rounding.
    @inline(__always) static func requantizeScalar(_ acc: Int32, _ scale: Float, _ zeroPoint: Int32, _ lo: Float, _ hi: Float) -> UInt8 {
        var v = Float(acc) * scale
        if v.isNaN { v = 0 }
        v = Swift.min(Swift.max(v, -Requant.limit), Requant.limit)
        let r = Swift.min(Swift.max(((v + Requant.magic) - Requant.magic) + Float(zeroPoint), lo), hi)
        return UInt8(truncatingIfNeeded: Int32(r))
    }
}

/// The vector requantization of 16 accumulators (see `requantizeRow`), shared by the row pass and
/// the GEMM tile's epilogue so both give the same bytes. It computes the scalar formula
///   clamp(roundHalfEven(v) + z, lo, hi),  v = Float(acc + bias)·scale
/// as roundHalfEven(clamp(v, lo − z, hi − z)) + z, in 8 vector operations:
/// - Clamping before rounding gives the same integer: lo − z and hi − z are integers and rounding
///   is monotone, so v < lo − z rounds to ≤ lo − z and is clamped to it either way (likewise
///   above). v is never NaN here (the scale is finite); ±Inf clamps to a bound as before.
/// - After the clamp |v| ≤ 510, so v + 1.5·2²³ lies in [2²³, 2²⁴), where floats are spaced 1
///   apart: the add rounds v half to even, and the sum's bit pattern is 0x4B40_0000 + round(v).
///   Its bits minus (0x4B40_0000 − z) are round(v) + z as an int32, with no float → int conversion.
struct Requant {
    static let magic: Float = 12_582_912, limit: Float = 4_194_304
    let low: SIMD16<Float>, high: SIMD16<Float>, magic: SIMD16<Float>, offset: SIMD16<Int32>

    @inline(__always) init(_ zeroPoint: Int32, _ lo: Float, _ hi: Float) {
        low = SIMD16(repeating: lo - Float(zeroPoint)); high = SIMD16(repeating: hi - Float(zeroPoint))
        magic = SIMD16(repeating: Requant.magic)
        offset = SIMD16(repeating: Int32(bitPattern: Requant.magic.bitPattern) &- zeroPoint)
    }

    /// The requantized bytes of 16 accumulators (acc already has the bias added) at scale s.
    @_transparent func bytes(_ acc: SIMD16<Int32>, _ s: SIMD16<Float>) -> SIMD16<UInt8> {
        let v = minPS(maxPS(toFloat(acc) * s, low), high)
        return toBytes(unsafeBitCast(v + magic, to: SIMD16<Int32>.self) &- offset)
    }
}

/// vmaxps / vminps as the instructions define them (no NaN handling: callers have no NaN lanes).
@inline(__always) func maxPS(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    let f = Builtin.Vec16xFPIEEE32.self
    return unsafeBitCast(Builtin.int_x86_avx512_max_ps_512(unsafeBitCast(a, to: f), unsafeBitCast(b, to: f), Int32(4)._value),
                         to: SIMD16<Float>.self)
}
@inline(__always) func minPS(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    let f = Builtin.Vec16xFPIEEE32.self
    return unsafeBitCast(Builtin.int_x86_avx512_min_ps_512(unsafeBitCast(a, to: f), unsafeBitCast(b, to: f), Int32(4)._value),
                         to: SIMD16<Float>.self)
}

@inline(__always) func toFloat(_ v: SIMD16<Int32>) -> SIMD16<Float> {
    unsafeBitCast(Builtin.sitofp_Vec16xInt32_Vec16xFPIEEE32(unsafeBitCast(v, to: Builtin.Vec16xInt32.self)), to: SIMD16<Float>.self)
}
@inline(__always) func toInt(_ v: SIMD16<Float>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.fptosi_Vec16xFPIEEE32_Vec16xInt32(unsafeBitCast(v, to: Builtin.Vec16xFPIEEE32.self)), to: SIMD16<Int32>.self)
}
@inline(__always) func toBytes(_ v: SIMD16<Int32>) -> SIMD16<UInt8> {
    unsafeBitCast(Builtin.trunc_Vec16xInt32_Vec16xInt8(unsafeBitCast(v, to: Builtin.Vec16xInt32.self)), to: SIMD16<UInt8>.self)
}
/// min(max(v, lo), hi) per lane (vmaxps/vminps; `replacing(with:where:)` lowers to a lane loop).
@inline(__always) func clamp(_ v: SIMD16<Float>, _ lo: SIMD16<Float>, _ hi: SIMD16<Float>) -> SIMD16<Float> {
    let f = Builtin.Vec16xFPIEEE32.self
    let m = Builtin.int_maxnum_Vec16xFPIEEE32(unsafeBitCast(v, to: f), unsafeBitCast(lo, to: f))
    return unsafeBitCast(Builtin.int_minnum_Vec16xFPIEEE32(m, unsafeBitCast(hi, to: f)), to: SIMD16<Float>.self)
}

extension VNNIKernels {
    /// dst[i] = Float(src[i]) − zeroPoint for uint8 or int8 bytes (the int8 depthwise path's input).
    public static func bytesToFloat(_ src: UnsafeRawPointer, _ signed: Bool, _ zeroPoint: Float,
                                    _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let z = SIMD16<Float>(repeating: zeroPoint)
        var i = 0
        while i &+ 16 <= count {
            let v = (src + i).loadUnaligned(as: SIMD16<UInt8>.self)
            let f = toFloat(signed ? sext(v) : zext(v)) - z
            UnsafeMutableRawPointer(dst + i).storeBytes(of: f, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < count {
            let b = src.load(fromByteOffset: i, as: UInt8.self)
            dst[i] = (signed ? Float(Int8(bitPattern: b)) : Float(b)) - zeroPoint
            i &+= 1
        }
    }

    /// dst[i] = Int32(src[i]) (truncation; the int8 depthwise path's sums are exact integers).
    public static func floatToInt32(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Int32>, _ count: Int) {
        var i = 0
        while i &+ 16 <= count {
            store16(toInt(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)), dst + i)
            i &+= 16
        }
        while i < count { dst[i] = Int32(src[i]); i &+= 1 }
    }
}
