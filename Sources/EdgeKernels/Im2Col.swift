// im2col for convolution lowered to GEMM: row p = (c, kd, ky, kx) of the (C_in/g · kernel volume)
// rows, column j = output position (od, oy, ox), value = the input sample that tap reads there, or
// the pad value outside the input. The packing loop lives in Shared/Im2ColImpl.swift, built per ISA.

/// Implicit im2col: a GEMM B-panel packer that reads the input image directly, so the
/// (C_in/g · kernel volume) × (output plane) matrix is never materialised. Writes the panels of
/// rows [p0, p0 + kcb) and columns [j0, j0 + cols) in the standard NR-panel layout (see Packing.swift),
/// with `kernels`' packer and NR.
func im2colPanelPacker(_ g: ConvGeometry, input: UnsafePointer<Float>, padValue: Float, kernels ks: KernelSet)
    -> (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void {
    let (i, o, k, s, d, pad) = g.as3D
    let geometry = [i[0], i[1], i[2], o[1], o[2], k[0], k[1], k[2], s[0], s[1], s[2], d[0], d[1], d[2], pad[0], pad[1], pad[2]]
    let pack = ks.im2colPanels, nr = ks.nr
    return { p0, kcb, j0, cols, dst in
        geometry.withUnsafeBufferPointer { pack($0.baseAddress!, input, padValue, nr, p0, kcb, j0, cols, dst) }
    }
}
