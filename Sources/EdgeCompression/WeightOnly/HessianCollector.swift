import EdgeIR
import EdgeRuntime
import Foundation

/// Streams a calibration data set through the engine and accumulates, for each requested
/// activation, the GPTQ Hessian H = 2 XᵀX / n over every row x ∈ ℝ^K of the activation (K = the
/// reduction length of the layer that reads it; for a MatMul input [..., K] every leading index
/// is a row; for Gemm with transA the activation is [K, M] and its columns are the rows).
///
/// Intermediate tensors are captured as extra graph outputs (as `Calibrator` does). Memory: one
/// batch of activations plus one K × K double matrix per activation, flat in the sample count.
public struct HessianCollector {
    /// What to collect: an activation and whether its reduction axis is the first (Gemm transA).
    public struct Request: Hashable, Sendable {
        public var tensor: String
        public var transposed: Bool
        public init(tensor: String, transposed: Bool) {
            self.tensor = tensor
            self.transposed = transposed
        }
    }

    public var options: SessionOptions
    public var progress: ((Int, Int) -> Void)?

    public init(options: SessionOptions = SessionOptions(), progress: ((Int, Int) -> Void)? = nil) {
        self.options = options
        self.progress = progress
    }

    public func collect(model: Model, requests: [Request], data: CalibrationDataSet) throws -> [Request: [Double]] {
        var augmented = model
        let existing = Set(model.graph.outputs.map(\.name)).union(model.graph.runtimeInputs.map(\.name))
        for name in Set(requests.map(\.tensor)).sorted() where !existing.contains(name) {
            augmented.graph.outputs.append(ValueInfo(name: name, type: nil))
        }
        let session = try Session(model: augmented, options: options)
        var sums: [Request: [Double]] = [:]
        var rows: [Request: Int] = [:]
        var done = 0
        for feed in data.batches() {
            let outputs = try session.run(feed)
            for request in requests {
                guard let t = outputs[request.tensor] ?? feed[request.tensor] else {
                    throw EdgeError.internalError("GPTQ calibration did not produce tensor '\(request.tensor)'")
                }
                guard t.dtype == .float, t.rank >= 1 else {
                    throw EdgeError.unsupported("GPTQ needs a float32 activation at '\(request.tensor)', got \(t.dtype) \(t.shape)")
                }
                let x: [Float] = t.scalars()
                let (n, k, strideRow, strideCol): (Int, Int, Int, Int)
                if request.transposed {
                    guard t.rank == 2 else { throw EdgeError.unsupported("Gemm input '\(request.tensor)' has shape \(t.shape), 2-D expected") }
                    (n, k, strideRow, strideCol) = (t.shape[1], t.shape[0], 1, t.shape[1])
                } else {
                    k = t.shape[t.rank - 1]
                    (n, strideRow, strideCol) = (k == 0 ? 0 : x.count / k, k, 1)
                }
                var h = sums[request] ?? [Double](repeating: 0, count: k * k)
                guard h.count == k * k else {
                    throw EdgeError.badInput("activation '\(request.tensor)' changes its last dimension between batches (\(t.shape))")
                }
                HessianCollector.accumulate(&h, x, rows: n, k: k, strideRow: strideRow, strideCol: strideCol)
                sums[request] = h
                rows[request, default: 0] += n
            }
            done += 1
            progress?(done, data.batchCount)
        }
        var result: [Request: [Double]] = [:]
        for (request, var h) in sums {
            let k = Int(Double(h.count).squareRoot())
            let factor = 2 / Double(Swift.max(rows[request] ?? 1, 1))
            for i in 0..<k {
                for j in i..<k {
                    h[i * k + j] *= factor
                    h[j * k + i] = h[i * k + j]
                }
            }
            result[request] = h
        }
        return result
    }

    /// h += Σ_r x_r x_rᵀ over the upper triangle, four rows at a time so that each pass over h
    /// (K² doubles, memory-bound for large K) carries four rank-1 updates.
    static func accumulate(_ h: inout [Double], _ x: [Float], rows n: Int, k: Int, strideRow: Int, strideCol: Int) {
        var block = [Double](repeating: 0, count: 4 * k)
        h.withUnsafeMutableBufferPointer { hp in
            block.withUnsafeMutableBufferPointer { bp in
                let b = bp.baseAddress!
                var r = 0
                while r < n {
                    let count = Swift.min(4, n - r)
                    for q in 0..<4 {
                        for c in 0..<k { b[q * k + c] = q < count ? Double(x[(r + q) * strideRow + c * strideCol]) : 0 }
                    }
                    let (x0, x1, x2, x3) = (b, b + k, b + 2 * k, b + 3 * k)
                    for i in 0..<k {
                        let (v0, v1, v2, v3) = (x0[i], x1[i], x2[i], x3[i])
                        if v0 == 0 && v1 == 0 && v2 == 0 && v3 == 0 { continue }
                        let row = hp.baseAddress! + i * k
                        for j in i..<k { row[j] += v0 * x0[j] + v1 * x1[j] + v2 * x2[j] + v3 * x3[j] }
                    }
                    r += count
                }
            }
        }
    }
}
