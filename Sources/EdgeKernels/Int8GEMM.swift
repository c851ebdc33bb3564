// Exact 8-bit integer GEMM (MatMulInteger, QLinearMatMul, QDQ MatMul/Gemm, the int8 convolutions,
// DynamicQuantizeLSTM). Two implementations, bit for bit the same results (the exact sum mod 2³²):
//
// 1. VNNI (AVX-512 VNNI CPUs at the avx512 level; VNNIGEMM.swift, kernels in EdgeKernelsVNNI):
//    vpdpbusd multiplies u8 × s8 and sums 4 products into each int32 lane, 64 multiply-adds per
//    instruction. Swift's SIMD code never lowers to it (the LLVM pattern matchers do not fire on
//    Swift's widening multiplies), so the kernel module is compiled with -parse-stdlib and calls
//    the LLVM intrinsic through the Builtin module — still pure Swift, no C target. Operands are
//    shifted into the u8/s8 ranges and zero points folded back in with row/column sums; weights
//    are held as int8 bytes (`PackedInt8Matrix`, `Int8ConvWeights`).
//
// 2. Float-exact (every other CPU or ISA level, and `isa:` below avx512): the float micro-kernel,
//    exactly: operands are packed as the floats (a − za) and (b − zb), each of magnitude ≤ 255, so
//    every product is an integer of magnitude ≤ 65025 and a k-block of ≤ 256 products sums to at
//    most 16,646,400 < 2²⁴ — every partial sum is an integer float represents exactly, with or
//    without FMA. Each k-block result is converted to Int32 and added (wrapping, as int32
//    accumulation is) into C. Zero points are therefore applied exactly, per tensor, per row of A
//    or per column of B. Weights are held as 4-byte floats.

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
    @inline(__always) func int(_ i: Int) -> Int32 {
        switch self {
        case let .scalar(z): return z
        case let .perIndex(p): return p[i]
        }
    }
}

extension Kernels {
    /// Whether the int8 GEMM and int8 convolution run on the VNNI kernels at `isa` (nil = active):
    /// an AVX-512 VNNI CPU at the avx512 level. Otherwise they take the float-exact path.
    public static func int8UsesVNNI(isa: KernelISA? = nil) -> Bool { VNNI.enabled(isa) }

    /// C (int32, m × n, row-major, ldc) = Σ_p (A[i,p] − za)·(B[p,j] − zb), exactly.
    /// A: m × k bytes (`a[i·lda + p]`), B: k × n bytes (`b[p·ldb + j]`); each uint8 or int8.
    /// `aZeroPoint` .perIndex is per row of A; `bZeroPoint` .perIndex per column of B.
    public static func gemmInt8(m: Int, n: Int, k: Int,
                                a: UnsafeRawPointer, aSigned: Bool, lda: Int, aZeroPoint: ZeroPoint = .scalar(0),
                                b: UnsafeRawPointer, bSigned: Bool, ldb: Int, bZeroPoint: ZeroPoint = .scalar(0),
                                c: UnsafeMutablePointer<Int32>, ldc: Int, pool: ThreadPool? = nil, isa: KernelISA? = nil) {
        if VNNI.enabled(isa) {
            let bSide = VNNISide(signed: bSigned, unsignedRole: false)
            VNNIDriver(m: m, n: n, k: k,
                       rows: .raw(a, ld: lda, side: VNNISide(signed: aSigned, unsignedRole: true), zeroPoint: aZeroPoint),
                       columns: .rows({ p, j0, _, _ in b + p * ldb + j0 }, side: bSide, zeroPoint: bZeroPoint),
                       rowsUnsigned: true, output: .int32(c, ldc: ldc), pool: pool).run()
            return
        }
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

    /// As `gemmInt8`, with B (the constant weight) pre-packed by `PackedInt8Matrix` (VNNI int8
    /// panels, or the float-exact packing where VNNI does not run).
    public static func gemmInt8(m: Int, a: UnsafeRawPointer, aSigned: Bool, lda: Int, aZeroPoint: ZeroPoint = .scalar(0),
                                packedB: PackedInt8Matrix, c: UnsafeMutablePointer<Int32>, ldc: Int, pool: ThreadPool? = nil) {
        switch packedB.form {
        case let .vnni(panels):
            VNNIDriver(m: m, n: packedB.cols, k: packedB.rows,
                       rows: .raw(a, ld: lda, side: VNNISide(signed: aSigned, unsignedRole: true), zeroPoint: aZeroPoint),
                       columns: .packed(panels), rowsUnsigned: true, output: .int32(c, ldc: ldc), pool: pool).run()
        case let .float(pm):
            gemmInt8(m: m, a: a, aSigned: aSigned, lda: lda, aZeroPoint: aZeroPoint, packedB: pm, c: c, ldc: ldc, pool: pool)
        }
    }

    /// As `gemmInt8`, with B pre-packed by `PackedMatrix(packingInt8B:…)` (the float-exact form).
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

/// A constant 8-bit right operand (k × n bytes, `b[p·ldb + j]`) packed once for
/// `Kernels.gemmInt8(…packedB:…)`: as int8 VNNI panels (1 byte per weight, plus 8 bytes of
/// correction terms per column) where the VNNI kernels run at `isa`, else as the float-exact
/// `PackedMatrix` (4 bytes per weight). `zeroPoints`: one entry, or n (per column).
public final class PackedInt8Matrix: @unchecked Sendable {
    // @unchecked Sendable: immutable after init (the forms are themselves read-only).
    enum Form { case vnni(VNNIColumnPanels), float(PackedMatrix) }
    /// Logical shape: k × n.
    public let rows: Int, cols: Int
    let form: Form

    public init(packing b: UnsafeRawPointer, signed: Bool, k: Int, n: Int, ldb: Int, zeroPoints: [Int32], isa: KernelISA? = nil) {
        precondition(zeroPoints.count == 1 || zeroPoints.count == n, "zero points: 1 or n entries")
        rows = k; cols = n
        if VNNI.enabled(isa) {
            form = zeroPoints.withUnsafeBufferPointer { zp in
                .vnni(VNNIColumnPanels(b, ldb: ldb, k: k, n: n, side: VNNISide(signed: signed, unsignedRole: false),
                                       zeroPoint: zp.count == 1 ? .scalar(zp[0]) : .perIndex(zp.baseAddress!)))
            }
        } else {
            form = .float(PackedMatrix(packingInt8B: b, signed: signed, k: k, n: n, ldb: ldb, zeroPoints: zeroPoints, isa: isa))
        }
    }

    /// Bytes held by the packed copy (for memory accounting).
    public var byteCount: Int {
        switch form {
        case let .vnni(p): return p.byteCount
        case let .float(p): return p.byteCount
        }
    }

    /// Whether the VNNI int8 form was built.
    public var isVNNI: Bool { if case .vnni = form { return true }; return false }
}
