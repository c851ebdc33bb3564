// Winograd F(m×m, 3×3) convolution for stride-1, undilated, ungrouped 3×3 layers (Lavin & Gray
// 2016; the transforms are in Shared/WinogradImpl.swift). Per block of output tiles:
//   1. input transform, parallel over input channels: V_ξ[c][t] = (Bᵀ d_{c,t} B)_ξ, written straight
//      into the NR-column panel layout the GEMM micro-kernel reads;
//   2. α² GEMMs M_ξ (C_out × tiles) = U_ξ (C_out × C_in, packed once) · V_ξ, parallel over (ξ, row
//      panels);
//   3. output transform, parallel over output channels: Y = Aᵀ M A + bias, activation, store.
// F(4×4, 3×3) needs 36 products per 16 outputs where direct convolution needs 144; F(2×2, 3×3)
// needs 16 per 4 (36 direct) but wastes fewer lanes on small planes (7×7: 16 tiles instead of 4).
// Rounding: the transforms add terms of mixed sign with coefficients up to 8 (F(4,3)), so results
// differ from direct convolution by ~1e-5 of the output's scale (F(2,3): ~1e-6), see WinogradTests.

/// Which algorithm a 2-D convolution runs. `automatic` picks by a cost model (`Winograd.choose`).
public enum ConvAlgorithm: Sendable, Equatable {
    case automatic
    /// im2col (or pointwise) + packed SGEMM, or the direct depthwise kernel.
    case gemm
    /// Winograd F(m×m, 3×3), m = 2 or 4.
    case winograd(m: Int)
}

/// Transformed 3×3 weights for one tile size: U_ξ = (G g Gᵀ)_ξ for each of the α² positions, each
/// packed as a C_out × C_in GEMM left operand.
final class WinogradWeights: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    let m: Int
    let alpha: Int
    let inChannels: Int, outChannels: Int
    let packed: [PackedMatrix]

    /// `weights`: ONNX layout [C_out, C_in, 3, 3].
    init(weights: UnsafePointer<Float>, inChannels: Int, outChannels: Int, m: Int, kernels ks: KernelSet) {
        precondition(m == 2 || m == 4)
        self.m = m
        alpha = m + 2
        self.inChannels = inChannels
        self.outChannels = outChannels
        let g = Winograd.gMatrix(m)
        let area = alpha * alpha, perXi = outChannels * inChannels
        // u[ξ][co][ci], computed in double: U = G g Gᵀ.
        var u = [Float](repeating: 0, count: area * perXi)
        let a = alpha
        u.withUnsafeMutableBufferPointer { ub in
            var tmp = [Double](repeating: 0, count: a * 3)
            for co in 0..<outChannels {
                for ci in 0..<inChannels {
                    let w = weights + (co * inChannels + ci) * 9
                    for i in 0..<a { for k in 0..<3 {
                        var s = 0.0
                        for j in 0..<3 { s += g[i * 3 + j] * Double(w[j * 3 + k]) }
                        tmp[i * 3 + k] = s
                    } }
                    for i in 0..<a { for j in 0..<a {
                        var s = 0.0
                        for k in 0..<3 { s += tmp[i * 3 + k] * g[j * 3 + k] }
                        ub[(i * a + j) * perXi + co * inChannels + ci] = Float(s)
                    } }
                }
            }
        }
        packed = u.withUnsafeBufferPointer { ub in
            (0..<area).map { xi in
                PackedMatrix(packingA: ub.baseAddress! + xi * perXi, m: outChannels, k: inChannels, lda: inChannels, isa: ks.isa)
            }
        }
    }

    var byteCount: Int { packed.reduce(0) { $0 + $1.byteCount } }

    /// The [C_out, C_in, 3, 3] weights this form was built from: U = G g Gᵀ with G (α × 3) of full
    /// column rank, so g = P U Pᵀ exactly for P = (GᵀG)⁻¹Gᵀ, the left inverse; computed in double,
    /// the result differs from the original weights only by U's float rounding (~1e-7 relative).
    func originalWeights() -> [Float] {
        let g = Winograd.gMatrix(m), a = alpha
        // GᵀG (3 × 3), its inverse by cofactors, then P = (GᵀG)⁻¹ Gᵀ (3 × α).
        var gtg = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for r in 0..<a { gtg[i * 3 + j] += g[r * 3 + i] * g[r * 3 + j] } } }
        let inverse = Winograd.inverse3x3(gtg)
        var p = [Double](repeating: 0, count: 3 * a)
        for i in 0..<3 { for r in 0..<a { for j in 0..<3 { p[i * a + r] += inverse[i * 3 + j] * g[r * 3 + j] } } }
        var w = [Float](repeating: 0, count: outChannels * inChannels * 9)
        var u = [Double](repeating: 0, count: a * a), tmp = [Double](repeating: 0, count: 3 * a)
        for co in 0..<outChannels {
            for ci in 0..<inChannels {
                for xi in 0..<(a * a) { u[xi] = Double(packed[xi].element(co, ci)) }
                // tmp = P U (3 × α), then g = tmp Pᵀ (3 × 3).
                for i in 0..<3 { for c in 0..<a {
                    var s = 0.0
                    for r in 0..<a { s += p[i * a + r] * u[r * a + c] }
                    tmp[i * a + c] = s
                } }
                let out = (co * inChannels + ci) * 9
                for i in 0..<3 { for j in 0..<3 {
                    var s = 0.0
                    for c in 0..<a { s += tmp[i * a + c] * p[j * a + c] }
                    w[out + i * 3 + j] = Float(s)
                } }
            }
        }
        return w
    }
}

