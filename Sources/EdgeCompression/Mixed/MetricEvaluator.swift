import EdgeIR
import EdgeRuntime
import Foundation

/// Scores candidate models against the float model on evaluation data, for an accuracy budget.
///
/// The float model runs once; its first output is kept per batch (the evaluation set is what the
/// user chose to score on, held once in memory like `.npz` data itself). Each candidate then runs
/// over the same batches and is scored in one streaming pass:
///   top-1 = #{argmax c = label} / rows,  agreement = #{argmax c = argmax r} / rows,
///   cosine = Σr·c / √(Σr²·Σc²),  SQNR = 10·log10(Σr² / Σ(r−c)²) (+∞ when identical),
/// argmax over the last axis (one row per sample for classifier logits).
public final class MetricEvaluator: @unchecked Sendable {
    // @unchecked: immutable after init; used from one thread at a time.
    public let metric: AccuracyMetric
    public let data: CalibrationDataSet
    let output: String
    let references: [[Float]]
    let labels: [[Int64]]?
    let width: Int
    let sessionOptions: SessionOptions
    /// The float model's own value (top-1 accuracy; 1 for agreement and cosine; +∞ for SQNR).
    public let referenceValue: Double

    public init(reference model: Model, data: CalibrationDataSet, metric: AccuracyMetric, labels key: String?, threads: Int?) throws {
        self.metric = metric
        self.data = data
        sessionOptions = threads.map { SessionOptions(threads: $0) } ?? SessionOptions()
        guard let first = model.graph.outputs.first?.name else { throw EdgeError.badInput("the model has no outputs") }
        output = first
        if metric.needsLabels {
            guard let key else { throw EdgeError.badInput("--metric top1 needs --labels (the integer label array of --eval)") }
            let all = try data.extra(named: key)
            guard all.int64Values() != nil else {
                throw EdgeError.badInput("labels '\(key)' must be an integer array, got \(all.dtype)", file: data.source)
            }
            labels = (0..<data.batchCount).map { data.slice(extra: all, batch: $0).int64Values() ?? [] }
        } else {
            labels = nil
        }
        let session = try Session(model: model, options: sessionOptions)
        var refs: [[Float]] = []
        var width = 0
        for feed in data.batches() {
            guard let y = try session.run(feed)[first], y.dtype == .float else {
                throw EdgeError.badInput("output '\(first)' of the float model is not a float tensor; the accuracy budget needs float outputs")
            }
            width = y.shape.last ?? 1
            refs.append(y.scalars())
        }
        references = refs
        self.width = max(width, 1)
        var correct = 0, rows = 0
        if let labels {
            for (k, r) in refs.enumerated() {
                for row in 0..<(r.count / self.width) {
                    if row < labels[k].count, Int64(Self.argmax(r, row * self.width, self.width)) == labels[k][row] { correct += 1 }
                    rows += 1
                }
            }
        }
        switch metric {
        case .top1: referenceValue = Double(correct) / Double(max(rows, 1))
        case .agreement, .cosine: referenceValue = 1
        case .sqnr: referenceValue = .infinity
        }
    }

    /// The metric's value for `candidate` (which must have the float model's first output name).
    public func score(_ candidate: Model) throws -> Double {
        let session = try Session(model: candidate, options: sessionOptions)
        var rr = 0.0, cc = 0.0, rc = 0.0, ee = 0.0
        var rows = 0, agree = 0, correct = 0
        for (k, feed) in data.batches().enumerated() {
            guard let t = try session.run(feed)[output] else {
                throw EdgeError.internalError("the candidate model did not produce output '\(output)'")
            }
            let c: [Float] = t.dtype == .float ? t.scalars() : t.doubleValues().map { Float($0) }
            let r = references[k]
            guard c.count == r.count else {
                throw EdgeError.internalError("the candidate's output '\(output)' has \(c.count) values, the float model's \(r.count)")
            }
            for i in r.indices {
                let x = Double(r[i]), y = Double(c[i]), e = x - y
                rr += x * x; cc += y * y; rc += x * y; ee += e * e
            }
            for row in 0..<(r.count / width) {
                let ca = Self.argmax(c, row * width, width)
                if ca == Self.argmax(r, row * width, width) { agree += 1 }
                if let labels, row < labels[k].count, Int64(ca) == labels[k][row] { correct += 1 }
                rows += 1
            }
        }
        switch metric {
        case .top1: return Double(correct) / Double(max(rows, 1))
        case .agreement: return Double(agree) / Double(max(rows, 1))
        case .cosine: return rr > 0 && cc > 0 ? rc / (rr * cc).squareRoot() : (rr == cc ? 1 : 0)
        case .sqnr: return ee == 0 ? .infinity : 10 * log10(max(rr, .leastNonzeroMagnitude) / ee)
        }
    }

    static func argmax(_ v: [Float], _ start: Int, _ count: Int) -> Int {
        var best = 0
        for k in 1..<max(count, 1) where v[start + k] > v[start + best] { best = k }
        return best
    }
}
