// The int8 GEMM on AVX-512 VNNI (vpdpbusd: u8 × s8 → s32; kernels in EdgeKernelsVNNI).
//
// C (m × n, int32) = Σ_p (x_r[i,p] − z_r[i])·(x_c[p,j] − z_c[j]) for a rows operand (broadcast,
// 8-row panels) and a columns operand (vector, 32-column panels). One side feeds vpdpbusd's
// unsigned input, the other its signed input (`VNNISide.unsignedRole`). Each raw byte x is stored
// shifted into its role's range, v = x XOR 0x80 where needed:
//   unsigned role, int8 x:  v = x + 128 (x = v − 128);   signed role, uint8 x:  v = x − 128 (x = v + 128)
// so x = v + off with off ∈ {−128, 0, 128}. With d = off − z on each side:
//   Σ (v_r + d_r)(v_c + d_c) = Σ v_r·v_c + d_c·Σv_r + d_r·Σv_c + k·d_r·d_c
//                            = D + rowSum·dCol + dRow·(colSum + k·dCol)
// D is what vpdpbusd accumulates; rowSum/colSum (Σ v over k) come from packing. Everything is
// computed in wrapping int32, so the result is the exact sum modulo 2³² — what int32
// accumulation gives, and bit for bit what the float-exact path (Int8GEMM.swift) gives.
//
// K runs whole (no k-blocking): int32 accumulation needs no exactness blocks, and a 32-column
// panel of K bytes (18 KB at K = 576) stays in L1/L2 while every 8-row panel of the rows operand
// streams past it. Roles: MatMul — rows = A (activations, unsigned role), columns = B (weights,
// signed role, packed once); Conv — rows = weights (signed role, packed once), columns = the
// input through an implicit byte im2col (unsigned role), packed per block of 32-column panels.

import EdgeKernelsVNNI
import Foundation

enum VNNI {
    static let mr = VNNIKernels.mr, nr = VNNIKernels.nr

    /// The CPU has AVX-512 F/BW/VL/DQ and VNNI (and the OS saves the zmm state: on Linux the
    /// kernel lists avx512* flags only then, see `KernelISA.detected`).
    static let detected: Bool = {
        #if arch(x86_64) && os(Linux)
        guard KernelISA.detected == .avx512,
              let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let flags = Set(line.split(separator: " ").map(String.init))
        return flags.contains("avx512_vnni")
        #else
        return false
        #endif
    }()

    /// Whether an int8 GEMM asked to run at `isa` (nil = active) takes the VNNI kernels: only at the
    /// AVX-512 level on a VNNI CPU; lower levels keep the float-exact path.
    static func enabled(_ isa: KernelISA?) -> Bool { detected && KernelSet.forISA(isa).isa == .avx512 }
    /// `enabled(nil)`, computed once: per-row callers must not copy the KernelSet (a struct of
    /// closures: each copy retains and releases every one of them).
    static let active: Bool = enabled(nil)
}

/// How one operand's bytes enter vpdpbusd (see the file comment).
struct VNNISide {
    let signed: Bool
    let unsignedRole: Bool
    var flip: UInt8 { signed == unsignedRole ? 0x80 : 0 }
    var offset: Int32 { unsignedRole ? (signed ? -128 : 0) : (signed ? 0 : 128) }
    @inline(__always) func d(_ zeroPoint: Int32) -> Int32 { offset &- zeroPoint }

    /// Σ v = Σ x − count·off over `count` raw bytes at `p`, `stride` apart.
    func shiftedSum(_ p: UnsafeRawPointer, count: Int, stride: Int = 1) -> Int32 {
        var s: Int32 = 0
        if signed {
            let b = p.assumingMemoryBound(to: Int8.self)
            for t in 0..<count { s &+= Int32(b[t &* stride]) }
        } else {
            let b = p.assumingMemoryBound(to: UInt8.self)
            for t in 0..<count { s &+= Int32(b[t &* stride]) }
        }
        return s &- Int32(truncatingIfNeeded: count) &* offset
    }
}

