// Winograd F(m×m, 3×3) convolution for stride-1, undilated, ungrouped 3×3 layers (Lavin & Gray
// 2016; the transforms are in Shared/WinogradImpl.swift and Shared/WinogradWeightTransform.swift).
// Per block of output tiles:
//   1. input transform, parallel over input channels: V_ξ[c][t] = (Bᵀ d_{c,t} B)_ξ, written straight
//      into the NR-column panel layout the GEMM micro-kernel reads;
//   2. α² GEMMs M_ξ (C_out × tiles) = U_ξ (C_out × C_in) · V_ξ, parallel over (row of the ξ grid,
//      row panel). U = G g Gᵀ is not held: each task transforms its MR output channels × kc input
//      channels × α positions from the 3×3 weights (held once, in the im2col packing) into an
//      L2-sized scratch, runs the α GEMMs on it, and moves on (see "Weights" below);
//   3. output transform, parallel over output channels: Y = Aᵀ M A + bias, activation, store.
// F(4×4, 3×3) needs 36 products per 16 outputs where direct convolution needs 144; F(2×2, 3×3)
// needs 16 per 4 (36 direct) but wastes fewer lanes on small planes (7×7: 16 tiles instead of 4).
// Rounding: the transforms add terms of mixed sign with coefficients up to 8 (F(4,3)), so results
// differ from direct convolution by ~1e-5 of the output's scale (F(2,3): ~1e-6), see WinogradTests.
//
// Weights: holding U would cost α²/9 times the weights (F(4,3): 4×, F(2,3): 1.8×; ResNet-50's
// default mode held 155 MB instead of 99 MB). Transforming per run costs, per (C_in, C_out) pair
// and tile block, about 80 (F(4,3): 9 loads, ~35 vector operations, 36 stores) or 45 (F(2,3))
// vector instructions per MR pairs, against the GEMM's α²·tiles multiply-adds per pair. It also
// replaces reading α² floats of U per pair from memory by reading 9 (weight-bound layers at
// batch 1 gain that back): on ResNet-50's 256 → 256 at 14×14 (F(4,3)) and 512 → 512 at 7×7
// (F(2,3)) the per-run layer takes 0.70 and 1.27 ms against 0.78 and 1.25 ms with U held.
// Every tile block transforms anew, so the cost model counts it per block.

/// Which algorithm a 2-D convolution runs. `automatic` picks by a cost model (`Winograd.choose`).
public enum ConvAlgorithm: Sendable, Equatable {
    case automatic
    /// im2col (or pointwise) + packed SGEMM, or the direct depthwise kernel.
    case gemm
    /// Winograd F(m×m, 3×3), m = 2 or 4.
    case winograd(m: Int)
    /// The direct kernel for few input channels (SmallConv.swift) where it applies, else `.gemm`.
    /// `.automatic` picks it too.
    case direct
}

enum Winograd {
    /// Weights Winograd can take at all: 2-D 3×3, one group, on an ISA with the transforms (their
    /// 16-tile runs must tile the NR panels, and the weight transform's 16-lane vectors an MR panel).
    static func supports(_ g: ConvGeometry, _ ks: KernelSet) -> Bool {
        g.rank == 2 && g.kernelSize == [3, 3] && g.groups == 1 && ks.winogradInput != nil && ks.winogradWeightRows != nil && ks.nr % 16 == 0
            && ks.mr <= 16
    }

    /// Geometries it applies to: those weights, stride 1, no dilation (any pads).
    static func applies(_ g: ConvGeometry, _ ks: KernelSet) -> Bool {
        supports(g, ks) && g.strides == [1, 1] && g.dilations == [1, 1]
    }

