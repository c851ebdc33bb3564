import Foundation

/// `edgeopt fit` output: a table for people (one row per device, reasons and notes underneath)
/// and JSON in base units (bytes, seconds, joules, watts, USD).
public enum FitRendering {
    public static func table(_ results: [FitResult], model: String) -> String {
        var out = "\(model)\n"
        let header = ["device", "precision", "fits", "ops on acc", "MACs on acc", "memory / limit", "on-chip / cache", "latency", "FPS", "energy"]
        var rows: [[String]] = []
        for r in results {
            let memory = r.memoryLimitBytes.map { "\(DeviceFit.formatBytes(r.memoryBytes)) / \(DeviceFit.formatBytes($0))" }
                ?? "\(DeviceFit.formatBytes(r.memoryBytes)) / host"
            let chip = r.onChipCapacityBytes.map { "\(DeviceFit.formatBytes(r.onChipWeightBytes ?? 0)) / \(DeviceFit.formatBytes($0))" } ?? "-"
            rows.append([r.device, r.precision, r.fits ? "yes" : "NO",
                         String(format: "%.0f%%", r.percentOpsOnAccelerator), String(format: "%.0f%%", r.percentMACsOnAccelerator),
                         memory, chip,
                         r.latencySeconds.map { String(format: "%.2f ms", $0 * 1000) } ?? "-",
                         r.fps.map { String(format: "%.0f", $0) } ?? "-",
                         r.energyJoules.map { String(format: "%.1f mJ", $0 * 1000) } ?? "-"])
        }
        let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }
        out += line(header)
        for (r, row) in zip(results, rows) {
            out += line(row)
            for reason in r.reasons { out += "    ✗ \(reason)\n" }
            for note in r.notes { out += "    · \(note)\n" }
        }
        out += "latency: batch 1, roofline per fused layer with each profile's efficiency factors, default power mode unless --power-mode; energy = mode watts × latency\n"
        return out
    }

    public static func json(_ results: [FitResult], model: String) throws -> String {
        struct Document: Encodable {
            var model: String
            var devices: [FitResult]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(Document(model: model, devices: results)), as: UTF8.self) + "\n"
    }
}
