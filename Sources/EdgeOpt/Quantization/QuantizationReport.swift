import EdgeCompression
import EdgeIR
import Foundation

/// What `edgeopt quantize` did: sizes, accuracy before and after, and the calibration summary.
public struct QuantizationReport: Codable, Sendable, Equatable {
    public var model: String
    public var output: String
    public var precision: String
    public var fileBytesBefore: Int
    public var fileBytesAfter: Int
    /// Top-1 on the evaluation data measured by edgeopt's engine (fractions; nil without --eval).
    public var top1Before: Double?
    public var top1After: Double?
    public var evaluation: String?
    public var summary: StaticQuantizationSummary
    /// Graph inputs and outputs that are integers (full-integer scheme), with their scale and zero point.
    public var integerIO: [IntegerIO.Boundary] = []

    public init(model: String, output: String, precision: String, fileBytesBefore: Int, fileBytesAfter: Int,
                top1Before: Double? = nil, top1After: Double? = nil, evaluation: String? = nil, summary: StaticQuantizationSummary) {
        self.model = model
        self.output = output
        self.precision = precision
        self.fileBytesBefore = fileBytesBefore
        self.fileBytesAfter = fileBytesAfter
        self.top1Before = top1Before
        self.top1After = top1After
        self.evaluation = evaluation
        self.summary = summary
    }

    public var weightCompression: Double {
        summary.weightBytesAfter > 0 ? Double(summary.weightBytesBefore) / Double(summary.weightBytesAfter) : 0
    }
}

extension QuantizationReport: RenderableReport {
    public var document: Document {
        let s = summary
        var doc = Document(title: "Quantized \(model) → \(output)")
        var rows = [
            KeyValue("precision", "\(precision), scheme \(s.scheme), method \(s.method)"),
            KeyValue("weights", "\(s.weightBytesBefore) → \(s.weightBytesAfter) bytes (\(String(format: "%.2f", weightCompression))× smaller)"),
            KeyValue("file", "\(fileBytesBefore) → \(fileBytesAfter) bytes"),
            KeyValue("quantized", "\(s.quantizedNodes) nodes, \(s.quantizedWeights) weights, \(s.quantizedBiases) biases, \(s.quantizedActivations) activations"),
            KeyValue("opset", s.opsetBefore == s.opsetAfter ? String(s.opsetAfter) : "\(s.opsetBefore) → \(s.opsetAfter)"),
            KeyValue("calibration", "\(s.calibrationSamples) samples in \(s.calibrationBatches) batches, \(String(format: "%.2f", s.calibrationSeconds)) s"),
            KeyValue("total time", String(format: "%.2f s", s.totalSeconds)),
        ]
        if let n = s.integerNodes {
            rows.append(KeyValue("qoperator", "\(n) integer ops, \(s.integerPassThroughNodes ?? 0) data-movement ops on integers, \(s.keptClamps ?? 0) clamps kept as DQ-Clip-Q"))
        }
        if let pairs = s.equalizedPairs {
            rows.append(KeyValue("equalization", "\(pairs) conv pairs in \(s.equalizationSweeps ?? 0) sweeps, ReLU6 \(s.relu6Replaced ?? 0) as Relu / \(s.relu6Skipped ?? 0) pairs skipped, float outputs change \(String(format: "%.2g", s.equalizationFloatError ?? 0)) (relative)"))
        }
        if let n = s.biasCorrectedLayers {
            rows.append(KeyValue("bias correction", "\(n) layers, largest shift \(String(format: "%.3g", s.biasCorrectionLargestShift ?? 0)) of the bias range"))
        }
        for b in integerIO {
            rows.append(KeyValue("\(b.isInput ? "input" : "output") \(b.tensor)", String(format: "%@, scale %.9g, zero point %d: %@", b.type.description, Double(b.scale), b.zeroPoint,
                                                                                     b.isInput ? "feed round(x / scale) + zero point" : "read (q − zero point) · scale")))
        }
        if let a = top1Before, let b = top1After {
            rows.append(KeyValue("top-1 (engine)", String(format: "%.2f%% → %.2f%% (%+.2f points) on %@", a * 100, b * 100, (b - a) * 100, evaluation ?? "")))
        }
        doc.sections.append(Section("Summary", .keyValues(rows)))
        var table = Table(columns: [.init("activation"), .init("min", .right), .init("max", .right), .init("scale", .right), .init("zero point", .right)])
        for r in s.ranges {
            table.append([r.tensor, String(format: "%.5g", r.min), String(format: "%.5g", r.max), String(format: "%.5g", r.scale), String(r.zeroPoint)])
        }
        doc.sections.append(Section("Calibrated activations", .table(table)))
        return doc
    }
}