    /// The cheapest of im2col GEMM, F(2,3) and F(4,3) for this geometry, in MAC-equivalents per
    /// (C_in · C_out): GEMM columns are padded to 16 (the half tile), and each input/output
    /// transform costs about 40 (input, per channel and tile) and 20 (output) vector-lane cycles,
    /// i.e. ×32 MACs, shared over the other channel count. The weight transform (per pair, per
    /// tile block) costs about 80 (F(4,3)) / 45 (F(2,3)) vector instructions per MR pairs, also
    /// ×32 MACs. Returns nil for im2col.
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
            let blocks = Double((tiles + tileBlock(g, ks, m: m) - 1) / tileBlock(g, ks, m: m))
            let weightTransform = (m == 4 ? 80.0 : 45.0) * 32 / Double(ks.mr) * blocks
            let cost = a * pad16(tiles) + Double(tiles) * (40 * 32 / cout + 20 * 32 / cin) * a / 36 + weightTransform
            if cost < best.1 { best = (m, cost) }
        }
        return best.0
    }

    /// Tiles per block: V and M (α²·(C_in + C_out)·block floats) are kept within ~1 MB, in whole
    /// NR panels, and no larger than the plane's tiles (rounded to the 16-tile vector runs). The
    /// buffer is the kernels' shared scratch, so its size is resident for the whole run: a 4 MB
    /// budget made SqueezeNet's 16 → 64 layers at 55×55 touch 3.3 MB of it. When the plane needs
    /// several blocks they are balanced (n = ⌈tiles / budget⌉ blocks of ⌈tiles / n⌉, rounded up to
    /// NR), so the buffer is no larger than the blocks need, e.g. 196 tiles at a 160-tile budget
    /// run as 2 × 128 rather than 160 + 36.
    static func tileBlock(_ g: ConvGeometry, _ ks: KernelSet, m: Int) -> Int {
        let o = g.outputSize, area = (m + 2) * (m + 2)
        let tiles = ((o[0] + m - 1) / m) * ((o[1] + m - 1) / m)
        let coutPad = (g.outChannels + ks.mr - 1) / ks.mr * ks.mr
        let budget = max(ks.nr, blockBudgetFloats / (area * (g.inChannels + coutPad)) / ks.nr * ks.nr)
        let whole = (tiles + 15) / 16 * 16
        if budget >= whole { return whole }
        let blocks = (tiles + budget - 1) / budget
        return ((tiles + blocks - 1) / blocks + ks.nr - 1) / ks.nr * ks.nr
    }

    /// V + M floats per tile block (1 MB).
    static let blockBudgetFloats = (1 << 20) / 4
}

