import EdgeIR
import EdgeKernels

extension GPTQ {
    /// Order of the diagonal blocks of the blocked factorisations below. Each diagonal block is
    /// factored in double (K = 128: 0.7 M flops); everything off the diagonal is SGEMM.
    static let choleskyBlock = 128

    /// U (upper triangular, positive diagonal) with H⁻¹ = Uᵀ U, after damping H by
    /// λ = fraction · mean(diag H); λ grows ×10 (up to 5 times) while H + λI is not numerically
    /// positive definite.
    ///
    /// Without forming H⁻¹: with P the exchange (reversal) matrix, factor P H P = L̃ L̃ᵀ (Cholesky);
    /// then H⁻¹ = P L̃⁻ᵀ L̃⁻¹ P = Uᵀ U for U = P L̃⁻¹ P, which is upper triangular with a positive
    /// diagonal — so by uniqueness it is H⁻¹'s upper Cholesky factor. Cost: one Cholesky (K³/3)
    /// and one triangular inverse (K³/3 as written, with square GEMMs).
    ///
    /// Precision: float32 storage and SGEMM updates, as the GPTQ reference implementation runs
    /// (torch float32 Cholesky); the diagonal blocks are factored and inverted in double. The
    /// unblocked double version of this took ~40 s at K = 4096, being bound by re-reading
    /// K³/2 doubles of row prefixes; blocked, the same work runs at SGEMM speed.
    static func upperCholeskyOfInverse(_ h: [Double], order k: Int, dampingFraction: Double, pool: ThreadPool? = nil) throws -> [Float] {
        var mean = 0.0
        for i in 0..<k { mean += h[i * k + i] }
        mean /= Double(Swift.max(k, 1))
        var fraction = dampingFraction
        for _ in 0..<6 {
            // P (H + λI) P: element (i, j) is H[k−1−i][k−1−j].
            var reversed = [Float](repeating: 0, count: k * k)
            for i in 0..<k {
                for j in 0..<k { reversed[i * k + j] = Float(h[(k - 1 - i) * k + (k - 1 - j)]) }
                reversed[i * k + i] += Float(fraction * mean)
            }
            if blockedCholesky(&reversed, order: k, pool: pool) {
                let inverse = blockedLowerTriangularInverse(reversed, order: k, pool: pool)
                reversed = []
                var u = [Float](repeating: 0, count: k * k)
                for i in 0..<k { for j in i..<k { u[i * k + j] = inverse[(k - 1 - i) * k + (k - 1 - j)] } }
                return u
            }
            fraction = fraction == 0 ? 1e-6 : fraction * 10
        }
        throw EdgeError.badInput("GPTQ: the calibration Hessian is not positive definite even with damping \(fraction / 10) × mean diagonal (non-finite activations?)")
    }

    /// Overwrites the row-major K × K matrix A with the lower-triangular L of A = L Lᵀ (the strict
    /// upper triangle is zeroed). Right-looking blocked form, block by block of b rows:
    ///     L₁₁ = chol(A₁₁)                    (double)
    ///     L₂₁ = A₂₁ · L₁₁⁻ᵀ                  (SGEMM with L₁₁⁻¹ from double)
    ///     A₂₂ ← A₂₂ − L₂₁ · L₂₁ᵀ             (SGEMM; the whole square, the upper half is discarded)
    /// False when A is not numerically positive definite.
    static func blockedCholesky(_ a: inout [Float], order k: Int, pool: ThreadPool?) -> Bool {
        let nb = choleskyBlock
        var panel = [Float](repeating: 0, count: Swift.max(0, k - nb) * nb)
        return a.withUnsafeMutableBufferPointer { ap -> Bool in
            let base = ap.baseAddress!
            var kb = 0
            while kb < k {
                let b = Swift.min(nb, k - kb), rest = k - kb - b
                var d = [Double](repeating: 0, count: b * b)
                for i in 0..<b { for j in 0...i { d[i * b + j] = Double(base[(kb + i) * k + kb + j]) } }
                guard cholesky(&d, order: b) else { return false }
                for i in 0..<b {
                    let row = base + (kb + i) * k
                    for j in 0..<b { row[kb + j] = Float(d[i * b + j]) }
                    for j in (kb + b)..<k { row[j] = 0 }
                }
                if rest > 0 {
                    let inverse = lowerTriangularInverse(d, order: b).map { Float($0) }
                    let a21 = base + (kb + b) * k + kb
                    panel.withUnsafeMutableBufferPointer { pp in
                        let p = pp.baseAddress!
                        for r in 0..<rest { for c in 0..<b { p[r * b + c] = a21[r * k + c] } }
                        inverse.withUnsafeBufferPointer { ip in
                            Kernels.sgemm(transB: true, m: rest, n: b, k: b, a: p, lda: b, b: ip.baseAddress!, ldb: b,
                                          c: a21, ldc: k, pool: pool)
                        }
                    }
                    Kernels.sgemm(transB: true, m: rest, n: rest, k: b, alpha: -1, a: a21, lda: k, b: a21, ldb: k,
                                  beta: 1, c: a21 + b, ldc: k, pool: pool)
                }
                kb += b
            }
            return true
        }
    }