enum Winograd {
    /// G (α × 3, row-major) of F(m, 3).
    static func gMatrix(_ m: Int) -> [Double] {
        if m == 2 { return [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1] }
        return [1.0 / 4, 0, 0,
                -1.0 / 6, -1.0 / 6, -1.0 / 6,
                -1.0 / 6, 1.0 / 6, -1.0 / 6,
                1.0 / 24, 1.0 / 12, 1.0 / 6,
                1.0 / 24, -1.0 / 12, 1.0 / 6,
                0, 0, 1]
    }

    /// The inverse of a 3 × 3 row-major matrix by cofactors (for the well-conditioned GᵀG).
    static func inverse3x3(_ m: [Double]) -> [Double] {
        let c00 = m[4] * m[8] - m[5] * m[7], c01 = m[5] * m[6] - m[3] * m[8], c02 = m[3] * m[7] - m[4] * m[6]
        let det = m[0] * c00 + m[1] * c01 + m[2] * c02
        return [c00 / det, (m[2] * m[7] - m[1] * m[8]) / det, (m[1] * m[5] - m[2] * m[4]) / det,
                c01 / det, (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
                c02 / det, (m[1] * m[6] - m[0] * m[7]) / det, (m[0] * m[4] - m[1] * m[3]) / det]
    }

    /// Weights Winograd can take at all: 2-D 3×3, one group, on an ISA with the transforms (their
    /// 16-tile runs must tile the NR panels).
    static func supports(_ g: ConvGeometry, _ ks: KernelSet) -> Bool {
        g.rank == 2 && g.kernelSize == [3, 3] && g.groups == 1 && ks.winogradInput != nil && ks.nr % 16 == 0
    }

    /// Geometries it applies to: those weights, stride 1, no dilation (any pads).
    static func applies(_ g: ConvGeometry, _ ks: KernelSet) -> Bool {
        supports(g, ks) && g.strides == [1, 1] && g.dilations == [1, 1]
    }

    /// The cheapest of im2col GEMM, F(2,3) and F(4,3) for this geometry, in MAC-equivalents per
    /// (C_in · C_out): GEMM columns are padded to 16 (the half tile), and each transform costs
    /// about 40 (input, per channel and tile) and 20 (output) vector-lane cycles, i.e. ×32 MACs,
    /// shared over the other channel count. Returns nil for im2col.
    static func choose(_ g: ConvGeometry, _ ks: KernelSet) -> Int? {
        guard applies(g, ks) else { return nil }
        func pad16(_ n: Int) -> Double { Double((n + 15) / 16 * 16) }
        let o = g.outputSize
        let cin = Double(g.inChannels), cout = Double(g.outChannels)
        let direct = 9 * pad16(o[0] * o[1])
        var best: (Int?, Double) = (nil, direct)
        for m in [2, 4] {
            let tiles = ((o[0] + m - 1) / m) * ((o[1] + m - 1) / m)
            let a = Double((m + 2) * (m + 2))
            let cost = a * pad16(tiles) + Double(tiles) * (40 * 32 / cout + 20 * 32 / cin) * a / 36
            if cost < best.1 { best = (m, cost) }
        }
        return best.0
    }
}

extension Kernels {
    /// Winograd convolution of `batch` images (geometry as in `conv`, stride 1, 3×3, one group).
    static func winogradConv(_ w: WinogradWeights, _ g: ConvGeometry, _ ks: KernelSet, batch: Int, input: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, activation: Activation, output: UnsafeMutablePointer<Float>,
                             pool: ThreadPool?) {
        let m = w.m, area = w.alpha * w.alpha
        let cin = g.inChannels, cout = g.outChannels
        let ih = g.inputSize[0], iw = g.inputSize[1]
        let o = g.outputSize, oh = o[0], ow = o[1]
        let tilesH = (oh + m - 1) / m, tilesW = (ow + m - 1) / m, tiles = tilesH * tilesW
        let mr = ks.mr, nr = ks.nr, kc = ks.kc
        let coutPad = (cout + mr - 1) / mr * mr
        // Tile blocks keep V and M (α²·(C_in + C_out)·block floats) within ~4 MB.
        let budget = 1 << 20
        var block = max(nr, budget / (area * (cin + coutPad)) / nr * nr)
        block = min(block, (tiles + 15) / 16 * 16)
        let npadMax = (block + nr - 1) / nr * nr
        let vCount = area * cin * npadMax, mCount = area * coutPad * npadMax
        let threads = pool?.threadCount ?? 1
        let (code, p0, p1) = activation.encoded
        let input0 = input
        Workspace.with(floats: vCount + mCount) { buf in
            let v = buf, mBuf = buf + vCount
            for img in 0..<batch {
                let x = input0 + img * cin * ih * iw
                let y = output + img * cout * oh * ow
                var b0 = 0
                while b0 < tiles {
                    let count = min(block, tiles - b0)
                    let npad = (count + nr - 1) / nr * nr
                    let vXi = cin * npad, mXi = coutPad * npad
                    let inGeo = [m, ih, iw, g.padsBegin[0], g.padsBegin[1], tilesW, nr, vXi, b0]
                    let outGeo = [m, oh, ow, tilesW, mXi, b0]
                    // 1. Input transform.
                    inGeo.withUnsafeBufferPointer { geo in
                        let input = ks.winogradInput!
                        parallel(pool, cin) { ci, _ in
                            let pc = ci / kc * kc, kcb = min(kc, cin - pc)
                            input(geo.baseAddress!, x + ci * ih * iw, b0, b0 + count, v + pc * npad + (ci - pc) * nr, nr * kcb)
                        }
                    }
                    // 2. α² GEMMs. Tasks: (ξ, chunk of row panels); chunks only when ξ alone
                    // would leave threads idle or unbalanced.
                    let mPanels = coutPad / mr
                    let chunks = threads > 1 && area < 8 * threads ? min(mPanels, threads) : 1
                    let nPanels = npad / nr
                    parallel(pool, area * chunks) { task, _ in
                        let xi = task / chunks, chunk = task % chunks
                        let ip0 = mPanels * chunk / chunks, ip1 = mPanels * (chunk + 1) / chunks
                        let u = w.packed[xi]
                        let vx = v + xi * vXi, mx = mBuf + xi * mXi
                        var pc = 0
                        while pc < cin {
                            let kcb = min(kc, cin - pc)
                            let aBlock = u.panels(p0: pc, kcb: kcb, index: 0)
                            for q in 0..<nPanels {
                                let bp = UnsafePointer(vx + pc * npad + q * nr * kcb)
                                let cols = min(nr, count - q * nr)
                                for ip in ip0..<ip1 {
                                    let ap = aBlock + ip * mr * kcb
                                    let c = mx + ip * mr * npad + q * nr
                                    if cols <= nr / 2, let half = ks.tileHalf { half(kcb, ap, bp, c, npad, pc > 0) }
                                    else { ks.tile(kcb, ap, bp, c, npad, pc > 0) }
                                }
                            }
                            pc += kcb
                        }
                    }
                    // 3. Output transform.
                    outGeo.withUnsafeBufferPointer { geo in
                        let out = ks.winogradOutput!
                        parallel(pool, cout) { co, _ in
                            out(geo.baseAddress!, mBuf + co * npad, b0, b0 + count, y + co * oh * ow, bias?[co] ?? 0, code, p0, p1)
                        }
                    }
                    b0 += count
                }
            }
        }
    }

    @inline(__always) static func parallel(_ pool: ThreadPool?, _ count: Int, _ body: (Int, Int) -> Void) {
        if let pool, pool.threadCount > 1 { pool.parallelFor(count, body) } else { for i in 0..<count { body(i, 0) } }
    }
}
