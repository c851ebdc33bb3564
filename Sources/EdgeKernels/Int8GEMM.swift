// Exact 8-bit integer GEMM (MatMulInteger, QLinearMatMul, QDQ MatMul/Gemm).
//
// Swift cannot emit vpdpbusd/vpmaddwd from SIMD code (measured: the LLVM pattern matchers do not
// fire on Swift's SIMD widening multiplies; they lower to vpmulld), and a C target is not allowed.
// So the int8 GEMM runs on the float micro-kernel, exactly:
//   operands are packed as the floats (a − za) and (b − zb), each of magnitude ≤ 255, so every
//   product is an integer of magnitude ≤ 65025 and a k-block of ≤ 256 products sums to at most
//   16,646,400 < 2²⁴ — every partial sum is an integer float represents exactly, with or without
//   FMA. Each k-block result is converted to Int32 and added (wrapping, as int32 accumulation is)
//   into C. Zero points are therefore applied exactly, per tensor, per row of A or per column of B.

/// A zero point: one for the whole tensor, or one per row (A) / per column (B).
public enum ZeroPoint {
    case scalar(Int32)
    case perIndex(UnsafePointer<Int32>)
    @inline(__always) func value(_ i: Int) -> Float {
        switch self {
        case let .scalar(z): return Float(z)
        case let .perIndex(p): return Float(p[i])
        }
    }
}

extension Kernels {
    /// C (int32, m × n, row-major, ldc) = Σ_p (A[i,p] − za)·(B[p,j] − zb), exactly.
    /// A: m × k bytes (`a[i·lda + p]`), B: k × n bytes (`b[p·ldb + j]`); each uint8 or int8.
    /// `aZeroPoint` .perIndex is per row of A; `bZeroPoint` .perIndex per column of B.
    public static func gemmInt8(m: Int, n: Int, k: Int,
                                a: UnsafeRawPointer, aSigned: Bool, lda: Int, aZeroPoint: ZeroPoint = .scalar(0),
                                b: UnsafeRawPointer, bSigned: Bool, ldb: Int, bZeroPoint: ZeroPoint = .scalar(0),
                                c: UnsafeMutablePointer<Int32>, ldc: Int, pool: ThreadPool? = nil, isa: KernelISA? = nil) {
        let ks = KernelSet.forISA(isa)
        precondition(ks.kc <= 256, "int8 exactness needs k-blocks of at most 256")
        let mr = ks.mr, nr = ks.nr
        let packA: (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void = { p0, kcb, i0, rows, dst in
            let panels = (rows + mr - 1) / mr
            for ip in 0..<panels {
                let d = dst + ip * mr * kcb
                let r0 = ip * mr, rn = min(mr, rows - r0)
                if rn < mr { d.update(repeating: 0, count: mr * kcb) }
                for r in 0..<rn {
                    let row = i0 + r0 + r, zp = aZeroPoint.value(row)
                    let src = a + row * lda + p0
                    if aSigned { let s = src.assumingMemoryBound(to: Int8.self); for p in 0..<kcb { d[p * mr + r] = Float(s[p]) - zp } }
                    else { let s = src.assumingMemoryBound(to: UInt8.self); for p in 0..<kcb { d[p * mr + r] = Float(s[p]) - zp } }
                }
            }
        }
        let packB = int8BPacker(b: b, signed: bSigned, ldb: ldb, zeroPoint: bZeroPoint, nr: nr)
        GEMMDriver(ks: ks, m: m, n: n, k: k, alpha: 1, a: .custom(packA), b: .custom(packB),
                   output: .int32(c, ldc: ldc), pool: pool).run()
    }

    /// As `gemmInt8`, with B (the constant weight) pre-packed by `PackedMatrix(packingInt8B:…)`.
    public static func gemmInt8(m: Int, a: UnsafeRawPointer, aSigned: Bool, lda: Int, aZeroPoint: ZeroPoint = .scalar(0),
                                packedB: PackedMatrix, c: UnsafeMutablePointer<Int32>, ldc: Int, pool: ThreadPool? = nil) {
        let ks = packedB.kernels
        let mr = ks.mr
        let packA: (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void = { p0, kcb, i0, rows, dst in
            let panels = (rows + mr - 1) / mr
            for ip in 0..<panels {
                let d = dst + ip * mr * kcb
                let r0 = ip * mr, rn = min(mr, rows - r0)
                if rn < mr { d.update(repeating: 0, count: mr * kcb) }
                for r in 0..<rn {
                    let row = i0 + r0 + r, zp = aZeroPoint.value(row)
                    let src = a + row * lda + p0
                    if aSigned { let s = src.assumingMemoryBound(to: Int8.self); for p in 0..<kcb { d[p * mr + r] = Float(s[p]) - zp } }
                    else { let s = src.assumingMemoryBound(to: UInt8.self); for p in 0..<kcb { d[p * mr + r] = Float(s[p]) - zp } }
                }
            }
        }
        GEMMDriver(ks: ks, m: m, n: packedB.cols, k: packedB.rows, alpha: 1, a: .custom(packA), b: .packed(packedB),
                   output: .int32(c, ldc: ldc), pool: pool).run()
    }
}

func int8BPacker(b: UnsafeRawPointer, signed: Bool, ldb: Int, zeroPoint: ZeroPoint, nr: Int)
    -> (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void {
    return { p0, kcb, j0, cols, dst in
        let panels = (cols + nr - 1) / nr
        for jp in 0..<panels {
            let d = dst + jp * nr * kcb
            let c0 = jp * nr, cn = min(nr, cols - c0)
            if cn < nr { d.update(repeating: 0, count: nr * kcb) }
            var zps = [Float](repeating: 0, count: cn)
            for t in 0..<cn { zps[t] = zeroPoint.value(j0 + c0 + t) }
            for p in 0..<kcb {
                let src = b + (p0 + p) * ldb + j0 + c0
                let dp = d + p * nr
                if signed { let s = src.assumingMemoryBound(to: Int8.self); for t in 0..<cn { dp[t] = Float(s[t]) - zps[t] } }
                else { let s = src.assumingMemoryBound(to: UInt8.self); for t in 0..<cn { dp[t] = Float(s[t]) - zps[t] } }
            }
        }
    }
}

extension PackedMatrix {
    /// Packs an 8-bit right operand (k × n bytes, `b[p·ldb + j]`) as the exact floats (b − zb) for
    /// `Kernels.gemmInt8(…packedB:…)`. `zeroPoints`: one entry, or n (per column).
    public convenience init(packingInt8B b: UnsafeRawPointer, signed: Bool, k: Int, n: Int, ldb: Int,
                            zeroPoints: [Int32], isa: KernelISA? = nil) {
        var f = [Float](repeating: 0, count: max(1, k * n))
        for p in 0..<k {
            for j in 0..<n {
                let raw = signed ? Float(b.load(fromByteOffset: p * ldb + j, as: Int8.self)) : Float(b.load(fromByteOffset: p * ldb + j, as: UInt8.self))
                f[p * n + j] = raw - Float(zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[j])
            }
        }
        self.init(packingB: f, k: k, n: n, ldb: n, isa: isa)
    }
}