extension Kernels {
    /// Winograd convolution of `batch` images (geometry as in `conv`, stride 1, 3×3, one group).
    /// `weights`: the im2col packing of the [C_out, C_in, 3, 3] weights (C_out × 9·C_in, role A).
    static func winogradConv(_ weights: PackedMatrix, m: Int, _ g: ConvGeometry, _ ks: KernelSet, batch: Int,
                             input: UnsafePointer<Float>, bias: UnsafePointer<Float>?, activation: Activation,
                             output: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        let alpha = m + 2, area = alpha * alpha
        let cin = g.inChannels, cout = g.outChannels
        let ih = g.inputSize[0], iw = g.inputSize[1]
        let o = g.outputSize, oh = o[0], ow = o[1]
        let tilesH = (oh + m - 1) / m, tilesW = (ow + m - 1) / m, tiles = tilesH * tilesW
        // k-blocks of 128 input channels (not the packing's 256): halves the U scratch per panel.
        let mr = ks.mr, nr = ks.nr, kc = 128
        let coutPad = (cout + mr - 1) / mr * mr
        let block = Winograd.tileBlock(g, ks, m: m)
        let npadMax = (block + nr - 1) / nr * nr
        let vCount = area * cin * npadMax, mCount = area * coutPad * npadMax
        let threads = pool?.threadCount ?? 1
        // GEMM tasks: (group of rows of the ξ grid, chunk of row panels). A task transforms its
        // rows' positions × chunk·MR output channels × one k-block of U into its worker's scratch
        // (≤ ~512 KB, so it stays in L2 next to the V panels), loading each 3×3 weight once for
        // all its rows, then runs the GEMMs with the row panels innermost, so each V micro-panel
        // comes from L2 once per chunk and is reused from L1 (a panel per task would re-read V
        // once per panel: 37× for 512 → 512 at 7×7). One group of all α rows when it gives the
        // threads enough tasks (≥ 4 each), else smaller chunks, then more groups.
        let mPanels = coutPad / mr, lastRows = cout - (mPanels - 1) * mr
        let target = threads > 1 ? 4 * threads : 1
        var groups = 1, chunk = 1
        for candidate in (alpha == 6 ? [1, 2, 3, 6] : [1, 2, 4]) {
            groups = candidate
            chunk = max(1, min(mPanels, (512 << 10) / (alpha / groups * alpha * kc * mr * 4)))
            while chunk > 1 && groups * ((mPanels + chunk - 1) / chunk) < target { chunk -= 1 }
            if groups * ((mPanels + chunk - 1) / chunk) >= target { break }
        }
        let chunks = (mPanels + chunk - 1) / chunk, rowsPerGroup = alpha / groups, positions = rowsPerGroup * alpha
        // Per worker: the group's positions of chunk·MR × min(kc, C_in) of U (a k-block is never
        // wider than C_in), each followed by 16 floats of slack for the transform's spilling
        // stores; 64-byte aligned.
        let uStride = (chunk * min(kc, cin) * mr + 16 + 15) / 16 * 16, uCount = positions * uStride
        let (code, p0, p1) = activation.encoded
        let input0 = input
        let packedGeometry = [m, 0, 0, mr, weights.kc, weights.roundedExtent, 9 * cin, 0, 0, 0, uStride,
                              weights.roundedExtent * 9 * cin]
        precondition(weights.role == .a && weights.panelWidth == mr && weights.cols == 9 * cin && weights.rows == cout)
        Workspace.with(floats: vCount + mCount + threads * uCount) { buf in
            let v = buf, mBuf = buf + vCount, uBuf = mBuf + mCount
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
                    // 2. α² GEMMs, tasks (group of rows, chunk of row panels).
                    let nPanels = npad / nr
                    let transform = ks.winogradWeightRows!
                    parallel(pool, groups * chunks) { task, worker in
                        let i0 = task / chunks * rowsPerGroup, ip0 = task % chunks * chunk, ip1 = min(mPanels, ip0 + chunk)
                        let u = uBuf + worker * uCount
                        withUnsafeTemporaryAllocation(of: Int.self, capacity: packedGeometry.count) { geo in
                            for (k, value) in packedGeometry.enumerated() { geo[k] = value }
                            geo[1] = i0; geo[2] = i0 + rowsPerGroup
                            var pc = 0
                            while pc < cin {
                                let kcb = min(kc, cin - pc)
                                geo[8] = pc; geo[9] = pc + kcb
                                // U_ξ of panel ip at u + (ξ − i0·α)·uStride + (ip − ip0)·kcb·MR,
                                // ascending so each panel's spilled lanes are overwritten by the next.
                                for ip in ip0..<ip1 {
                                    geo[7] = ip
                                    transform(geo.baseAddress!, weights.storage, u + (ip - ip0) * kcb * mr)
                                }
                                for position in 0..<positions {
                                    let xi = i0 * alpha + position
                                    let up = UnsafePointer(u + position * uStride)
                                    let vx = v + xi * vXi + pc * npad, mx = mBuf + xi * mXi
                                    for q in 0..<nPanels {
                                        let bp = UnsafePointer(vx + q * nr * kcb)
                                        let half = min(nr, count - q * nr) <= nr / 2 ? ks.tileHalf : nil
                                        for ip in ip0..<ip1 {
                                            let ap = up + (ip - ip0) * kcb * mr
                                            let c = mx + ip * mr * npad + q * nr
                                            if let half {
                                                half(kcb, ap, bp, c, npad, pc > 0)
                                            } else if ip == mPanels - 1 && lastRows < mr, let rowsTile = ks.tileFusedRows {
                                                // Only C_out's rows of the last panel (the output
                                                // transform never reads M past C_out).
                                                rowsTile(lastRows, kcb, ap, bp, c, npad, pc > 0, nil, 0, 0, 0)
                                            } else {
                                                ks.tile(kcb, ap, bp, c, npad, pc > 0)
                                            }
                                        }
                                    }
                                }
                                pc += kcb
                            }
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
