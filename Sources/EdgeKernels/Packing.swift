// Packing of GEMM operands into the panel layouts the micro-kernels stream:
//   A: MR-row panels, each k-major: panel[p·MR + r] = alpha·op(A)[i0 + r, p0 + p]
//   B: NR-column panels, each k-major: panel[p·NR + c] = alpha·op(B)[p0 + p, j0 + c]
// Rows/columns past the matrix edge are zero-filled so the micro-kernel always runs a full tile.

@inline(__always) func packAPanels(_ a: UnsafePointer<Float>, lda: Int, trans: Bool, i0: Int, rows: Int,
                                   p0: Int, kcb: Int, mr: Int, alpha: Float, into dst: UnsafeMutablePointer<Float>) {
    let panels = (rows + mr - 1) / mr
    for ip in 0..<panels {
        let d = dst + ip * mr * kcb
        let r0 = ip * mr, rn = min(mr, rows - r0)
        if rn < mr { d.update(repeating: 0, count: mr * kcb) }
        if !trans {
            // Walk p outermost so the panel is written sequentially while rn row streams are read.
            let src = a + (i0 + r0) * lda + p0
            for p in 0..<kcb {
                let dp = d + p * mr
                if alpha == 1 { for r in 0..<rn { dp[r] = src[r * lda + p] } }
                else { for r in 0..<rn { dp[r] = alpha * src[r * lda + p] } }
            }
        } else {
            for p in 0..<kcb {
                let src = a + (p0 + p) * lda + i0 + r0
                let dp = d + p * mr
                if alpha == 1 { for r in 0..<rn { dp[r] = src[r] } }
                else { for r in 0..<rn { dp[r] = alpha * src[r] } }
            }
        }
    }
}

@inline(__always) func packBPanels(_ b: UnsafePointer<Float>, ldb: Int, trans: Bool, p0: Int, kcb: Int,
                                   j0: Int, cols: Int, nr: Int, alpha: Float, into dst: UnsafeMutablePointer<Float>) {
    let panels = (cols + nr - 1) / nr
    for jp in 0..<panels {
        let d = dst + jp * nr * kcb
        let c0 = jp * nr, cn = min(nr, cols - c0)
        if cn < nr { d.update(repeating: 0, count: nr * kcb) }
        if !trans {
            for p in 0..<kcb {
                let src = b + (p0 + p) * ldb + j0 + c0
                let dp = d + p * nr
                if alpha == 1 { copyFloats(dp, src, cn) }
                else { for c in 0..<cn { dp[c] = alpha * src[c] } }
            }
        } else {
            for c in 0..<cn {
                let src = b + (j0 + c0 + c) * ldb + p0
                if alpha == 1 { for p in 0..<kcb { d[p * nr + c] = src[p] } }
                else { for p in 0..<kcb { d[p * nr + c] = alpha * src[p] } }
            }
        }
    }
}
