import EdgeIR
import EdgeRuntime
import Foundation

/// Scores candidate models against the float model on evaluation data, for an accuracy budget.
///
/// Every float output of the model is scored (for top-1, every float output with one row per
/// label), and the worst one counts: a quantized model must keep every output within the budget.
/// The float model runs once; its outputs are kept per batch (the evaluation set is what the
/// user chose to score on, held once in memory like `.npz` data itself). Each candidate then runs
/// over the same batches and is scored in one streaming pass, per output:
///   top-1 = #{argmax c = label} / rows,  agreement = #{argmax c = argmax r} / rows,
///   cosine = Σr·c / √(Σr²·Σc²),  SQNR = 10·log10(Σr² / Σ(r−c)²) (+∞ when identical),
/// argmax over the last axis (one row per sample for classifier logits).
///
/// The worst output: agreement, cosine and SQNR have the same reference for every output (1, 1,
/// +∞), so it is the lowest value. Top-1 references differ per output, so the worst is the largest
/// drop, reported on the lowest reference: value = min_o ref_o − max_o (ref_o − value_o). An
/// absolute budget then holds iff it holds for every output; a relative one is checked against the
/// lowest reference (at least as strict as per output).
public final class MetricEvaluator: @unchecked Sendable {
    // @unchecked: immutable after init; used from one thread at a time.
    public let metric: AccuracyMetric
    public let data: CalibrationDataSet
    /// The outputs scored, in graph order.
    public let outputs: [String]
    let references: [[[Float]]]  // [output][batch]
    let labels: [[Int64]]?
    let widths: [Int]
    let sessionOptions: SessionOptions
    /// The float model's own value per output (top-1 accuracy; 1 for agreement and cosine; +∞ for SQNR).
    public let referenceValues: [Double]
    /// The float model's value the worst output is reported on (the lowest of `referenceValues`).
    public var referenceValue: Double { referenceValues.min() ?? 0 }

    /// One output's metric on a candidate, next to the float model's.
    public struct OutputScore: Sendable, Codable, Equatable {
        public var output: String
        /// Nil when +∞ (SQNR of identical values).
        public var value: Double?
        public var reference: Double?
    }

    public init(reference model: Model, data: CalibrationDataSet, metric: AccuracyMetric, labels key: String?, threads: Int?) throws {
        self.metric = metric
        self.data = data
        sessionOptions = threads.map { SessionOptions(threads: $0) } ?? SessionOptions()
        guard !model.graph.outputs.isEmpty else { throw EdgeError.badInput("the model has no outputs") }
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
        let names = model.graph.outputs.map(\.name)
        var refs = [[[Float]]](repeating: [], count: names.count)
        var widths = [Int](repeating: 1, count: names.count)
        var usable = [Bool](repeating: true, count: names.count)
        for (k, feed) in data.batches().enumerated() {
            let results = try session.run(feed)
            for (o, name) in names.enumerated() where usable[o] {
                guard let y = results[name], y.dtype == .float else { usable[o] = false; continue }
                widths[o] = max(y.shape.last ?? 1, 1)
                let values: [Float] = y.scalars()
                // Top-1 scores the outputs with one row per label.
                if let labels, values.count / widths[o] != labels[k].count { usable[o] = false; continue }
                refs[o].append(values)
            }
        }
        let kept = names.indices.filter { usable[$0] }
        guard !kept.isEmpty else {
            throw EdgeError.badInput(metric.needsLabels
                ? "no float output of the model has one row per label of '\(key ?? "")'; top-1 needs classifier outputs"
                : "the model has no float output; the accuracy budget needs float outputs")
        }
        outputs = kept.map { names[$0] }
        references = kept.map { refs[$0] }
        self.widths = kept.map { widths[$0] }
        var values: [Double] = []
        for (o, r) in references.enumerated() {
            switch metric {
            case .top1:
                var correct = 0, rows = 0
                for (k, batch) in r.enumerated() {
                    for row in 0..<(batch.count / self.widths[o]) {
                        if row < labels![k].count, Int64(Self.argmax(batch, row * self.widths[o], self.widths[o])) == labels![k][row] { correct += 1 }
                        rows += 1
                    }
                }
                values.append(Double(correct) / Double(max(rows, 1)))
            case .agreement, .cosine: values.append(1)
            case .sqnr: values.append(.infinity)
            }
        }
        referenceValues = values
    }

    /// The metric's value for `candidate` (which must have the float model's output names): the
    /// worst output's (see the type's comment).
    public func score(_ candidate: Model) throws -> Double { try scores(candidate).worst }

    /// The worst output's value and every output's.
    public func scores(_ candidate: Model) throws -> (worst: Double, perOutput: [OutputScore]) {
        let session = try Session(model: candidate, options: sessionOptions)
        let n = outputs.count
        var rr = [Double](repeating: 0, count: n), cc = rr, rc = rr, ee = rr
        var rows = [Int](repeating: 0, count: n), agree = rows, correct = rows
        for (k, feed) in data.batches().enumerated() {
            let results = try session.run(feed)
            for (o, output) in outputs.enumerated() {
                guard let t = results[output] else {
                    throw EdgeError.internalError("the candidate model did not produce output '\(output)'")
                }
                let c: [Float] = t.dtype == .float ? t.scalars() : t.doubleValues().map { Float($0) }
                let r = references[o][k]
                guard c.count == r.count else {
                    throw EdgeError.internalError("the candidate's output '\(output)' has \(c.count) values, the float model's \(r.count)")
                }
                for i in r.indices {
                    let x = Double(r[i]), y = Double(c[i]), e = x - y
                    rr[o] += x * x; cc[o] += y * y; rc[o] += x * y; ee[o] += e * e
                }
                let width = widths[o]
                for row in 0..<(r.count / width) {
                    let ca = Self.argmax(c, row * width, width)
                    if ca == Self.argmax(r, row * width, width) { agree[o] += 1 }
                    if let labels, row < labels[k].count, Int64(ca) == labels[k][row] { correct[o] += 1 }
                    rows[o] += 1
                }
            }
        }
        var values: [Double] = []
        for o in 0..<n {
            switch metric {
            case .top1: values.append(Double(correct[o]) / Double(max(rows[o], 1)))
            case .agreement: values.append(Double(agree[o]) / Double(max(rows[o], 1)))
            case .cosine: values.append(rr[o] > 0 && cc[o] > 0 ? rc[o] / (rr[o] * cc[o]).squareRoot() : (rr[o] == cc[o] ? 1 : 0))
            case .sqnr: values.append(ee[o] == 0 ? .infinity : 10 * log10(max(rr[o], .leastNonzeroMagnitude) / ee[o]))
            }
        }
        let worst: Double
        if metric == .top1 {
            worst = referenceValue - zip(referenceValues, values).map { $0 - $1 }.max()!
        } else {
            worst = values.min()!
        }
        let perOutput = (0..<n).map { o in
            OutputScore(output: outputs[o], value: values[o].isFinite ? values[o] : nil,
                        reference: referenceValues[o].isFinite ? referenceValues[o] : nil)
        }
        return (worst, perOutput)
    }

    static func argmax(_ v: [Float], _ start: Int, _ count: Int) -> Int {
        var best = 0
        for k in 1..<max(count, 1) where v[start + k] > v[start + best] { best = k }
        return best
    }
}
