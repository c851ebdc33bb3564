import EdgeIR
import EdgeRuntime
import Foundation

/// Runs the engine over a calibration data set and records statistics of chosen activation
/// tensors, one batch at a time.
///
/// Intermediate tensors are captured by running a copy of the model whose graph outputs are
/// extended with the requested names (Session returns every graph output, detached from its
/// arena), so the engine needs no special hook. Graph inputs are observed from the feeds.
/// Memory: one batch of activations plus, per tensor, a `MinMaxObserver` and (for histogram
/// methods) a fixed-size `HistogramObserver` — flat in the number of samples.
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

    /// Also the mean over samples (axis 0) of each tensor in `meanTensors` (a subset of `tensors`),
    /// kept as a running float64 sum of one sample's size: memory stays flat in the sample count.
    public func collect(model: Model, tensors: [String], data: CalibrationDataSet, histograms: Bool,
                        meanTensors: Set<String>) throws -> (statistics: [String: TensorStatistics], means: [String: Tensor]) {
        var sums: [String: (shape: [Int], sum: [Double], samples: Int)] = [:]
        let inputNames = Set(model.graph.runtimeInputs.map(\.name))
        var augmented = model
        let existing = Set(model.graph.outputs.map(\.name))
        for name in tensors where !existing.contains(name) && !inputNames.contains(name) {
            augmented.graph.outputs.append(ValueInfo(name: name, type: nil))
        }
        let session = try Session(model: augmented, options: options)
        var stats: [String: TensorStatistics] = [:]
        for name in tensors { stats[name] = TensorStatistics(histogram: histograms) }
        var done = 0
        for feed in data.batches() {
            let outputs = try session.run(feed)
            for name in tensors {
                guard let t = outputs[name] ?? feed[name] else {
                    throw EdgeError.internalError("calibration did not produce tensor '\(name)'")
                }
                guard t.dtype == .float else { continue }
                t.withUnsafeBytes { raw in
                    stats[name]!.observe(raw.bindMemory(to: Float.self))
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