/// Rows-operand panels in VNNI layout with their correction terms: panel ip at
/// `panels + ip·groups·32`, fix[ip·16 ..< ip·16 + 16] = rowSum[8], dRow[8].
final class VNNIRowPanels: @unchecked Sendable {
    // @unchecked Sendable: written only in init, read-only afterwards.
    let m: Int, k: Int, groups: Int, panelCount: Int
    let panels: UnsafeMutableRawPointer
    let fix: UnsafeMutablePointer<Int32>

    /// Packs row-major bytes (`src[i·ld + p]`, m × k).
    init(_ src: UnsafeRawPointer, ld: Int, m: Int, k: Int, side: VNNISide, zeroPoint: ZeroPoint) {
        self.m = m; self.k = k
        groups = (k + 3) / 4
        panelCount = (m + VNNI.mr - 1) / VNNI.mr
        panels = .allocate(byteCount: max(64, panelCount * groups * 32), alignment: 64)
        fix = .allocate(capacity: max(16, panelCount * 16))
        VNNIRowPanels.pack(src, ld: ld, m: m, k: k, side: side, zeroPoint: zeroPoint, panels: panels, fix: fix, pool: nil)
    }

    deinit { panels.deallocate(); fix.deallocate() }

    var byteCount: Int { panelCount * groups * 32 + panelCount * 16 * 4 }

    static func pack(_ src: UnsafeRawPointer, ld: Int, m: Int, k: Int, side: VNNISide, zeroPoint: ZeroPoint,
                     panels: UnsafeMutableRawPointer, fix: UnsafeMutablePointer<Int32>, pool: ThreadPool?) {
        let groups = (k + 3) / 4, count = (m + VNNI.mr - 1) / VNNI.mr
        let body: (Int, Int) -> Void = { ip, _ in
            let i0 = ip * VNNI.mr, rows = min(VNNI.mr, m - i0)
            VNNIKernels.packRows(src + i0 * ld, ld, rows, k, side.flip, panels + ip * groups * 32)
            let f = fix + ip * 16
            for r in 0..<VNNI.mr {
                f[r] = r < rows ? side.shiftedSum(src + (i0 + r) * ld, count: k) : 0
                f[8 + r] = r < rows ? side.d(zeroPoint.int(i0 + r)) : 0
            }
        }
        if let pool, pool.threadCount > 1, m * k >= 1 << 16 { pool.parallelFor(count, body) } else { for ip in 0..<count { body(ip, 0) } }
    }
}

/// Columns-operand panels in VNNI layout (a constant B): panel q at `panels + q·groups·128`,
/// fix[q·64 ..< q·64 + 64] = dCol[32], colTerm[32] with colTerm = colSum + k·dCol.
final class VNNIColumnPanels: @unchecked Sendable {
    // @unchecked Sendable: written only in init, read-only afterwards.
    let k: Int, n: Int, groups: Int, panelCount: Int
    let panels: UnsafeMutableRawPointer
    let fix: UnsafeMutablePointer<Int32>

    /// Packs a k × n byte matrix (`b[p·ldb + j]`).
    init(_ b: UnsafeRawPointer, ldb: Int, k: Int, n: Int, side: VNNISide, zeroPoint: ZeroPoint) {
        self.k = k; self.n = n
        groups = (k + 3) / 4
        panelCount = (n + VNNI.nr - 1) / VNNI.nr
        panels = .allocate(byteCount: max(64, panelCount * groups * 128), alignment: 64)
        fix = .allocate(capacity: max(64, panelCount * 64))
        let width = panelCount * VNNI.nr
        var sums = [Int32](repeating: 0, count: width)
        // A missing row of the last group reads bytes equal to `flip`, which pack to 0.
        let neutral = [UInt8](repeating: side.flip, count: max(1, n))
        sums.withUnsafeMutableBufferPointer { s in
            neutral.withUnsafeBytes { nb in
                for g in 0..<groups {
                    let rows = (0..<4).map { t -> UnsafeRawPointer in
                        let p = 4 * g + t
                        return p < k ? b + p * ldb : nb.baseAddress!
                    }
                    VNNIKernels.packColumnsGroup(rows[0], rows[1], rows[2], rows[3], n, side.flip, panels + g * 128,
                                                 groups * 128, s.baseAddress!, side.unsignedRole)
                }
            }
        }
        let k32 = Int32(truncatingIfNeeded: k)
        for q in 0..<panelCount {
            for t in 0..<VNNI.nr {
                let j = q * VNNI.nr + t
                let d: Int32 = j < n ? side.d(zeroPoint.int(j)) : 0
                fix[q * 64 + t] = d
                fix[q * 64 + 32 + t] = j < n ? sums[j] &+ k32 &* d : 0
            }
        }
    }

