import EdgeIR
import EdgeRuntime
import Foundation

/// Runs the engine over a calibration data set and records statistics of chosen activation
/// tensors, one batch at a time.
///
/// The session observes the requested tensors (`SessionOptions.observedTensors`) and the
/// statistics are updated inside the observer, while each tensor is still in the engine's
/// activation arena: nothing is copied out, and a tensor's buffer is reused once its readers ran.
/// Observed tensors are kept from being fused away, exactly as when they were added as graph
/// outputs, so the statistics are the same bit for bit (`CalibrationObserverTests`).
/// Memory: the engine's plain arena for one batch plus, per tensor, a `MinMaxObserver`, (for
/// histogram methods) a fixed-size `HistogramObserver` and (bias correction) a running sum of one
/// sample's size — flat in the sample count; no observed tensor outlives its last reader.
/// (Capturing them as graph outputs held every observed tensor of a batch at once: 5,372 MiB on
/// EfficientNet-B0 at batch 32, against 541 MiB now.)
public struct Calibrator {
    public var options: SessionOptions
    /// Called after each batch with (batches done, batch count).
    public var progress: ((Int, Int) -> Void)?

    public init(options: SessionOptions = SessionOptions(), progress: ((Int, Int) -> Void)? = nil) {
        self.options = options
        self.progress = progress
    }

    public func collect(model: Model, tensors: [String], data: CalibrationDataSet, histograms: Bool) throws -> [String: TensorStatistics] {
        try collect(model: model, tensors: tensors, data: data, histograms: histograms, meanTensors: []).statistics
    }

    /// Each name in `tensors` is observed once per batch (list it once).
    /// Also the mean over samples (axis 0) of each tensor in `meanTensors` (a subset of `tensors`),
    /// kept as a running float64 sum of one sample's size: memory stays flat in the sample count.
    public func collect(model: Model, tensors: [String], data: CalibrationDataSet, histograms: Bool,
                        meanTensors: Set<String>) throws -> (statistics: [String: TensorStatistics], means: [String: Tensor]) {
        var sums: [String: (shape: [Int], sum: [Double], samples: Int)] = [:]
        var sessionOptions = options
        sessionOptions.observedTensors = Set(tensors)
        let session = try Session(model: model, options: sessionOptions)
        var stats: [String: TensorStatistics] = [:]
        for name in tensors { stats[name] = TensorStatistics(histogram: histograms) }
        func observe(_ name: String, _ t: Tensor) throws {
            guard t.dtype == .float else { return }
            t.withUnsafeBytes { raw in
                let v = raw.bindMemory(to: Float.self)
                stats[name]!.observe(v)
            }
            if meanTensors.contains(name), t.rank >= 1, t.shape[0] > 0 {
                let n = t.shape[0], size = t.elementCount / n
                var entry = sums[name] ?? (Array(t.shape.dropFirst()), [Double](repeating: 0, count: size), 0)
                guard entry.sum.count == size else {
                    throw EdgeError.badInput("tensor '\(name)' changes shape across calibration batches (\(t.shape)); bias correction needs a fixed sample shape")
                }
                t.withUnsafeBytes { raw in
                    let v = raw.bindMemory(to: Float.self)
                    for b in 0..<n { for k in 0..<size { entry.sum[k] += Double(v[b * size + k]) } }
                }
                entry.samples += n
                sums[name] = entry
            }
        }
        var done = 0
        for feed in data.batches() {
            var seen = Set<String>()
            _ = try session.run(feed) { name, t in
                seen.insert(name)
                try observe(name, t)
            }
            if let missing = tensors.first(where: { !seen.contains($0) }) {
                throw EdgeError.internalError("calibration did not produce tensor '\(missing)'")
            }
            done += 1
            progress?(done, data.batchCount)
        }
        var means: [String: Tensor] = [:]
        for (name, e) in sums where e.samples > 0 {
            means[name] = Tensor(shape: [1] + e.shape, scalars: e.sum.map { Float($0 / Double(e.samples)) })
        }
        return (stats, means)
    }
}
