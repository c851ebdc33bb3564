// B-panel packing for the GEMM driver (layout in Packing.swift: NR-column panels, each k-major,
// panel[p·NR + c] = alpha·op(B)[p0 + p, j0 + c], columns past the edge zero), shared by the kernel
// targets (symlinked, like Im2ColImpl.swift) so that its row copies are compiled with each ISA's
// vector width. Built in the generic module, a 32-float panel row was eight 16-byte moves
// (GEMMDriver.loops, 3.4% of SqueezeNet's profile, session 5); AVX-512 1×1 convolutions now read
// B in place, but the int8 GEMM, transposed or alpha-scaled B and the AVX2 kernels still pack.

@inline(__always) func packBPanelsImpl(_ b: UnsafePointer<Float>, _ ldb: Int, _ trans: Bool, _ p0: Int, _ kcb: Int,
                                       _ j0: Int, _ cols: Int, _ nr: Int, _ alpha: Float, _ dst: UnsafeMutablePointer<Float>) {
    let panels = (cols &+ nr &- 1) / nr
    for jp in 0..<panels {
        let d = dst + jp &* nr &* kcb
        let c0 = jp &* nr, cn = min(nr, cols &- c0)
        if cn < nr { d.update(repeating: 0, count: nr &* kcb) }
        if !trans {
            var src = b + ((p0 &* ldb) &+ j0 &+ c0)
            var dp = d
            if alpha == 1 && cn == nr && nr % 16 == 0 {
                // Whole panel rows: 16-float vector moves (one zmm, or two ymm on AVX2).
                for _ in 0..<kcb {
                    var c = 0
                    while c < nr {
                        UnsafeMutableRawPointer(dp + c).storeBytes(of: UnsafeRawPointer(src + c).loadUnaligned(as: VecF.self), as: VecF.self)
                        c &+= 16
                    }
                    src += ldb; dp += nr
                }
            } else {
                for _ in 0..<kcb {
                    if alpha == 1 { copyFloats(dp, src, cn) }
                    else { for c in 0..<cn { dp[c] = alpha * src[c] } }
                    src += ldb; dp += nr
                }
            }
        } else {
            // op(B) = Bᵀ: column c of the panel is row j0 + c0 + c of B.
            for c in 0..<cn {
                let src = b + ((j0 &+ c0 &+ c) &* ldb &+ p0)
                if alpha == 1 { for p in 0..<kcb { d[p &* nr &+ c] = src[p] } }
                else { for p in 0..<kcb { d[p &* nr &+ c] = alpha * src[p] } }
            }
        }
    }
}
