import EdgeIR
import EdgeKernels
import EdgeRuntime
import Foundation

/// Streams a calibration data set through the engine and accumulates, for each requested
/// activation, the GPTQ Hessian H = 2 XᵀX / n over every row x ∈ ℝ^K of the activation (K = the
/// reduction length of the layer that reads it; for a MatMul input [..., K] every leading index
/// is a row; for Gemm with transA the activation is [K, M] and its columns are the rows).
///
/// Activations are observed in the engine's arena as each is computed (`Session.run(_:observing:)`,
/// as `Calibrator` does), one at a time. Memory: the engine's arena for one batch, one copy of the
/// activation being accumulated, and one K × K double matrix per activation (and one K × K float
/// scratch while accumulating), flat in the sample count.
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
        var sessionOptions = options
        sessionOptions.observedTensors = Set(requests.map(\.tensor))
        let session = try Session(model: model, options: sessionOptions)
        // Requests reading each tensor, in request order.
        var requestsOf: [String: [Request]] = [:]
        for request in requests { requestsOf[request.tensor, default: []].append(request) }
        let pool = ThreadPool(threads: options.threads)
        var sums: [Request: [Double]] = [:]
        var rows: [Request: Int] = [:]
        // One request's share of a batch (`t` is the engine's borrowed view: copied by `scalars()`).
        func accumulate(_ request: Request, _ t: Tensor) throws {
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
            HessianCollector.accumulate(&h, x, rows: n, k: k, strideRow: strideRow, strideCol: strideCol, pool: pool)
            sums[request] = h
            rows[request, default: 0] += n
        }
        var done = 0
        for feed in data.batches() {
            var seen = Set<String>()
            _ = try session.run(feed) { name, t in
                seen.insert(name)
                for request in requestsOf[name] ?? [] { try accumulate(request, t) }
            }
            if let missing = requests.first(where: { !seen.contains($0.tensor) }) {
                throw EdgeError.internalError("GPTQ calibration did not produce tensor '\(missing.tensor)'")
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

    /// Rows per SGEMM when accumulating: float sums over at most this many rows before they are
    /// added to the double accumulator, and a bounded gather buffer (256 · K floats).
    static let rowsPerProduct = 256

    /// h += Σ_r x_r x_rᵀ (the whole K × K square; `collect` symmetrises from the upper half).
    /// Rows go through SGEMM in chunks, G = X_cᵀ X_c, each chunk's G added to h in double: one
    /// pass over h per 256 rows instead of one per 4 rows, which at K = 4096 (128 MB of h) made
    /// the collection memory-bound.
    static func accumulate(_ h: inout [Double], _ x: [Float], rows n: Int, k: Int, strideRow: Int, strideCol: Int, pool: ThreadPool? = nil) {
        guard n > 0, k > 0 else { return }
        let chunk = Swift.min(n, rowsPerProduct)
        var gathered = [Float](repeating: 0, count: chunk * k)
        var product = [Float](repeating: 0, count: k * k)
        x.withUnsafeBufferPointer { xp in
            gathered.withUnsafeMutableBufferPointer { gp in
                product.withUnsafeMutableBufferPointer { pp in
                    h.withUnsafeMutableBufferPointer { hp in
                        var r = 0
                        while r < n {
                            let count = Swift.min(chunk, n - r)
                            let rows: UnsafePointer<Float>
                            if strideCol == 1, strideRow == k {
                                rows = xp.baseAddress! + r * k
                            } else {
                                for q in 0..<count {
                                    for c in 0..<k { gp[q * k + c] = xp[(r + q) * strideRow + c * strideCol] }
                                }
                                rows = UnsafePointer(gp.baseAddress!)
                            }
                            Kernels.sgemm(transA: true, m: k, n: k, k: count, a: rows, lda: k, b: rows, ldb: k,
                                          c: pp.baseAddress!, ldc: k, pool: pool)
                            for i in 0..<(k * k) { hp[i] += Double(pp[i]) }
                            r += count
                        }
                    }
                }
            }
        }
    }
}
