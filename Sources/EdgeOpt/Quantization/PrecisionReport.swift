import EdgeCompression
import EdgeIR
import Foundation

/// What `edgeopt quantize --precision fp16`, `--precision mixed` or `--precision int8
/// --max-accuracy-drop` did: sizes, the accuracy budget and its outcome, and per layer the
/// precision chosen and why.
public struct PrecisionReport: Codable, Sendable {
    public var model: String
    public var output: String
    public var precision: String
    public var fileBytesBefore: Int
    public var fileBytesAfter: Int
    public var weightBytesBefore: Int
    public var weightBytesAfter: Int
    /// The FP16 conversion of the output (all of it for fp16; the FP16 layers for mixed).
    public var fp16: FP16ConversionSummary?
    /// INT8 part of a budgeted run.
    public var quantization: StaticQuantizationSummary?
    public var budget: String?
    public var metric: String?
    public var evaluation: String?
    /// Metric values: the float model's, the all-INT8 model's and the written model's. Nil when
    /// not measured or +∞ (SQNR of an exact model).
    public var referenceValue: Double?
    public var int8Value: Double?
    public var finalValue: Double?
    /// The written model's metric per scored output (the worst one is `finalValue`).
    public var outputs: [MetricEvaluator.OutputScore] = []
    public var budgetMet: Bool?
    /// floor − value in the metric's units when the budget is not met.
    public var shortfall: Double?
    public var stoppedBy: String?
    public var layers: [MixedPrecisionResult.Layer] = []
    public var trials: [MixedPrecisionResult.Trial] = []
    public var seconds: Double

    public init(model: String, output: String, precision: String, fileBytesBefore: Int, fileBytesAfter: Int,
                weightBytesBefore: Int, weightBytesAfter: Int, seconds: Double) {
        self.model = model
        self.output = output
        self.precision = precision
        self.fileBytesBefore = fileBytesBefore
        self.fileBytesAfter = fileBytesAfter
        self.weightBytesBefore = weightBytesBefore
        self.weightBytesAfter = weightBytesAfter
        self.seconds = seconds
    }

    /// Fills the budget fields from a search result.
    public mutating func record(_ r: MixedPrecisionResult, evaluation: String) {
        quantization = r.quantization
        fp16 = r.fp16
        budget = r.budget.description
        metric = r.budget.metric.rawValue
        self.evaluation = evaluation
        referenceValue = finite(r.referenceValue)
        int8Value = finite(r.int8Value)
        finalValue = finite(r.finalValue)
        outputs = r.outputs
        budgetMet = r.met
        shortfall = r.met ? nil : finite(r.shortfall)
        stoppedBy = r.stoppedBy
        layers = r.layers
        trials = r.trials
    }

    func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }
}

extension PrecisionReport: RenderableReport {
    public var document: Document {
        var doc = Document(title: "Quantized \(model) → \(output) (\(precision))")
        let ratio = weightBytesAfter > 0 ? Double(weightBytesBefore) / Double(weightBytesAfter) : 0
        var rows = [
            KeyValue("weights", "\(weightBytesBefore) → \(weightBytesAfter) bytes (\(String(format: "%.2f", ratio))× smaller)"),
            KeyValue("file", "\(fileBytesBefore) → \(fileBytesAfter) bytes"),
        ]
        if let f = fp16 {
            var text = "\(f.convertedNodes) nodes FP16, \(f.convertedWeights) weights FP16, \(f.castsInserted) Casts"
            if !f.overflowingWeights.isEmpty { text += ", \(f.overflowingWeights.count) weights kept FP32 (beyond ±65504)" }
            if f.duplicatedWeights > 0 { text += ", \(f.duplicatedWeights) weights stored in both precisions" }
            rows.append(KeyValue("fp16", text))
        }
        if let metric {
            if let budget { rows.append(KeyValue("budget", budget)) }
            func show(_ v: Double?) -> String {
                guard let v else { return metric == "sqnr" ? "∞ dB" : "—" }
                switch metric {
                case "top1", "agreement": return String(format: "%.2f%%", v * 100)
                case "sqnr": return String(format: "%.2f dB", v)
                default: return String(format: "%.6f", v)
                }
            }
            rows.append(KeyValue("\(metric) (engine)", "float \(show(referenceValue))"
                                 + (int8Value != nil || (quantization != nil && metric == "sqnr") ? ", all INT8 \(show(int8Value))" : "")
                                 + ", written \(show(finalValue)) on \(evaluation ?? "")"
                                 + (outputs.count > 1 ? " (worst of \(outputs.count) outputs)" : "")))
            if outputs.count > 1 {
                for o in outputs { rows.append(KeyValue("  output \(o.output)", "float \(show(o.reference)), written \(show(o.value))")) }
            }
            if budget == nil {
            } else if budgetMet == true {
                rows.append(KeyValue("result", "budget met"))
            } else {
                let gap = shortfall.map { metric == "top1" || metric == "agreement" ? String(format: "%.2f points", $0 * 100)
                    : metric == "sqnr" ? String(format: "%.2f dB", $0) : String(format: "%.3g", $0) } ?? "?"
                rows.append(KeyValue("result", "BUDGET NOT MET: \(gap) short" + (stoppedBy.map { " (search stopped by the \($0))" } ?? "") + "; the best model found was written"))
            }
        }
        if !layers.isEmpty {
            let counts = Dictionary(grouping: layers, by: \.precision).mapValues(\.count)
            rows.append(KeyValue("layers", "\(counts[.int8] ?? 0) INT8, \(counts[.fp16] ?? 0) FP16, \(counts[.fp32] ?? 0) FP32"))
        }
        if !trials.isEmpty { rows.append(KeyValue("trials", String(trials.count))) }
        rows.append(KeyValue("total time", String(format: "%.2f s", seconds)))
        doc.sections.append(Section("Summary", .keyValues(rows)))

        if !layers.isEmpty {
            var table = Table(columns: [.init("layer"), .init("op"), .init("precision"), .init("INT8 SQNR dB", .right), .init("gain alone", .right), .init("reason")])
            for l in layers {
                let gain = l.gain.map { metric == "top1" || metric == "agreement" ? String(format: "%+.2f pt", $0 * 100) : String(format: "%+.4g", $0) } ?? "—"
                table.append([l.node, l.op, l.precision.rawValue.uppercased(), l.sqnrDB.map { String(format: "%.1f", $0) } ?? "—", gain, l.reason])
            }
            doc.sections.append(Section("Layers", .table(table)))
        }
        if !trials.isEmpty {
            var table = Table(columns: [.init("#", .right), .init("trial"), .init(metric ?? "value", .right), .init("meets", .left), .init("s", .right)])
            for (i, t) in trials.enumerated() {
                let v = t.value.map { metric == "top1" || metric == "agreement" ? String(format: "%.2f%%", $0 * 100) : String(format: "%.6g", $0) } ?? "∞"
                table.append([String(i + 1), t.description, v, t.met ? "yes" : "no", String(format: "%.2f", t.seconds)])
            }
            doc.sections.append(Section("Trials", .table(table)))
        }
        if let f = fp16, !f.float32Nodes.isEmpty, precision == "fp16" {
            var table = Table(columns: [.init("node"), .init("op"), .init("reason")])
            for k in f.float32Nodes { table.append([k.node, k.op, k.reason]) }
            doc.sections.append(Section("Nodes kept in FP32", .table(table)))
        }
        return doc
    }
}
