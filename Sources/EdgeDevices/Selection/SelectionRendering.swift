import Foundation

/// `edgeopt select` output: ranked devices, rejected devices with the constraint each broke, and
/// when nothing qualifies, the binding constraints. JSON carries the Pareto front too.
public enum SelectionRendering {
    public static func table(_ r: SelectionResult, model: String) -> String {
        var out = "\(model) — objective: \(r.objective.rawValue)\n"
        if r.ranked.isEmpty {
            out += "No device qualifies.\n"
            for b in r.binding { out += "  binding: \(b.text)\n" }
        } else {
            out += "rank  device                      precision  mode        latency    FPS     energy    power   price\n"
            for (i, c) in r.ranked.enumerated() {
                let f = c.fit
                func pad(_ t: String, _ n: Int) -> String { t.padding(toLength: max(n, t.count), withPad: " ", startingAt: 0) }
                out += pad("\(i + 1)", 5) + " " + pad(f.device, 27) + " " + pad(f.precision, 10) + " " + pad(f.powerMode, 11) + " "
                out += String(format: "%7.2f ms %7.0f %7.1f mJ %5.1f W  $%.0f\n", (f.latencySeconds ?? 0) * 1000, f.fps ?? 0,
                              (f.energyJoules ?? 0) * 1000, f.watts, f.priceUSD)
                out += "      recipe: \(f.recipe)\n"
                if let a = c.accuracy {
                    out += String(format: "      accuracy: %@ %.2f%% (drop %.2f points%@)\n", a.metric.rawValue, a.accuracy * 100, a.drop * 100,
                                  a.source.map { ", measured in \($0)" } ?? ", float reference")
                }
                for n in f.notes { out += "      · \(n)\n" }
            }
        }
        if !r.rejected.isEmpty {
            out += "rejected:\n"
            for c in r.rejected {
                out += "  \(c.fit.device) (\(c.fit.precision), \(c.fit.powerMode)): \(c.violations.map(\.text).joined(separator: "; "))\n"
            }
        }
        if !r.pareto.isEmpty {
            out += "Pareto front (latency, energy, price): \(r.pareto.map(\.fit.device).joined(separator: ", "))\n"
        }
        return out
    }

    public static func json(_ r: SelectionResult, model: String) throws -> String {
        struct Document: Encodable {
            var model: String
            var result: SelectionResult
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(Document(model: model, result: r)), as: UTF8.self) + "\n"
    }
}
