import EdgeIR
import Foundation

/// Agreement between a reference model and a candidate (e.g. its quantized form) on one data set.
public struct ValidationReport: Codable, Sendable, Equatable {
    public struct OutputMetrics: Codable, Sendable, Equatable {
        public var name: String
        /// Rows compared (samples × positions: the output's elements over its last axis).
        public var rows: Int
        /// Top-1 accuracy against the labels (fractions in [0, 1]); nil without labels.
        public var referenceTop1: Double?
        public var candidateTop1: Double?
        /// Fraction of rows whose argmax over the last axis agrees.
        public var top1Agreement: Double
        public var cosine: Double
        /// 10·log10(Σ ref² / Σ (ref − cand)²); +∞ (encoded as nil) when identical.
        public var sqnrDB: Double?
        public var maxAbsError: Double
    }
    public struct LayerMetrics: Codable, Sendable, Equatable {
        public var tensor: String
        public var sqnrDB: Double?
        public var cosine: Double
        public var maxAbsError: Double
    }

    public var reference: String
    public var candidate: String
    public var data: String
    public var samples: Int
    public var labels: String?
    public var outputs: [OutputMetrics]
    /// Intermediate tensors present in both models, worst SQNR first.
    public var layers: [LayerMetrics]
    public var seconds: Double
}

extension ValidationReport: RenderableReport {
    public var document: Document {
        var doc = Document(title: "Validation: \(candidate) against \(reference)")
        doc.sections.append(Section("Data", .keyValues([
            KeyValue("data set", data), KeyValue("samples", String(samples)),
            KeyValue("labels", labels ?? "none (top-1 agreement only)"),
            KeyValue("time", String(format: "%.2f s", seconds)),
        ])))
        var outputs = Table(columns: [.init("output"), .init("rows", .right), .init("ref top-1", .right), .init("cand top-1", .right),
                                      .init("top-1 agreement", .right), .init("cosine", .right), .init("SQNR dB", .right), .init("max abs error", .right)])
        for o in self.outputs {
            outputs.append([o.name, String(o.rows), o.referenceTop1.map(Self.percent) ?? "-", o.candidateTop1.map(Self.percent) ?? "-",
                            Self.percent(o.top1Agreement), String(format: "%.6f", o.cosine), Self.db(o.sqnrDB), String(format: "%.4g", o.maxAbsError)])
        }
        doc.sections.append(Section("Outputs", .table(outputs)))
        if !layers.isEmpty {
            var table = Table(columns: [.init("tensor (worst first)"), .init("SQNR dB", .right), .init("cosine", .right), .init("max abs error", .right)])
            for l in layers { table.append([l.tensor, Self.db(l.sqnrDB), String(format: "%.6f", l.cosine), String(format: "%.4g", l.maxAbsError)]) }
            doc.sections.append(Section("Per-layer attribution", .table(table)))
        } else {
            doc.sections.append(Section("Per-layer attribution", .lines(["no intermediate tensor names are shared by both models"])))
        }
        return doc
    }

    static func percent(_ v: Double) -> String { String(format: "%.2f%%", v * 100) }
    static func db(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "inf" }
}
