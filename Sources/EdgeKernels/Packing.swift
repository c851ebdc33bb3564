// Packing of GEMM operands into the panel layouts the micro-kernels stream:
//   A: MR-row panels, each k-major: panel[p·MR + r] = alpha·op(A)[i0 + r, p0 + p]
//   B: NR-column panels, each k-major: panel[p·NR + c] = alpha·op(B)[p0 + p, j0 + c]
// Rows/columns past the matrix edge are zero-filled so the micro-kernel always runs a full tile.
// B's packer is built per ISA (Shared/PackBImpl.swift, KernelSet.packB).

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
