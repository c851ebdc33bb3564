// The blocked GEMM driver shared by SGEMM, convolution and the int8 GEMM (Goto/BLIS loop nest):
//
//   for jc in N by NC:                       packed B block  (kc × nc)  ~ L2 (≤ 512 KB when packed per call)
//     for pc in K by KC:
//       pack B(pc, jc) in parallel over NR panels (unless pre-packed, or read in place:
//       a row-major B with float output on AVX-512, see `directSource`)
//       parallel over tasks = (row chunk of ≤ MC rows) × (column slice):
//         pack A(chunk, pc) into the worker's buffer (unless pre-packed)        ~ L2
//         for each NR panel of the slice:                                        ~ L1
//           for each MR panel of the chunk: micro-kernel tile, then (last pc) epilogue
//
// Row chunks are balanced to ±1 MR panel; when there are few of them (small M, e.g. a conv with
// 32 output channels) the columns are split too, so both threads get equal work.
// A last NR panel with fewer columns (N = 49: 32 + 17) goes through the narrow tiles where the ISA
// has them (`narrowPanels`): a half-width tile and a columns kernel instead of a padded full tile.

import Foundation

/// Where the driver gets op(A) / op(B) panels.
enum PanelSource {
    /// Raw row-major matrix; `alpha` is folded into the packing.
    case raw(UnsafePointer<Float>, ld: Int, trans: Bool)
    case packed(PackedMatrix)
    /// Custom packer writing panels for (p0, kcb, start, count) in the standard layout (im2col, int8).
    case custom((_ p0: Int, _ kcb: Int, _ start: Int, _ count: Int, _ dst: UnsafeMutablePointer<Float>) -> Void)
}

/// Where the driver writes results.
enum GEMMOutput {
    /// C = alpha·AB + beta·C, then the epilogue.
    case float(UnsafeMutablePointer<Float>, ldc: Int, beta: Float, Epilogue)
    /// C (int32) = Σ over k-blocks of Int32(block result); each k-block's float result must be exact.
    case int32(UnsafeMutablePointer<Int32>, ldc: Int)
}

struct GEMMDriver {
    let ks: KernelSet
    let m: Int, n: Int, k: Int
    let alpha: Float
    let a: PanelSource
    let b: PanelSource
    let output: GEMMOutput
    let pool: ThreadPool?

    func run() {
        if m <= 0 || n <= 0 { return }
        if k <= 0 { finishWithoutProducts(); return }
        let mr = ks.mr, nr = ks.nr, kc = ks.kc, nc = ks.nc
        let threads = pool?.threadCount ?? 1

        // Row chunks balanced in MR panels.
        let mPanels = (m + mr - 1) / mr
        var mChunks = max(1, (mPanels * mr + ks.mc - 1) / ks.mc)
        var nSplit = 1
        if threads > 1 {
            if mPanels >= 4 * threads && !smallM {
                mChunks = (mChunks + threads - 1) / threads * threads
            } else {
                nSplit = threads
            }
        }
        var aPrepacked = false
        if case .packed = a { aPrepacked = true }
        mChunks = min(mChunks, mPanels)
        let chunkPanelsMax = (mPanels + mChunks - 1) / mChunks + 1

        // A's buffers are needed only when the driver packs A itself.
        let aBufCount = aPrepacked ? 0 : chunkPanelsMax * mr * kc
        let workers = threads
        // A B block this driver packs itself is capped at `packedBBlockBudgetFloats`: it is reused by
        // every row chunk, so it need only stay in L2 (not fill 4096 columns × kc of L3), and its
        // pages stay resident in the shared workspace for the whole run (SqueezeNet's 128 → 32
        // 1×1 convs at 55×55 touched 1.5 MB of it). Pre-packed B keeps the layout it was packed in.
        var blockColumns = nc
        var bCount = 0
        // (B read in place needs no block: it keeps the full nc columns per pass.)
        if case .packed = b {} else if directSource == nil {
            blockColumns = min(nc, max(nr, Self.packedBBlockBudgetFloats / min(kc, k) / nr * nr))
            bCount = min(blockColumns, (n + nr - 1) / nr * nr) * min(kc, k)
        }
        // One workspace: per-worker A blocks, per-worker edge tiles, then the shared B block.
        Workspace.with(floats: workers * (aBufCount + mr * nr) + bCount) { aBuf in
            let tileBufBase = aBuf + workers * aBufCount
            let bBuf: UnsafeMutablePointer<Float>? = bCount > 0 ? tileBufBase + workers * mr * nr : nil
            loops(mChunks: mChunks, nSplit: nSplit, mPanels: mPanels, nc: blockColumns, aBuf: aBuf, aBufCount: aBufCount,
                  tileBufBase: tileBufBase, bBuf: bBuf, epi: DecodedEpilogue(output))
        }
    }

