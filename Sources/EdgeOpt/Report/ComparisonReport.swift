import Foundation

/// `edgeopt report MODEL --baseline OTHER`: both reports side by side with deltas
/// (model − baseline) and ratios (baseline ÷ model, so 4.00× means the model is four times
/// smaller or cheaper than its baseline).
public struct ComparisonReport: Codable, Sendable, Equatable, RenderableReport {
    public static let schema = "edgeopt.report-comparison/1"

    public struct Metric: Codable, Sendable, Equatable {
        public var name: String
        public var baseline: Int
        public var model: Int
        public var delta: Int
        /// baseline ÷ model; null when the model's value is 0.
        public var ratio: Double?

        private enum CodingKeys: String, CodingKey { case name, baseline, model, delta, ratio }

        public init(name: String, baseline: Int, model: Int, delta: Int, ratio: Double?) {
            self.name = name
            self.baseline = baseline
            self.model = model
            self.delta = delta
            self.ratio = ratio
        }

        /// Writes `ratio` as an explicit null rather than leaving the key out, so every metric
        /// has the same keys.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(baseline, forKey: .baseline)
            try c.encode(model, forKey: .model)
            try c.encode(delta, forKey: .delta)
            try c.encode(ratio, forKey: .ratio)
        }
    }

    public struct OpDelta: Codable, Sendable, Equatable {
        public var op: String
        public var baseline: Int
        public var model: Int
        public var delta: Int
    }

    public var schema: String = ComparisonReport.schema
    public var baseline: ModelReport
    public var model: ModelReport
    public var metrics: [Metric]
    /// Op types whose count differs.
    public var opDeltas: [OpDelta]

    public init(model: ModelReport, baseline: ModelReport) {
        self.model = model
        self.baseline = baseline
        func metric(_ name: String, _ value: (ModelReport) -> Int) -> Metric {
            let b = value(baseline), m = value(model)
            return Metric(name: name, baseline: b, model: m, delta: m - b, ratio: m == 0 ? nil : Double(b) / Double(m))
        }
        metrics = [
            metric("fileBytes") { $0.model.fileBytes + $0.model.externalDataBytes },
            metric("parameters") { $0.parameters.count },
            metric("parameterBytes") { $0.parameters.bytes },
            metric("weightBytes") { $0.parameters.bytes + $0.parameters.constantBytes },
            metric("macs") { $0.compute.macs },
            metric("flops") { $0.compute.flops },
            metric("peakLiveBytes") { $0.memory.peakLiveBytes },
            metric("arenaBytes") { $0.memory.arenaBytes },
            metric("naiveActivationBytes") { $0.memory.naiveBytes },
            metric("nodes") { $0.nodeCount },
        ]
        let ops = Set(model.opCounts.keys).union(baseline.opCounts.keys).sorted()
        opDeltas = ops.compactMap { op in
            let b = baseline.opCounts[op] ?? 0, m = model.opCounts[op] ?? 0
            return b == m ? nil : OpDelta(op: op, baseline: b, model: m, delta: m - b)
        }
    }

    public var document: Document {
        let name = { (r: ModelReport) in (r.model.path as NSString).lastPathComponent }
        var doc = Document(title: "Model comparison: \(name(model)) vs baseline \(name(baseline))")
        var t = Table(columns: [.init("metric"), .init("baseline", .right), .init("model", .right),
                                .init("delta", .right), .init("ratio", .right)])
        for m in metrics {
            let format: (Int) -> String
            switch m.name {
            case "fileBytes", "parameterBytes", "weightBytes", "peakLiveBytes", "arenaBytes", "naiveActivationBytes": format = Units.bytes
            case "macs": format = Units.macs
            case "flops": format = Units.flops
            default: format = Units.grouped
            }
            t.append([Self.label[m.name] ?? m.name, format(m.baseline), format(m.model), Units.delta(m.delta, format),
                      m.ratio.map { String(format: "%.2f×", $0) } ?? "—"])
        }
        doc.sections.append(Section("Side by side (ratio = baseline ÷ model)", .table(t)))
        if !opDeltas.isEmpty {
            var ops = Table(columns: [.init("op"), .init("baseline", .right), .init("model", .right), .init("delta", .right)])
            for d in opDeltas { ops.append([d.op, String(d.baseline), String(d.model), d.delta > 0 ? "+\(d.delta)" : String(d.delta)]) }
            doc.sections.append(Section("Operator count changes", .table(ops)))
        }
        var dtypes = Table(columns: [.init("dtype"), .init("baseline", .right), .init("model", .right)])
        let names = Set(model.bytesByDType.map(\.dtype)).union(baseline.bytesByDType.map(\.dtype)).sorted()
        for d in names {
            let b = baseline.bytesByDType.first { $0.dtype == d }?.bytes ?? 0
            let m = model.bytesByDType.first { $0.dtype == d }?.bytes ?? 0
            dtypes.append([d, Units.bytes(b), Units.bytes(m)])
        }
        doc.sections.append(Section("Weight bytes by dtype", .table(dtypes)))
        return doc
    }

    static let label = [
        "fileBytes": "file size", "parameters": "parameters", "parameterBytes": "parameter bytes",
        "weightBytes": "weight bytes", "macs": "MACs", "flops": "FLOPs", "peakLiveBytes": "peak activations",
        "arenaBytes": "activation arena", "naiveActivationBytes": "naive activation sum", "nodes": "nodes",
    ]
}