    /// L⁻¹ for the row-major lower-triangular L, by row blocks: with X = L⁻¹ known on the first
    /// i rows (and columns), the next b rows are
    ///     X₂₂ = L₂₂⁻¹                          (double)
    ///     X₂₁ = −L₂₂⁻¹ · (L₂₁ · X₁₁)            (two SGEMMs)
    static func blockedLowerTriangularInverse(_ l: [Float], order k: Int, pool: ThreadPool?) -> [Float] {
        let nb = choleskyBlock
        var x = [Float](repeating: 0, count: k * k)
        var product = [Float](repeating: 0, count: Swift.max(0, k - 1) * nb)
        x.withUnsafeMutableBufferPointer { xp in
            l.withUnsafeBufferPointer { lp in
                product.withUnsafeMutableBufferPointer { tp in
                    let xb = xp.baseAddress!, lb = lp.baseAddress!
                    var ib = 0
                    while ib < k {
                        let b = Swift.min(nb, k - ib)
                        var d = [Double](repeating: 0, count: b * b)
                        for i in 0..<b { for j in 0...i { d[i * b + j] = Double(lb[(ib + i) * k + ib + j]) } }
                        let inverse = lowerTriangularInverse(d, order: b).map { Float($0) }
                        for i in 0..<b { for j in 0...i { xb[(ib + i) * k + ib + j] = inverse[i * b + j] } }
                        if ib > 0, let t = tp.baseAddress {
                            Kernels.sgemm(m: b, n: ib, k: ib, a: lb + ib * k, lda: k, b: xb, ldb: k, c: t, ldc: ib, pool: pool)
                            inverse.withUnsafeBufferPointer { ip in
                                Kernels.sgemm(m: b, n: ib, k: b, alpha: -1, a: ip.baseAddress!, lda: b, b: t, ldb: ib,
                                              c: xb + ib * k, ldc: k, pool: pool)
                            }
                        }
                        ib += b
                    }
                }
            }
        }
        return x
    }

    /// Overwrites A with the lower-triangular L of A = L Lᵀ (row-oriented: each entry is a dot
    /// product of two contiguous row prefixes; the strict upper triangle is zeroed). False when A
    /// is not numerically positive definite. For the diagonal blocks of `blockedCholesky`.
    static func cholesky(_ a: inout [Double], order k: Int) -> Bool {
        a.withUnsafeMutableBufferPointer { ap -> Bool in
            let base = ap.baseAddress!
            for i in 0..<k {
                let ri = base + i * k
                for j in 0...i {
                    let rj = base + j * k
                    // Row i still holds A's entries from column j on; rows < i already hold L.
                    let s = ri[j] - dot(ri, rj, j)
                    if i == j {
                        guard s > 0, s.isFinite else { return false }
                        ri[i] = s.squareRoot()
                    } else {
                        ri[j] = s / rj[j]
                    }
                }
                for j in (i + 1)..<Swift.max(i + 1, k) { ri[j] = 0 }
            }
            return true
        }
    }

    /// L⁻¹ for lower-triangular L, row by row: y_i = (e_i − Σ_{p<i} L_ip · y_p) / L_ii, where each
    /// update is an axpy over the contiguous prefix [0, p] of row p.
    static func lowerTriangularInverse(_ l: [Double], order k: Int) -> [Double] {
        var y = [Double](repeating: 0, count: k * k)
        y.withUnsafeMutableBufferPointer { yp in
            l.withUnsafeBufferPointer { lp in
                let base = yp.baseAddress!
                for i in 0..<k {
                    let yi = base + i * k
                    yi[i] = 1
                    for p in 0..<i {
                        let f = lp[i * k + p]
                        guard f != 0 else { continue }
                        let yrow = base + p * k
                        for c in 0...p { yi[c] -= f * yrow[c] }
                    }
                    let d = lp[i * k + i]
                    for c in 0...i { yi[c] /= d }
                }
            }
        }
        return y
    }

    /// Σ_{p < n} a[p]·b[p] with four independent SIMD accumulators (a reduction the compiler would
    /// not reassociate on its own).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var acc0 = SIMD4<Double>(), acc1 = SIMD4<Double>()
        var p = 0
        while p + 8 <= n {
            acc0 += UnsafeRawPointer(a + p).loadUnaligned(as: SIMD4<Double>.self) * UnsafeRawPointer(b + p).loadUnaligned(as: SIMD4<Double>.self)
            acc1 += UnsafeRawPointer(a + p + 4).loadUnaligned(as: SIMD4<Double>.self) * UnsafeRawPointer(b + p + 4).loadUnaligned(as: SIMD4<Double>.self)
            p += 8
        }
        var s = (acc0 + acc1).sum()
        while p < n { s += a[p] * b[p]; p += 1 }
        return s
    }
}
