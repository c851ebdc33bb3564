import EdgeIR
import EdgeKernels
import Foundation

/// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for
/// Generative Pre-trained Transformers", Algorithm 1), with block-wise scales.
///
/// For one linear layer y = W x (W: lines × K, one line per output, x ∈ ℝ^K) and calibration
/// inputs X, GPTQ minimises ‖W X − Ŵ X‖² line by line. With H = 2 X Xᵀ (K × K):
///   1. Dead inputs (H_ii = 0) get H_ii = 1 and their weights set to 0.
///   2. Damping: H += λ I with λ = 0.01 · mean(diag H) (`dampingFraction`), retried ×10 when the
///      Cholesky factorisation fails.
///   3. U = upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ U).
///   4. For column i = 0 … K−1: at the first column of each block the block's scale and zero point
///      are chosen from the *current* (already error-corrected) weights of the block; every line
///      quantizes w_i to q_i, and the scaled error e = (w_i − ŵ_i) / U_ii is spread over the
///      columns not yet quantized: w_j −= e · U_ij (j > i). This is the OBS update that keeps
///      the layer output closest to the float one given the columns already fixed.
/// Dequantization is the same as round-to-nearest's ŵ = (q − z)·s, so the output format is
/// unchanged; only the integers and scales differ.
///
/// With `activationOrder` (the paper's "act-order", AutoGPTQ's `desc_act` with static groups),
/// columns are processed in decreasing order of H_ii — the inputs with the most energy first, while
/// the most unquantized columns remain to absorb their error. Block scales are then fixed up front
/// from the original weights (RTN's), since a block's columns are no longer visited together.
public enum GPTQ {
    /// Quantizes a weight whose lines lie along `layout` (the reduction axis is `layout.axis`,
    /// of length K = H's order).
    public static func quantize(_ w: [Float], layout: BlockLayout, grid: BlockGrid, hessian: [Double],
                                dampingFraction: Double = 0.01, activationOrder: Bool = false,
                                pool: ThreadPool? = nil) throws -> BlockQuantizedWeight {
        let k = layout.length, lines = layout.lines
        guard hessian.count == k * k else {
            throw EdgeError.internalError("GPTQ: Hessian of order \(Int(Double(hessian.count).squareRoot())) for a reduction axis of \(k)")
        }
        // order[i] is the weight column processed i-th; H and W are permuted to that order.
        let order: [Int] = activationOrder
            ? (0..<k).sorted { hessian[$0 * k + $0] > hessian[$1 * k + $1] || (hessian[$0 * k + $0] == hessian[$1 * k + $1] && $0 < $1) }
            : Array(0..<k)
        // Lines row-major (line × K) so that the column updates run over contiguous memory.
        var m = [Float](repeating: 0, count: lines * k)
        for line in 0..<lines { for c in 0..<k { m[line * k + c] = w[layout.index(line: line, order[c])] } }
        var h = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for j in 0..<k { h[i * k + j] = hessian[order[i] * k + order[j]] } }
        for i in 0..<k where h[i * k + i] <= 0 {
            h[i * k + i] = 1
            for line in 0..<lines { m[line * k + i] = 0 }
        }
        let u = try upperCholeskyOfInverse(h, order: k, dampingFraction: dampingFraction, pool: pool)
        h = []