    deinit { panels.deallocate(); fix.deallocate() }

    var byteCount: Int { panelCount * groups * 128 + panelCount * 64 * 4 }
}

/// Where a VNNI GEMM gets its rows operand.
enum VNNIRows {
    case packed(VNNIRowPanels)
    /// Row-major bytes (MatMul A), packed by the driver.
    case raw(UnsafeRawPointer, ld: Int, side: VNNISide, zeroPoint: ZeroPoint)
}

/// Where a VNNI GEMM gets its columns operand.
enum VNNIColumns {
    case packed(VNNIColumnPanels)
    /// Runtime bytes: `row(p, j0, cols, scratch)` returns row p of the k × n operand for columns
    /// j0 ..< j0 + cols (a pointer into the operand, or `scratch` after writing it there).
    case rows((_ p: Int, _ j0: Int, _ cols: Int, _ scratch: UnsafeMutablePointer<UInt8>) -> UnsafeRawPointer,
              side: VNNISide, zeroPoint: ZeroPoint)
}

/// Where a VNNI GEMM writes C.
enum VNNIOutput {
    case int32(UnsafeMutablePointer<Int32>, ldc: Int)
    /// Each row of C requantized to bytes (dst[i·ldd + j]) by the tile's epilogue, so the int32
    /// result never goes through memory. Rows operand `.packed` only; every multiplier finite.
    case requantized(UnsafeMutableRawPointer, ldd: Int, RowRequantization)
}

struct VNNIDriver {
    let m: Int, n: Int, k: Int
    let rows: VNNIRows
    let columns: VNNIColumns
    /// The rows operand feeds vpdpbusd's unsigned input.
    let rowsUnsigned: Bool
    let output: VNNIOutput
    let pool: ThreadPool?

    func run() {
        if m <= 0 || n <= 0 { return }
        if k <= 0 {
            switch output {
            case let .int32(c, ldc): for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            case let .requantized(d, ldd, rq):
                Workspace.with(floats: n) { buf in
                    let zeros = UnsafeMutableRawPointer(buf).bindMemory(to: Int32.self, capacity: n)
                    zeros.update(repeating: 0, count: n)
                    for i in 0..<m { rq.row(i, zeros, n, d + i * ldd) }
                }
            }
            return
        }
        switch rows {
        case let .packed(p):
            runWith(rowPanels: UnsafeRawPointer(p.panels), rowFix: UnsafePointer(p.fix), smallRows: nil)
        case let .raw(a, lda, side, zp):
            let groups = (k + 3) / 4
            if m * 2 <= VNNI.mr {
                // A handful of rows (batch-1 MatMul, an RNN step): each row is its own contiguous
                // run of groups for the one-row kernel, instead of an 8-row panel mostly zeros.
                let stride = groups * 4
                Workspace.with(floats: m * groups + 2 * m) { buf in
                    let bytes = UnsafeMutableRawPointer(buf).assumingMemoryBound(to: UInt8.self)
                    let sums = UnsafeMutableRawPointer(buf + m * groups).assumingMemoryBound(to: Int32.self)
                    for i in 0..<m {
                        let src = (a + i * lda).assumingMemoryBound(to: UInt8.self), dst = bytes + i * stride
                        for p in 0..<k { dst[p] = src[p] ^ side.flip }
                        for p in k..<stride { dst[p] = 0 }
                        sums[i] = side.shiftedSum(a + i * lda, count: k)
                        sums[m + i] = side.d(zp.int(i))
                    }
                    runWith(rowPanels: UnsafeRawPointer(bytes), rowFix: UnsafePointer(sums), smallRows: m)
                }
            } else {
                let count = (m + VNNI.mr - 1) / VNNI.mr
                Workspace.with(floats: count * groups * 8 + count * 16) { buf in
                    let panels = UnsafeMutableRawPointer(buf)
                    let fix = UnsafeMutableRawPointer(buf + count * groups * 8).assumingMemoryBound(to: Int32.self)
                    VNNIRowPanels.pack(a, ld: lda, m: m, k: k, side: side, zeroPoint: zp, panels: panels, fix: fix, pool: pool)
                    runWith(rowPanels: UnsafeRawPointer(panels), rowFix: UnsafePointer(fix), smallRows: nil)
                }
            }
        }
    }