    /// 512 KB: half of a 1 MB L2 per core (this machine's EPYC), leaving room for the A block.
    static let packedBBlockBudgetFloats = (512 << 10) / 4

    private func loops(mChunks: Int, nSplit: Int, mPanels: Int, nc: Int, aBuf: UnsafeMutablePointer<Float>, aBufCount: Int,
                       tileBufBase: UnsafeMutablePointer<Float>, bBuf: UnsafeMutablePointer<Float>?, epi: DecodedEpilogue) {
        let mr = ks.mr, nr = ks.nr, kc = ks.kc
        let threads = pool?.threadCount ?? 1
        let direct = directSource

        var jc = 0
        while jc < n {
            let ncb = min(nc, n - jc)
            let nPanels = (ncb + nr - 1) / nr
            let split = min(nSplit, nPanels)
            var pc = 0
            while pc < k {
                let kcb = min(kc, k - pc)
                let first = pc == 0, last = pc + kcb == k
                // Panels of B for this (pc, jc). With a single row chunk every task owns a disjoint
                // column slice, so it packs that slice itself (no extra barrier, and the panels
                // stay in the cache of the core that uses them); otherwise all tasks share the
                // whole block, packed first in parallel.
                let packInTask = mChunks == 1
                let packSlice: ((Int, Int) -> Void)?
                switch b {
                case .packed:
                    packSlice = nil
                case .raw where direct != nil:
                    packSlice = nil
                case let .raw(ptr, ld, trans):
                    let buf = bBuf!, alphaB = alphaOnB
                    packSlice = { q0, q1 in
                        let j0 = q0 * nr, cols = min(ncb, q1 * nr) - j0
                        if cols > 0 {
                            ks.packB(ptr, ld, trans, pc, kcb, jc + j0, cols, nr, alphaB, buf + q0 * nr * kcb)
                        }
                    }
                case let .custom(pack):
                    let buf = bBuf!
                    packSlice = { q0, q1 in
                        let j0 = q0 * nr, cols = min(ncb, q1 * nr) - j0
                        if cols > 0 { pack(pc, kcb, jc + j0, cols, buf + q0 * nr * kcb) }
                    }
                }
                let bPanels: UnsafePointer<Float>
                if case let .packed(pm) = b { bPanels = pm.panels(p0: pc, kcb: kcb, index: jc) }
                else if let direct { bPanels = direct.b + pc * direct.ld + jc }
                else { bPanels = UnsafePointer(bBuf!) }
                if let packSlice, !packInTask {
                    let pieces = min(nPanels, threads)
                    parallel(pieces) { t, _ in packSlice(nPanels * t / pieces, nPanels * (t + 1) / pieces) }
                }

                parallel(mChunks * split) { task, worker in
                    let chunk = task / split, slice = task % split
                    let ip0 = mPanels * chunk / mChunks, ip1 = mPanels * (chunk + 1) / mChunks
                    let q0 = nPanels * slice / split, q1 = nPanels * (slice + 1) / split
                    if ip0 >= ip1 || q0 >= q1 { return }
                    let i0 = ip0 * mr, rows = min(m, ip1 * mr) - i0
                    if smallM {
                        // Rows of op(A)[·, pc..<pc+kcb], scaled by alpha, contiguous per row.
                        let buf = aBuf + worker * aBufCount
                        switch a {
                        case let .raw(ptr, ld, trans):
                            for r in 0..<m {
                                for p in 0..<kcb {
                                    let v = trans ? ptr[(pc + p) * ld + r] : ptr[r * ld + pc + p]
                                    buf[r * kcb + p] = alphaOnA * v
                                }
                            }
                        case let .custom(pack):
                            // The packer writes one MR-row panel (k-major); transpose it into rows.
                            let panel = buf + mr * kc
                            pack(pc, kcb, 0, m, panel)
                            for r in 0..<m { for p in 0..<kcb { buf[r * kcb + p] = panel[p * mr + r] } }
                        case .packed:
                            return
                        }
                        if packInTask, let packSlice { packSlice(q0, q1) }
                        let tileBuf = tileBufBase + worker * mr * nr
                        for q in q0..<q1 {
                            let j = jc + q * nr, cols = min(nr, n - j)
                            for r in 0..<m {
                                computeRowTile(buf + r * kcb, bPanels + q * nr * kcb, kcb: kcb, i: r, j: j, cols: cols,
                                               first: first, last: last, tileBuf: tileBuf, epi: epi)
                            }
                        }
                        return
                    }
                    let aPanels: UnsafePointer<Float>
                    switch a {
                    case let .packed(pm):
                        aPanels = pm.panels(p0: pc, kcb: kcb, index: i0)
                    case let .raw(ptr, ld, trans):
                        let buf = aBuf + worker * aBufCount
                        packAPanels(ptr, lda: ld, trans: trans, i0: i0, rows: rows, p0: pc, kcb: kcb, mr: mr,
                                    alpha: alphaOnA, into: buf)
                        aPanels = UnsafePointer(buf)
                    case let .custom(pack):
                        let buf = aBuf + worker * aBufCount
                        pack(pc, kcb, i0, rows, buf)
                        aPanels = UnsafePointer(buf)
                    }
                    if packInTask, let packSlice { packSlice(q0, q1) }
                    let tileBuf = tileBufBase + worker * mr * nr
                    for q in q0..<q1 {
                        let j = jc + q * nr, cols = min(nr, n - j)
                        if let direct {
                            narrowPanels(aPanels, panels: ip1 - ip0, i0: i0, bPanels + q * nr, ldb: direct.ld, kcb: kcb, j: j, cols: cols,
                                         first: first, last: last, epi: epi)
                            continue
                        }
                        let bp = bPanels + q * nr * kcb
                        // A partial last panel through the narrow tiles (a full tile would spend
                        // up to half its FMAs on padding), unless it lacks only 1–2 columns.
                        if cols < nr, ks.narrow != nil, case .float = output, cols <= nr - 3 {
                            narrowPanels(aPanels, panels: ip1 - ip0, i0: i0, bp, ldb: nr, kcb: kcb, j: j, cols: cols,
                                         first: first, last: last, epi: epi)
                            continue
                        }
                        for ip in 0..<(ip1 - ip0) {
                            let i = i0 + ip * mr, tileRows = min(mr, m - i)
                            computeTile(aPanels + ip * mr * kcb, bp, kcb: kcb, i: i, j: j, rows: tileRows, cols: cols,
                                        first: first, last: last, tileBuf: tileBuf, epi: epi)
                        }
                    }
                }
                pc += kcb
            }
            jc += ncb
        }
    }

