import EdgeIR

extension GPTQ {
    /// U (upper triangular, positive diagonal) with H⁻¹ = Uᵀ U, after damping H by
    /// λ = fraction · mean(diag H); λ grows ×10 (up to 5 times) while H + λI is not numerically
    /// positive definite.
    ///
    /// Without forming H⁻¹: with P the exchange (reversal) matrix, factor P H P = L̃ L̃ᵀ (Cholesky);
    /// then H⁻¹ = P L̃⁻ᵀ L̃⁻¹ P = Uᵀ U for U = P L̃⁻¹ P, which is upper triangular with a positive
    /// diagonal — so by uniqueness it is H⁻¹'s upper Cholesky factor. Cost: one Cholesky (K³/3)
    /// and one triangular inverse (K³/6) in double, instead of Cholesky, inverse and Cholesky again.
    static func upperCholeskyOfInverse(_ h: [Double], order k: Int, dampingFraction: Double) throws -> [Double] {
        var mean = 0.0
        for i in 0..<k { mean += h[i * k + i] }
        mean /= Double(Swift.max(k, 1))
        var fraction = dampingFraction
        for _ in 0..<6 {
            // P (H + λI) P: element (i, j) is H[k−1−i][k−1−j].
            var reversed = [Double](repeating: 0, count: k * k)
            for i in 0..<k {
                for j in 0..<k { reversed[i * k + j] = h[(k - 1 - i) * k + (k - 1 - j)] }
                reversed[i * k + i] += fraction * mean
            }
            if cholesky(&reversed, order: k) {
                let inverse = lowerTriangularInverse(reversed, order: k)
                reversed = []
                var u = [Double](repeating: 0, count: k * k)
                for i in 0..<k { for j in i..<k { u[i * k + j] = inverse[(k - 1 - i) * k + (k - 1 - j)] } }
                return u
            }
            fraction = fraction == 0 ? 1e-6 : fraction * 10
        }
        throw EdgeError.badInput("GPTQ: the calibration Hessian is not positive definite even with damping \(fraction / 10) × mean diagonal (non-finite activations?)")
    }

    /// Overwrites A with the lower-triangular L of A = L Lᵀ (row-oriented: each entry is a dot
    /// product of two contiguous row prefixes; the strict upper triangle is zeroed). False when A
    /// is not numerically positive definite.
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