    /// `smallRows` = m when the rows are contiguous single rows (fix = rowSum[m], dRow[m]).
    private func runWith(rowPanels: UnsafeRawPointer, rowFix: UnsafePointer<Int32>, smallRows: Int?) {
        guard case let .requantized(_, _, rq) = output else {
            runWith(rowPanels: rowPanels, rowFix: rowFix, smallRows: smallRows, rowRequantization: nil)
            return
        }
        precondition(smallRows == nil, "requantized VNNI output needs packed row panels")
        let mPanels = (m + VNNI.mr - 1) / VNNI.mr
        // The correction D + rowSum·dCol + dRow·colTerm (file comment) collapses to a per-row
        // constant when every dRow is 0 (weights with zero point 0, as symmetric int8 weights
        // are) and dCol is one value (a per-tensor input zero point): D + rowSum·dCol. Folded
        // into the bias (all wrapping int32, so the sum is the same), the full tiles skip it.
        var uniformColumnShift: Int32? = nil
        if case let .rows(_, side, .scalar(zc)) = columns,
           (0..<m).allSatisfy({ rowFix[($0 / VNNI.mr) * 16 + 8 + $0 % VNNI.mr] == 0 }) {
            uniformColumnShift = side.d(zc)
        }
        // Per row panel: scale[8] (Float bits), bias[8] — what the tile's epilogue broadcasts.
        Workspace.with(floats: mPanels * 16) { buf in
            let words = UnsafeMutableRawPointer(buf).bindMemory(to: Int32.self, capacity: mPanels * 16)
            for ip in 0..<mPanels {
                for r in 0..<VNNI.mr {
                    let i = ip * VNNI.mr + r
                    var bias = i < m ? rq.bias?[i] ?? 0 : 0
                    if let d = uniformColumnShift { bias &+= rowFix[ip * 16 + r] &* d }
                    words[ip * 16 + r] = Int32(bitPattern: (i < m ? rq.scale(i) : 0).bitPattern)
                    words[ip * 16 + 8 + r] = bias
                }
            }
            runWith(rowPanels: rowPanels, rowFix: rowFix, smallRows: nil, rowRequantization: UnsafePointer(words),
                    correctionInBias: uniformColumnShift != nil)
        }
    }

