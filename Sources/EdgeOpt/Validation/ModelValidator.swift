import EdgeCompression
import EdgeIR
import EdgeRuntime
import Foundation

/// Runs a reference and a candidate model on the same batches and measures how far the
/// candidate's outputs (and shared intermediate tensors) are from the reference's.
///
/// Metrics accumulate over the whole data set in O(1) memory per tensor:
///   cosine = Σ r·c / √(Σ r² · Σ c²),  SQNR = 10·log10(Σ r² / Σ (r − c)²),  max |r − c|;
/// top-1 is the argmax over each output's last axis (one row per sample for classifier logits),
/// compared with the labels (an integer array of the data set, one per row) and between models.
public enum ModelValidator {
    public struct Options: Sendable {
        public var labels: String?
        public var layers: Bool = true
        public var threads: Int? = nil
        /// Bytes of layer copies held at once while the two models run in lockstep (see `LockstepComparison`).
        public var layerBudgetBytes = LockstepComparison.defaultBudgetBytes
        public init(labels: String? = nil) { self.labels = labels }
    }

    struct Accumulator {
        var rr = 0.0, cc = 0.0, rc = 0.0, ee = 0.0, maxAbs = 0.0
        var rows = 0, agree = 0, refCorrect = 0, candCorrect = 0
        var comparable = true

        mutating func add(_ r: Tensor, _ c: Tensor, labels: [Int64]?) {
            guard r.dtype == .float, c.dtype == .float, r.shape == c.shape else { comparable = false; return }
            // Read in place: copying both tensors out ([Float]) would add two layer tensors to the
            // peak (294 MiB at EfficientNet-B0's largest layer at batch 32).
            r.withUnsafeBytes { ra in
                c.withUnsafeBytes { ca in
                    add(ra.bindMemory(to: Float.self), ca.bindMemory(to: Float.self), width: r.shape.last, labels: labels)
                }
            }
        }

        mutating func add(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, width: Int?, labels: [Int64]?) {
            for i in a.indices {
                let x = Double(a[i]), y = Double(b[i]), e = x - y
                rr += x * x; cc += y * y; rc += x * y; ee += e * e
                maxAbs = Swift.max(maxAbs, abs(e))
            }
            guard let width, width > 0 else { return }
            let n = a.count / width
            for row in 0..<n {
                let ra = argmax(a, row * width, width), ca = argmax(b, row * width, width)
                rows += 1
                if ra == ca { agree += 1 }
                if let labels, row < labels.count {
                    if Int64(ra) == labels[row] { refCorrect += 1 }
                    if Int64(ca) == labels[row] { candCorrect += 1 }
                }
            }
        }

        func argmax(_ v: UnsafeBufferPointer<Float>, _ start: Int, _ count: Int) -> Int {
            var best = 0
            for k in 1..<Swift.max(count, 1) where v[start + k] > v[start + best] { best = k }
            return best
        }

        var cosine: Double { rr > 0 && cc > 0 ? rc / (rr * cc).squareRoot() : (rr == cc ? 1 : 0) }
        var sqnr: Double? { ee == 0 ? nil : 10 * log10(Swift.max(rr, .leastNonzeroMagnitude) / ee) }
    }

    /// Per-layer accumulators, shared by the two lockstep runs' threads.
    final class LayerStats: @unchecked Sendable {
        // @unchecked: `stats` is read and written only with `lock` held (or after the runs ended).
        private let lock = NSLock()
        var stats: [String: Accumulator] = [:]
        func take(_ name: String) -> Accumulator { lock.withLock { stats.removeValue(forKey: name) ?? Accumulator() } }
        func put(_ name: String, _ s: Accumulator) { lock.withLock { stats[name] = s } }
    }