    /// B read in place instead of packed: a row-major K × N right operand (a 1×1 convolution's
    /// input, or sgemm's untransposed B at alpha 1 on A's side) is streamed by the tiles with row
    /// stride N, NR columns at a time. Packing copied B once per GEMM and, with several row chunks,
    /// cost a parallel pass and a barrier per k-block; for small M (SqueezeNet's 16-row squeeze
    /// layers, MobileNetV2's 24-row projections) the copy was a third of the conv. Measured
    /// (edgeopt-kernel-bench, AVX-512, 1 thread): 1×1 128→16 at 55² 0.130 → 0.069 ms, 144→24 at
    /// 56² 0.163 → 0.119, 384→48 at 13² 0.044 → 0.031, 64→256 at 56² 0.50 → 0.48; N = 49 and
    /// square SGEMM 256–1024 unchanged (the strided rows of a kc × 32 strip stay in L1/L2).
    /// Same products in the same order as from packed panels: bit-identical.
    private var directSource: (b: UnsafePointer<Float>, ld: Int)? {
        guard ks.narrow != nil, case .float = output, !smallM, case let .raw(ptr, ld, trans) = b, !trans, alphaOnB == 1 else { return nil }
        return (ptr, ld)
    }

    /// A handful of rows (m ≤ MR/2, e.g. batch-1 MatMul or an RNN step): a full MR-row tile would
    /// spend most of its FMAs on zero padding, so each row runs the one-row kernel instead.
    private var smallM: Bool {
        if m * 2 > ks.mr { return false }
        if case .packed = a { return false }
        return true
    }

    /// alpha goes into whichever operand the driver packs itself (A first).
    private var alphaOnA: Float { if case .raw = a { return alpha }; return 1 }
    private var alphaOnB: Float {
        if case .raw = a { return 1 }
        if case .raw = b { return alpha }
        return 1
    }

