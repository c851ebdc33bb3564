import EdgeIR
import Foundation

/// What an accuracy budget measures over the evaluation data, on every float output of the model
/// (the worst output counts; see `MetricEvaluator`).
public enum AccuracyMetric: String, Sendable, Codable, CaseIterable {
    /// Fraction of rows whose argmax equals the label (needs labels). Reference: the float model's top-1.
    case top1
    /// Fraction of rows whose argmax equals the float model's argmax. Reference: 1.
    case agreement
    /// Cosine similarity of all output values with the float model's, Σr·c / √(Σr²·Σc²). Reference: 1.
    case cosine
    /// Signal-to-quantization-noise ratio 10·log10(Σr² / Σ(r−c)²) in dB. No reference: the
    /// budget is a floor in dB.
    case sqnr

    public var needsLabels: Bool { self == .top1 }
}

/// How much worse than the float model a quantized model may be.
///
/// Syntax (`--max-accuracy-drop`): `0.5%` (also `0.5`, `0.5points`, as `edgeopt select` reads
/// it) is an absolute drop of 0.5 percentage points of the
/// metric (top-1 98.74% may fall to 98.24%; cosine 1 may fall to 0.995); `2%rel` is a drop of 2%
/// of the reference value (top-1 98.74% may fall to 96.77%). For `sqnr` the budget is a floor,
/// written `--min-sqnr 30` (dB), since the float model's own SQNR is infinite.
public struct AccuracyBudget: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Limit: Sendable, Codable, Equatable {
        /// Percentage points.
        case absolute(Double)
        /// Percent of the reference value.
        case relative(Double)
        /// dB (sqnr only).
        case minimumSQNR(Double)
    }
    public var metric: AccuracyMetric
    public var limit: Limit

    public init(metric: AccuracyMetric, limit: Limit) {
        self.metric = metric
        self.limit = limit
    }

    /// Parses `--max-accuracy-drop` text ("0.5%", "2%rel").
    public static func parseDrop(_ text: String, metric: AccuracyMetric) throws -> AccuracyBudget {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard metric != .sqnr else {
            throw EdgeError.badInput("--metric sqnr takes its budget as --min-sqnr DB (the float model's SQNR is infinite, so it has no drop)")
        }
        // "%", "points" or no unit: percentage points, as `edgeopt select --max-accuracy-drop` reads it.
        let relative = t.hasSuffix("%rel")
        var number = t
        for unit in ["%rel", "%", "points"] where number.hasSuffix(unit) {
            number = String(number.dropLast(unit.count))
            break
        }
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0, value <= 100 else {
            throw EdgeError.badInput("--max-accuracy-drop '\(text)': write N% (or N, N points) for N percentage points (e.g. 0.5%) or N%rel for N percent of the float model's value (e.g. 2%rel), N between 0 and 100")
        }
        return AccuracyBudget(metric: metric, limit: relative ? .relative(value) : .absolute(value))
    }

    /// The lowest metric value the budget accepts, given the float model's value.
    public func floor(reference: Double) -> Double {
        switch limit {
        case .absolute(let points): return reference - points / 100
        case .relative(let percent): return reference * (1 - percent / 100)
        case .minimumSQNR(let dB): return dB
        }
    }

    /// Whether `value` meets the budget. A 1e-12 slack absorbs the rounding of Σr·c/√(Σr²·Σc²)
    /// for identical outputs, so that a 0% budget is met by an exact model.
    public func isMet(_ value: Double, reference: Double) -> Bool {
        value >= floor(reference: reference) - 1e-12
    }

    public var description: String {
        switch limit {
        case .absolute(let p): return "\(metric.rawValue) drop ≤ \(Self.format(p)) points"
        case .relative(let p): return "\(metric.rawValue) drop ≤ \(Self.format(p))% of the float model's value"
        case .minimumSQNR(let dB): return "sqnr ≥ \(Self.format(dB)) dB"
        }
    }

    static func format(_ v: Double) -> String { String(format: "%g", v) }
}