    public static func validate(reference: Model, candidate: Model, data: CalibrationDataSet,
                                names: (reference: String, candidate: String), options: Options) throws -> ValidationReport {
        let start = Date()
        let refOutputs = reference.graph.outputs.map(\.name)
        let candOutputs = Set(candidate.graph.outputs.map(\.name))
        let shared = refOutputs.filter(candOutputs.contains)
        guard !shared.isEmpty else {
            throw EdgeError.badInput("the reference and the candidate share no output name (reference: \(refOutputs.joined(separator: ", ")); candidate: \(candOutputs.sorted().joined(separator: ", ")))")
        }
        let labels = try options.labels.map { try data.extra(named: $0) }
        if let labels, labels.int64Values() == nil {
            throw EdgeError.badInput("labels '\(options.labels!)' must be an integer array, got \(labels.dtype)", file: data.source)
        }
        var layers: [String] = []
        if options.layers {
            let candProduced = Set(candidate.graph.nodes.flatMap(\.outputs))
            let refInputs = Set(reference.graph.inputs.map(\.name))
            layers = reference.graph.nodes.flatMap(\.outputs).filter {
                !$0.isEmpty && candProduced.contains($0) && !refInputs.contains($0) && !shared.contains($0)
            }
            var seen = Set<String>()
            layers = layers.filter { seen.insert($0).inserted }
        }
        // Layers are observed in the engines' arenas (`Session.run(_:observing:)`), with the two
        // models running in lockstep (`LockstepComparison`): whichever run produces a layer first
        // copies it out of its arena, the other compares its own tensor with that copy inside its
        // observer and drops the copy, so at most about `layerBudgetBytes` of layer copies are
        // held at a time whatever the batch size (one batch of every reference layer was held
        // before: 3.4 GiB for EfficientNet-B0 at batch 32). Each layer's accumulator still sees
        // one (reference, candidate) pair per batch, in batch order, so the figures are the same.
        var sessionOptions = options.threads.map { SessionOptions(threads: $0) } ?? SessionOptions()
        sessionOptions.observedTensors = Set(layers)
        let refSession = try Session(model: reference, options: sessionOptions)
        let candSession = try Session(model: candidate, options: sessionOptions)
        // An observed value is kept from the engine's QDQ lowering, so an observing session runs a
        // quantized candidate's Q/DQ pairs in float and its outputs can differ from the integer
        // arithmetic by a quantization step. The output figures must be what the deployed model
        // computes: a QDQ candidate's outputs come from a second, unobserved session.
        let quantizedOps: Set<String> = ["QuantizeLinear", "DequantizeLinear"]
        let candOutputSession = !layers.isEmpty && candidate.graph.nodes.contains(where: { $0.isStandardDomain && quantizedOps.contains($0.opType) })
            ? try Session(model: candidate, options: options.threads.map { SessionOptions(threads: $0) } ?? SessionOptions()) : nil
        var outputs = [String: Accumulator]()
        let layerStats = LayerStats()
        let lockstep = LockstepComparison(budgetBytes: options.layerBudgetBytes)
        for (k, feed) in data.batches().enumerated() {
            let (r, observedOutputs) = try lockstep.run(reference: refSession, candidate: candSession, feed: feed) { name, a, b in
                // Two layers may be compared at once (one on each run's thread), one layer never.
                var s = layerStats.take(name)
                s.add(a, b, labels: nil)
                layerStats.put(name, s)
            }
            let c = try candOutputSession?.run(feed) ?? observedOutputs
            let batchLabels = labels.map { data.slice(extra: $0, batch: k).int64Values() ?? [] }
            for name in shared {
                guard let a = r[name], let b = c[name] else { continue }
                outputs[name, default: Accumulator()].add(a, b, labels: batchLabels)
            }
        }
        let outputMetrics = shared.compactMap { name -> ValidationReport.OutputMetrics? in
            guard let s = outputs[name], s.comparable else { return nil }
            let rows = Double(Swift.max(s.rows, 1))
            return .init(name: name, rows: s.rows,
                         referenceTop1: labels == nil ? nil : Double(s.refCorrect) / rows,
                         candidateTop1: labels == nil ? nil : Double(s.candCorrect) / rows,
                         top1Agreement: Double(s.agree) / rows, cosine: s.cosine, sqnrDB: s.sqnr, maxAbsError: s.maxAbs)
        }
        let layerMetrics = layers.compactMap { name -> ValidationReport.LayerMetrics? in
            guard let s = layerStats.stats[name], s.comparable else { return nil }
            return .init(tensor: name, sqnrDB: s.sqnr, cosine: s.cosine, maxAbsError: s.maxAbs)
        }.sorted { ($0.sqnrDB ?? .infinity) < ($1.sqnrDB ?? .infinity) }
        return ValidationReport(reference: names.reference, candidate: names.candidate, data: data.source, samples: data.sampleCount,
                                labels: options.labels, outputs: outputMetrics, layers: layerMetrics,
                                seconds: Date().timeIntervalSince(start))
    }

    /// Top-1 accuracy of one model's first output on labelled data, as the engine computes it.
    public static func top1(model: Model, data: CalibrationDataSet, labels key: String, threads: Int? = nil) throws -> Double {
        let labels = try data.extra(named: key)
        guard labels.int64Values() != nil else {
            throw EdgeError.badInput("labels '\(key)' must be an integer array, got \(labels.dtype)", file: data.source)
        }
        guard let output = model.graph.outputs.first?.name else { throw EdgeError.badInput("the model has no outputs") }
        let session = try Session(model: model, options: threads.map { SessionOptions(threads: $0) } ?? SessionOptions())
        var acc = Accumulator()
        for (k, feed) in data.batches().enumerated() {
            guard let y = try session.run(feed)[output] else { continue }
            acc.add(y, y, labels: data.slice(extra: labels, batch: k).int64Values())
        }
        return Double(acc.refCorrect) / Double(Swift.max(acc.rows, 1))
    }
}