        let count = layout.scaleShape.reduce(1, *)
        var scales = [Float](repeating: 1, count: count)
        var zeros = [Int32](repeating: 0, count: count)
        if activationOrder {
            let fixed = BlockQuantizedWeight.roundToNearest(w, layout: layout, grid: grid)
            (scales, zeros) = (fixed.scales, fixed.zeros)
        }
        var q = [Int32](repeating: 0, count: w.count)
        let size = layout.blockSize
        // Lazy batch updates (the paper's §"Lazy batch-updates"): columns are processed in batches
        // of `batch` (a multiple of the block size, so a block's columns are up to date when its
        // scale is chosen). Inside a batch the error of column i only updates the batch's later
        // columns; the rest of the matrix gets the whole batch's errors at once,
        //     W[:, i2...] −= E · U[i1..<i2, i2...]
        // one SGEMM instead of `batch` passes over all of W (which is memory-bound for large K).
        let batch = Swift.max(128, size)
        var errors = [Float](repeating: 0, count: lines * batch)
        m.withUnsafeMutableBufferPointer { mp in
            u.withUnsafeBufferPointer { up in
                errors.withUnsafeMutableBufferPointer { ep in
                    var blockScale = [Float](repeating: 1, count: lines)
                    var blockZero = [Int32](repeating: 0, count: lines)
                    var i1 = 0
                    while i1 < k {
                        let i2 = Swift.min(k, i1 + batch), width = i2 - i1
                        for i in i1..<i2 {
                            let column = order[i], block = column / size
                            if activationOrder {
                                for line in 0..<lines {
                                    let p = layout.scaleIndex(line: line, block: block)
                                    (blockScale[line], blockZero[line]) = (scales[p], zeros[p])
                                }
                            } else if i % size == 0 {
                                let end = Swift.min(k, i + size)
                                for line in 0..<lines {
                                    var lo = Float.infinity, hi = -Float.infinity
                                    for c in i..<end {
                                        let v = mp[line * k + c]
                                        if v.isFinite { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
                                    }
                                    if lo > hi { lo = 0; hi = 0 }
                                    let (s, z) = grid.parameters(lo: lo, hi: hi)
                                    blockScale[line] = s
                                    blockZero[line] = z
                                    let p = layout.scaleIndex(line: line, block: block)
                                    scales[p] = s
                                    zeros[p] = z
                                }
                            }
                            let d = up[i * k + i]
                            let urow = up.baseAddress! + i * k
                            for line in 0..<lines {
                                let row = mp.baseAddress! + line * k
                                let s = blockScale[line], z = blockZero[line]
                                let qi = grid.quantize(row[i], scale: s, zero: z)
                                q[layout.index(line: line, column)] = qi
                                var error = (row[i] - Float(qi - z) * s) / d
                                if !error.isFinite { error = 0 }
                                row[i] = Float(qi - z) * s
                                ep[line * batch + (i - i1)] = error
                                guard error != 0 else { continue }
                                for j in (i + 1)..<i2 { row[j] -= error * urow[j] }
                            }
                        }
                        if i2 < k {
                            Kernels.sgemm(m: lines, n: k - i2, k: width, alpha: -1,
                                          a: UnsafePointer(ep.baseAddress!), lda: batch,
                                          b: up.baseAddress! + i1 * k + i2, ldb: k,
                                          beta: 1, c: mp.baseAddress! + i2, ldc: k, pool: pool)
                        }
                        i1 = i2
                    }
                }
            }
        }
        return BlockQuantizedWeight(layout: layout, grid: grid, values: q, scales: scales, zeros: zeros)
    }

    /// The layer-output error Σ_lines δᵀ H δ with δ = w − ŵ along each line: ‖(W − Ŵ) X‖² up to
    /// H's normalisation — the quantity GPTQ minimises, used to compare it with round-to-nearest.
    public static func outputError(_ w: [Float], _ quantized: BlockQuantizedWeight, hessian: [Double], pool: ThreadPool? = nil) -> Double {
        let layout = quantized.layout
        let wq = quantized.dequantized()
        return quadraticForm(lines(layout) { Double(w[$0]) - Double(wq[$0]) }, layout: layout, hessian: hessian, pool: pool)
    }

    /// Σ_lines wᵀ H w: ‖W X‖² in the same normalisation as `outputError`.
    public static func outputSignal(_ w: [Float], layout: BlockLayout, hessian: [Double], pool: ThreadPool? = nil) -> Double {
        quadraticForm(lines(layout) { Double(w[$0]) }, layout: layout, hessian: hessian, pool: pool)
    }

    /// The weight's lines gathered row-major (lines × K), each element given by its flat index.
    static func lines(_ layout: BlockLayout, _ value: (Int) -> Double) -> [Float] {
        let k = layout.length
        var v = [Float](repeating: 0, count: layout.lines * k)
        for line in 0..<layout.lines { for c in 0..<k { v[line * k + c] = Float(value(layout.index(line: line, c))) } }
        return v
    }

    /// Σ_l v_l H v_lᵀ over the rows of V (lines × K) as Σ (V·H) ∘ V: one SGEMM (lines·K² MACs) instead
    /// of a scalar double loop, which took minutes at K = 4096.
    static func quadraticForm(_ v: [Float], layout: BlockLayout, hessian: [Double], pool: ThreadPool?) -> Double {
        let k = layout.length, lines = layout.lines
        let h = hessian.map { Float($0) }
        var vh = [Float](repeating: 0, count: lines * k)
        guard lines > 0, k > 0 else { return 0 }
        v.withUnsafeBufferPointer { vp in
            h.withUnsafeBufferPointer { hp in
                vh.withUnsafeMutableBufferPointer { op in
                    Kernels.sgemm(m: lines, n: k, k: k, a: vp.baseAddress!, lda: k, b: hp.baseAddress!, ldb: k,
                                  c: op.baseAddress!, ldc: k, pool: pool)
                }
            }
        }
        var total = 0.0
        for i in 0..<v.count { total += Double(vh[i]) * Double(v[i]) }
        return total
    }
}
