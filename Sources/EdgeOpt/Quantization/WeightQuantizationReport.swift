import EdgeCompression
import Foundation

/// What `edgeopt quantize` did in weight-only (`--precision int4`, `--precision int8 --weight-only`)
/// or dynamic (`--mode dynamic`) mode: sizes, per-layer results and, with --eval, top-1 before and
/// after measured by edgeopt's engine.
public struct WeightQuantizationReport: Codable, Sendable, Equatable {
    public var model: String
    public var output: String
    /// "int4 weight-only", "int8 weight-only" or "int8 dynamic".
    public var mode: String
    public var fileBytesBefore: Int
    public var fileBytesAfter: Int
    public var top1Before: Double?
    public var top1After: Double?
    public var evaluation: String?
    public var weightOnly: WeightOnlySummary?
    public var dynamic: DynamicQuantizationSummary?

    public init(model: String, output: String, mode: String, fileBytesBefore: Int, fileBytesAfter: Int,
                weightOnly: WeightOnlySummary? = nil, dynamic: DynamicQuantizationSummary? = nil) {
        self.model = model
        self.output = output
        self.mode = mode
        self.fileBytesBefore = fileBytesBefore
        self.fileBytesAfter = fileBytesAfter
        self.weightOnly = weightOnly
        self.dynamic = dynamic
    }
}

extension WeightQuantizationReport: RenderableReport {
    public var document: Document {
        var doc = Document(title: "Quantized \(model) → \(output)")
        func ratio(_ a: Int, _ b: Int) -> String { b > 0 ? String(format: "%.2f", Double(a) / Double(b)) : "-" }
        var rows = [KeyValue("mode", mode)]
        if let s = weightOnly {
            rows.append(KeyValue("scheme", "\(s.bits)-bit \(s.symmetric ? "symmetric" : "asymmetric"), block \(s.blockSize), \(s.algorithm), format \(s.format)"))
            rows.append(KeyValue("quantized weights", "\(s.quantizedBytesBefore) → \(s.quantizedBytesAfter) bytes (\(ratio(s.quantizedBytesBefore, s.quantizedBytesAfter))× smaller)"))
            rows.append(KeyValue("all weights", "\(s.weightBytesBefore) → \(s.weightBytesAfter) bytes (\(ratio(s.weightBytesBefore, s.weightBytesAfter))× smaller)"))
            rows.append(KeyValue("opset", s.opsetBefore == s.opsetAfter ? String(s.opsetAfter) : "\(s.opsetBefore) → \(s.opsetAfter)"))
            if let n = s.calibrationSamples {
                let passes = s.calibrationPasses.map { ", \($0) pass\($0 == 1 ? "" : "es")" } ?? ""
                rows.append(KeyValue("calibration", "\(n) samples\(passes), \(String(format: "%.2f", s.calibrationSeconds)) s"))
            }
            if let sequential = s.sequential {
                rows.append(KeyValue("GPTQ", "\(sequential ? "sequential (Hessians from the quantized prefix)" : "parallel (Hessians from the float model)")\(s.activationOrder == true ? ", act-order" : "")"))
            }
            rows.append(KeyValue("total time", String(format: "%.2f s", s.totalSeconds)))
        }
        if let s = dynamic {
            rows.append(KeyValue("scheme", "int8 weights \(s.perChannel ? "per column" : "per tensor"), uint8 activations quantized at run time"))
            rows.append(KeyValue("all weights", "\(s.weightBytesBefore) → \(s.weightBytesAfter) bytes (\(ratio(s.weightBytesBefore, s.weightBytesAfter))× smaller)"))
            rows.append(KeyValue("quantized", "\(s.quantizedNodes.count) nodes"))
            rows.append(KeyValue("opset", s.opsetBefore == s.opsetAfter ? String(s.opsetAfter) : "\(s.opsetBefore) → \(s.opsetAfter)"))
            rows.append(KeyValue("total time", String(format: "%.2f s", s.totalSeconds)))
        }
        rows.append(KeyValue("file", "\(fileBytesBefore) → \(fileBytesAfter) bytes"))
        if let a = top1Before, let b = top1After {
            rows.append(KeyValue("top-1 (engine)", String(format: "%.2f%% → %.2f%% (%+.2f points) on %@", a * 100, b * 100, (b - a) * 100, evaluation ?? "")))
        }
        doc.sections.append(Section("Summary", .keyValues(rows)))
        if let s = weightOnly {
            var table = Table(columns: [.init("node"), .init("op"), .init("weight"), .init("shape"), .init("axis", .right),
                                        .init("algorithm"), .init("format"), .init("RTN error", .right), .init("GPTQ error", .right)])
            for l in s.layers {
                table.append([l.node, l.opType, l.weight, l.shape.map(String.init).joined(separator: "×"), String(l.axis), l.algorithm, l.format,
                              l.rtnRelativeOutputError.map { String(format: "%.3g", $0) } ?? "-",
                              l.gptqRelativeOutputError.map { String(format: "%.3g", $0) } ?? "-"])
            }
            doc.sections.append(Section("Quantized weights (errors: ‖(W−Ŵ)X‖² / ‖WX‖² on the calibration inputs)", .table(table)))
        }
        let skipped = weightOnly?.skipped ?? dynamic?.skipped ?? []
        if !skipped.isEmpty {
            doc.sections.append(Section("Left in float", .lines(skipped.map { "\($0.node): \($0.reason)" })))
        }
        if let s = dynamic {
            doc.sections.append(Section("Quantized nodes", .lines(s.quantizedNodes)))
        }
        return doc
    }
}
