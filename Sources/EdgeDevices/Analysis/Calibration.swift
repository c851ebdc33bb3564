import EdgeAnalysis
import EdgeIR
import Foundation

/// The estimator against published latencies: `device-latency-calibration.csv` rows (device,
/// model, input, precision, batch, latency_ms, source) joined with `<model>_<input>.onnx` graphs.
public struct CalibrationRow: Sendable, Codable {
    public var device: String
    public var model: String
    public var input: Int
    public var precision: String
    public var publishedMs: Double
    public var estimatedMs: Double
    /// (estimated − published) / published × 100.
    public var errorPercent: Double
    public var source: String
    /// The fit's non-blocking notes (partition, streamed weights), which explain outliers.
    public var notes: [String]
}

public struct CalibrationReport: Sendable, Codable {
    public var rows: [CalibrationRow]
    public var medianAbsErrorPercent: Double
    /// Models measured on several devices whose estimated order differs from the published one.
    public var misordered: [String]
}

public enum Calibration {
    public static func run(csv path: String, models directory: String, catalog: ProfileCatalog) throws -> CalibrationReport {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw EdgeError.badInput("cannot read calibration table", file: path)
        }
        var lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        guard let header = lines.first?.split(separator: ",").map(String.init) else {
            throw EdgeError.badInput("empty calibration table", file: path)
        }
        lines.removeFirst()
        func column(_ name: String) throws -> Int {
            guard let i = header.firstIndex(of: name) else { throw EdgeError.badInput("no column '\(name)'", file: path) }
            return i
        }
        let (cd, cm, ci, cp, cl, cs) = (try column("device"), try column("model"), try column("input"),
                                        try column("precision"), try column("latency_ms"), try column("source"))
        var factsCache: [String: ModelFacts] = [:]
        var rows: [CalibrationRow] = []
        for (number, line) in lines.enumerated() {
            // The source column is last and may contain commas.
            let fields = line.split(separator: ",", maxSplits: header.count - 1, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == header.count, let input = Int(fields[ci]), let ms = Double(fields[cl]), ms > 0,
                  let precision = Precision(rawValue: fields[cp]) else {
                throw EdgeError.badInput("row \(number + 2): cannot parse '\(line)'", file: path)
            }
            let key = "\(fields[cm])_\(input)"
            let facts: ModelFacts
            if let f = factsCache[key] { facts = f } else {
                let modelPath = (directory as NSString).appendingPathComponent(key + ".onnx")
                let model = try ONNXReader.read(path: modelPath)
                facts = try ModelFacts(model: model, analysis: try ModelAnalysis(model: model))
                factsCache[key] = facts
            }
            let profile = try catalog.profile(named: fields[cd])
            let fit = try DeviceFit.analyze(facts, profile: profile, precision: .fixed(precision))
            guard let seconds = fit.latencySeconds else {
                throw EdgeError.badInput("row \(number + 2): \(profile.name) cannot run \(key) at \(precision.rawValue): \(fit.reasons.joined(separator: "; "))", file: path)
            }
            let est = seconds * 1000
            rows.append(CalibrationRow(device: fields[cd], model: key, input: input, precision: precision.rawValue,
                                       publishedMs: ms, estimatedMs: est, errorPercent: (est - ms) / ms * 100, source: fields[cs], notes: fit.notes))
        }
        let errors = rows.map { abs($0.errorPercent) }.sorted()
        let median = errors.isEmpty ? 0 : (errors.count % 2 == 1 ? errors[errors.count / 2]
                                             : (errors[errors.count / 2 - 1] + errors[errors.count / 2]) / 2)
        var misordered: [String] = []
        for model in Set(rows.map(\.model)).sorted() {
            let group = rows.filter { $0.model == model }
            guard group.count > 1 else { continue }
            // Every pair whose published latencies differ by more than 10% must be ordered the same way.
            for a in group { for b in group where a.publishedMs > b.publishedMs * 1.1 && a.estimatedMs <= b.estimatedMs {
                misordered.append("\(model): \(a.device) (\(a.publishedMs) ms) estimated faster than \(b.device) (\(b.publishedMs) ms)")
            } }
        }
        return CalibrationReport(rows: rows, medianAbsErrorPercent: median, misordered: misordered)
    }

    public static func table(_ report: CalibrationReport) -> String {
        var out = "device               model               precision  published ms  estimated ms  error %\n"
        for r in report.rows {
            func pad(_ t: String, _ n: Int) -> String { t.padding(toLength: max(n, t.count), withPad: " ", startingAt: 0) }
            out += pad(r.device, 20) + " " + pad(r.model, 19) + " " + pad(r.precision, 9)
            out += String(format: " %13.3f %13.3f %+8.1f\n", r.publishedMs, r.estimatedMs, r.errorPercent)
            for note in r.notes { out += "    note: \(note)\n" }
        }
        out += String(format: "median absolute error: %.1f%% over %d rows\n", report.medianAbsErrorPercent, report.rows.count)
        for m in report.misordered { out += "misordered: \(m)\n" }
        return out
    }
}