    /// `correctionInBias`: the requantized full tiles' correction is already in rqPanels' biases.
    private func runWith(rowPanels: UnsafeRawPointer, rowFix: UnsafePointer<Int32>, smallRows: Int?,
                         rowRequantization rqPanels: UnsafePointer<Int32>?, correctionInBias: Bool = false) {
        let groups = (k + 3) / 4, nr = VNNI.nr, mr = VNNI.mr
        let threads = pool?.threadCount ?? 1
        let nPanels = (n + nr - 1) / nr
        let mPanels = (m + mr - 1) / mr
        let rowUnits = smallRows ?? mPanels

        // Column blocks: runtime columns are packed a block at a time (≤ ~128 KB so the block
        // stays in L2 while every row panel passes over it); constant panels need no packing,
        // so a block is one panel.
        var blockPanels = 1
        if case .rows = columns {
            let cap = max(1, min(8, (128 << 10) / (groups * 128)))
            let blocks = max((nPanels + cap - 1) / cap, min(nPanels, 4 * threads))
            blockPanels = (nPanels + blocks - 1) / blocks
        }
        let colBlocks = (nPanels + blockPanels - 1) / blockPanels
        // Column sums are multiplied by dRow: skip them when every dRow is 0 (e.g. int8
        // weights with zero point 0 as the rows of a conv).
        var needColumnSums = false
        if let m = smallRows { for i in 0..<m where rowFix[m + i] != 0 { needColumnSums = true } }
        else { for ip in 0..<mPanels { for r in 0..<mr where rowFix[ip * 16 + 8 + r] != 0 { needColumnSums = true } } }
        // Few column blocks (a small output plane, a narrow B): split the rows as well.
        let rowChunks = threads > 1 && colBlocks < 2 * threads ? min(threads, rowUnits) : 1

        // Per-worker scratch (bytes): packed block, column sums and fix, four im2col rows, a
        // neutral row, an edge tile.
        let blockBytes = blockPanels * groups * 128
        let width = blockPanels * nr
        var perWorker = 8 * nr * 4
        if case .rows = columns { perWorker += blockBytes + width * 4 + blockPanels * 64 * 4 + 5 * width }
        perWorker = (perWorker + 63) / 64 * 64
        Workspace.with(floats: threads * perWorker / 4) { scratchBase in
            let tasks = rowChunks * colBlocks
            let body: (Int, Int) -> Void = { task, worker in
                let chunk = task % rowChunks, block = task / rowChunks
                let u0 = rowUnits * chunk / rowChunks, u1 = rowUnits * (chunk + 1) / rowChunks
                let q0 = block * blockPanels, q1 = min(nPanels, q0 + blockPanels)
                if u0 >= u1 || q0 >= q1 { return }
                let scratch = UnsafeMutableRawPointer(scratchBase) + worker * perWorker
                let tileBuf = scratch.assumingMemoryBound(to: Int32.self)
                let bPanels: UnsafeRawPointer, bFix: UnsafePointer<Int32>
                switch columns {
                case let .packed(p):
                    bPanels = UnsafeRawPointer(p.panels + q0 * groups * 128)
                    bFix = UnsafePointer(p.fix + q0 * 64)
                case let .rows(row, side, zp):
                    let base = scratch + 8 * nr * 4
                    let panels = base, sums = (base + blockBytes).assumingMemoryBound(to: Int32.self)
                    let fix = (base + blockBytes + width * 4).assumingMemoryBound(to: Int32.self)
                    let rowBuf = (base + blockBytes + width * 4 + blockPanels * 64 * 4).assumingMemoryBound(to: UInt8.self)
                    packBlock(row, side: side, zeroPoint: zp, j0: q0 * nr, cols: min(n, q1 * nr) - q0 * nr, groups: groups,
                              panels: panels, sums: sums, fix: fix, rowBuf: rowBuf, needSums: needColumnSums)
                    bPanels = UnsafeRawPointer(panels); bFix = UnsafePointer(fix)
                }
                for q in q0..<q1 {
                    let j = q * nr, cols = min(nr, n - j)
                    let bp = bPanels + (q - q0) * groups * 128, cf = UnsafeRawPointer(bFix + (q - q0) * 64)
                    if case let .requantized(d, ldd, rq) = output, let rqPanels {
                        for ip in u0..<u1 {
                            let i = ip * mr, tileRows = min(mr, m - i)
                            let ap = rowPanels + ip * groups * 32, rf = UnsafeRawPointer(rowFix + ip * 16)
                            let rqp = UnsafeRawPointer(rqPanels + ip * 16), fix = correctionInBias ? nil : rf
                            if tileRows == mr && cols == nr {
                                VNNIKernels.tileRequantized(groups, ap, bp, d + i * ldd + j, ldd, rowsUnsigned, fix, cf, rqp,
                                                            rq.zeroPoint, rq.lo, rq.hi)
                            } else {
                                // A partial tile: all 8×32 bytes into scratch (rows past m and
                                // columns past n hold zeros in the panels), then the real ones.
                                let bytes = UnsafeMutableRawPointer(tileBuf)
                                VNNIKernels.tileRequantized(groups, ap, bp, bytes, nr, rowsUnsigned, fix, cf, rqp, rq.zeroPoint, rq.lo, rq.hi)
                                for r in 0..<tileRows { (d + (i + r) * ldd + j).copyMemory(from: bytes + r * nr, byteCount: cols) }
                            }
                        }
                    } else if case let .int32(c, ldc) = output, let m = smallRows {
                        for i in u0..<u1 {
                            let dst = cols == nr ? c + i * ldc + j : tileBuf
                            VNNIKernels.row(groups, rowPanels + i * groups * 4, bp, dst, rowsUnsigned, rowFix[i], rowFix[m + i], cf)
                            if cols < nr { (c + i * ldc + j).update(from: tileBuf, count: cols) }
                        }
                    } else if case let .int32(c, ldc) = output {
                        for ip in u0..<u1 {
                            let i = ip * mr, tileRows = min(mr, m - i)
                            let ap = rowPanels + ip * groups * 32, rf = UnsafeRawPointer(rowFix + ip * 16)
                            if tileRows == mr && cols == nr {
                                VNNIKernels.tile(groups, ap, bp, c + i * ldc + j, ldc, rowsUnsigned, rf, cf)
                            } else {
                                VNNIKernels.tile(groups, ap, bp, tileBuf, nr, rowsUnsigned, rf, cf)
                                for r in 0..<tileRows { (c + (i + r) * ldc + j).update(from: tileBuf + r * nr, count: cols) }
                            }
                        }
                    }
                }
            }
            if let pool, threads > 1 { pool.parallelFor(tasks, body) } else { for t in 0..<tasks { body(t, 0) } }
        }
    }