    @inline(__always) private func parallel(_ count: Int, _ body: (Int, Int) -> Void) {
        if let pool, pool.threadCount > 1 { pool.parallelFor(count, body) } else { for i in 0..<count { body(i, 0) } }
    }

    @inline(__always) private func computeTile(_ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>, kcb: Int,
                                               i: Int, j: Int, rows: Int, cols: Int, first: Bool, last: Bool,
                                               tileBuf: UnsafeMutablePointer<Float>, epi: DecodedEpilogue) {
        let mr = ks.mr, nr = ks.nr
        switch output {
        case let .float(c, ldc, beta, _):
            let cTile = c + i * ldc + j
            if first && beta != 0 && beta != 1 {
                for r in 0..<rows { for t in 0..<cols { cTile[r * ldc + t] *= beta } }
            }
            let accumulate = !first || beta != 0
            if rows == mr && cols == nr, last, !epi.identity, epi.fusable, let fused = ks.tileFused {
                // Bias and activation in registers, one pass over C.
                fused(kcb, ap, bp, cTile, ldc, accumulate, epi.rowBias.map { $0 + i }, epi.code, epi.p0, epi.p1)
                return
            }
            if rows < mr && cols == nr, let fusedRows = ks.tileFusedRows, !last || epi.fusable {
                // Last MR panel of a ragged M: stores its rows in place (with the epilogue on the
                // last k-block) instead of going through tileBuf.
                if last {
                    fusedRows(rows, kcb, ap, bp, cTile, ldc, accumulate, epi.rowBias.map { $0 + i }, epi.code, epi.p0, epi.p1)
                } else {
                    fusedRows(rows, kcb, ap, bp, cTile, ldc, accumulate, nil, 0, 0, 0)
                }
                return
            }
            if rows == mr && cols == nr {
                ks.tile(kcb, ap, bp, cTile, ldc, accumulate)
            } else {
                if cols <= nr / 2, let half = ks.tileHalf { half(kcb, ap, bp, tileBuf, nr, false) }
                else { ks.tile(kcb, ap, bp, tileBuf, nr, false) }
                for r in 0..<rows {
                    let dst = cTile + r * ldc, src = tileBuf + r * nr
                    if accumulate { for t in 0..<cols { dst[t] += src[t] } } else { dst.update(from: src, count: cols) }
                }
            }
            if last && !epi.identity {
                ks.epilogueBlock(cTile, ldc, rows, cols, epi.rowBias.map { $0 + i }, epi.colBias.map { $0 + j }, epi.code, epi.p0, epi.p1)
            }
        case let .int32(c, ldc):
            if cols <= nr / 2, let half = ks.tileHalf { half(kcb, ap, bp, tileBuf, nr, false) }
            else { ks.tile(kcb, ap, bp, tileBuf, nr, false) }
            let cTile = c + i * ldc + j
            for r in 0..<rows {
                let dst = cTile + r * ldc, src = tileBuf + r * nr
                if first { for t in 0..<cols { dst[t] = Int32(src[t]) } }
                else { for t in 0..<cols { dst[t] &+= Int32(src[t]) } }
            }
        }
    }

    /// One NR-column strip (cols ≤ NR columns at j) of a row chunk's `panels` MR panels through
    /// the narrow tiles: full or half-width tiles stored in place, then the last cols mod 16
    /// columns by the columns kernel (see NarrowTiles). B's rows are `ldb` apart (NR in a packed
    /// panel, N in place). Float output only.
    private func narrowPanels(_ ap: UnsafePointer<Float>, panels: Int, i0: Int, _ bp: UnsafePointer<Float>, ldb: Int, kcb: Int,
                              j: Int, cols: Int, first: Bool, last: Bool, epi: DecodedEpilogue) {
        guard case let .float(c, ldc, beta, _) = output, let narrow = ks.narrow else { return }
        let mr = ks.mr, nr = ks.nr
        let chunkRows = min(panels * mr, m - i0)
        let cBlock = c + i0 * ldc + j
        if first && beta != 0 && beta != 1 {
            for r in 0..<chunkRows { for t in 0..<cols { cBlock[r * ldc + t] *= beta } }
        }
        let accumulate = !first || beta != 0
        // Bias and none/relu/clip fused on the last k-block; other epilogues as a pass after.
        let fuse = last && epi.fusable && !epi.identity
        let code = fuse ? epi.code : 0
        let vector = cols == nr ? nr : cols >= narrow.halfWidth ? narrow.halfWidth : 0
        let rest = cols - vector
        if vector > 0 {
            for ip in 0..<panels {
                let i = i0 + ip * mr
                narrow.general(min(mr, m - i), vector, kcb, ap + ip * mr * kcb, bp, ldb, c + i * ldc + j, ldc, accumulate,
                               fuse ? epi.rowBias.map { $0 + i } : nil, code, epi.p0, epi.p1)
            }
        }
        if rest > 0 {
            let group = narrow.columnPanels(rest)
            var ip = 0
            while ip < panels {
                let count = min(group, panels - ip), i = i0 + ip * mr
                narrow.columns(count, min(count * mr, m - i), rest, kcb, ap + ip * mr * kcb, mr * kcb, bp + vector, ldb,
                               c + i * ldc + j + vector, ldc, accumulate, fuse ? epi.rowBias.map { $0 + i } : nil, code, epi.p0, epi.p1)
                ip += count
            }
        }
        if last && !epi.identity && !fuse {
            ks.epilogueBlock(cBlock, ldc, chunkRows, cols, epi.rowBias.map { $0 + i0 }, epi.colBias.map { $0 + j }, epi.code, epi.p0, epi.p1)
        }
    }

    /// One row of C through the one-row kernel (small-M path).
    @inline(__always) private func computeRowTile(_ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>, kcb: Int,
                                                  i: Int, j: Int, cols: Int, first: Bool, last: Bool,
                                                  tileBuf: UnsafeMutablePointer<Float>, epi: DecodedEpilogue) {
        if case let .int32(c, ldc) = output {
            // Exact as in computeTile: a k-block's partial sums are integers below 2²⁴.
            ks.tile1(kcb, ap, bp, tileBuf, false)
            let dst = c + i * ldc + j
            if first { for t in 0..<cols { dst[t] = Int32(tileBuf[t]) } } else { for t in 0..<cols { dst[t] &+= Int32(tileBuf[t]) } }
            return
        }
        guard case let .float(c, ldc, beta, _) = output else { return }
        let dst = c + i * ldc + j
        if first && beta != 0 && beta != 1 { for t in 0..<cols { dst[t] *= beta } }
        let accumulate = !first || beta != 0
        if cols == ks.nr {
            ks.tile1(kcb, ap, bp, dst, accumulate)
        } else {
            ks.tile1(kcb, ap, bp, tileBuf, false)
            if accumulate { for t in 0..<cols { dst[t] += tileBuf[t] } } else { dst.update(from: tileBuf, count: cols) }
        }
        if last && !epi.identity {
            ks.epilogueBlock(dst, ldc, 1, cols, epi.rowBias.map { $0 + i }, epi.colBias.map { $0 + j }, epi.code, epi.p0, epi.p1)
        }
    }

    /// k == 0: the product is empty, so C = beta·C (or 0) followed by the epilogue.
    private func finishWithoutProducts() {
        switch output {
        case let .float(c, ldc, beta, epilogue):
            let (code, p0, p1) = epilogue.activation.encoded
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
                var rowBias: Float = 0
                var colBias: UnsafePointer<Float>? = nil
                switch epilogue.bias {
                case .none: break
                case let .perRow(bias): rowBias = bias[i]
                case let .perColumn(bias): colBias = bias
                }
                ks.epilogueRow(row, n, rowBias, colBias, code, p0, p1)
            }
        case let .int32(c, ldc):
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
        }
    }
}

/// A float output's epilogue decoded once per GEMM: `computeTile` runs per tile, and decoding the
/// enums there (a getter call, and a store-forwarding stall on the rebuilt struct) took 10% of a
/// K = 27 conv.
struct DecodedEpilogue {
    let identity: Bool
    /// Bias none or per row, activation none/relu/clip: the fused tiles can apply it.
    let fusable: Bool
    let rowBias: UnsafePointer<Float>?, colBias: UnsafePointer<Float>?
    let code: Int, p0: Float, p1: Float

    init(_ output: GEMMOutput) {
        guard case let .float(_, _, _, epilogue) = output else {
            identity = true; fusable = true; rowBias = nil; colBias = nil; code = 0; p0 = 0; p1 = 0
            return
        }
        identity = epilogue.isIdentity
        fusable = epilogue.fusableRowBias != nil
        switch epilogue.bias {
        case .none: rowBias = nil; colBias = nil
        case let .perRow(b): rowBias = b; colBias = nil
        case let .perColumn(b): rowBias = nil; colBias = b
        }
        (code, p0, p1) = epilogue.activation.encoded
    }
}