    /// Packs columns j0 ..< j0 + cols of a runtime columns operand into panels, with their fix
    /// (column sums only when some dRow is non-zero: otherwise they are multiplied by 0).
    private func packBlock(_ row: (Int, Int, Int, UnsafeMutablePointer<UInt8>) -> UnsafeRawPointer,
                           side: VNNISide, zeroPoint: ZeroPoint, j0: Int, cols: Int, groups: Int,
                           panels: UnsafeMutableRawPointer, sums: UnsafeMutablePointer<Int32>, fix: UnsafeMutablePointer<Int32>,
                           rowBuf: UnsafeMutablePointer<UInt8>, needSums: Bool) {
        let nr = VNNI.nr
        let width = (cols + nr - 1) / nr * nr
        if needSums { sums.update(repeating: 0, count: width) }
        let neutral = rowBuf + 4 * width
        neutral.update(repeating: side.flip, count: width)
        for g in 0..<groups {
            let p = 4 * g, z = UnsafeRawPointer(neutral)
            let r0 = row(p, j0, cols, rowBuf)
            let r1 = p + 1 < k ? row(p + 1, j0, cols, rowBuf + width) : z
            let r2 = p + 2 < k ? row(p + 2, j0, cols, rowBuf + 2 * width) : z
            let r3 = p + 3 < k ? row(p + 3, j0, cols, rowBuf + 3 * width) : z
            VNNIKernels.packColumnsGroup(r0, r1, r2, r3, cols, side.flip, panels + g * 128, groups * 128,
                                         needSums ? sums : nil, side.unsignedRole)
        }
        let k32 = Int32(truncatingIfNeeded: k)
        for q in 0..<(width / nr) {
            let f = fix + q * 64, c0 = q * nr, real = Swift.min(nr, cols - c0)
            if case let .scalar(z) = zeroPoint {
                // One dCol for every column (the conv input's zero point): plain fills and a
                // vectorisable add instead of a per-column switch on the zero point.
                let d = side.d(z), kd = k32 &* d
                f.update(repeating: d, count: real)
                if needSums { for t in 0..<real { f[32 + t] = sums[c0 + t] &+ kd } } else { (f + 32).update(repeating: kd, count: real) }
            } else {
                for t in 0..<real {
                    let d = side.d(zeroPoint.int(j0 + c0 + t))
                    f[t] = d
                    f[32 + t] = (needSums ? sums[c0 + t] : 0) &+ k32 &* d
                }
            }
            (f + real).update(repeating: 0, count: nr - real)
            (f + 32 + real).update(repeating: 0, count: nr - real)
        }
    }
}
