import EdgeIR
import Foundation

/// Accuracy of the model at one precision, measured by `edgeopt validate` (reference = the float
/// model, candidate = the model converted to that precision), so that `select` can rank and
/// filter on measured rather than assumed accuracy.
public struct MeasuredAccuracy: Sendable, Codable, Equatable {
    public enum Metric: String, Sendable, Codable {
        /// Top-1 against labels: accuracy = candidate top-1, drop = reference − candidate.
        case top1 = "top-1"
        /// No labels: accuracy = top-1 agreement with the reference, drop = 1 − agreement.
        case agreement = "top-1 agreement"
    }

    public var precision: Precision
    public var metric: Metric
    /// Fractions in [0, 1].
    public var accuracy: Double
    public var referenceAccuracy: Double
    /// Absolute loss against the float reference (0.005 = half a point); the worst over outputs.
    public var drop: Double
    /// The `validate` JSON it came from (nil for the float reference itself).
    public var source: String?

    public init(precision: Precision, metric: Metric, accuracy: Double, referenceAccuracy: Double, drop: Double, source: String?) {
        self.precision = precision
        self.metric = metric
        self.accuracy = accuracy
        self.referenceAccuracy = referenceAccuracy
        self.drop = drop
        self.source = source
    }

    /// The fields of `edgeopt validate --format json` this reads; the rest is ignored.
    struct ValidateDocument: Decodable {
        struct Output: Decodable {
            var name: String
            var referenceTop1: Double?
            var candidateTop1: Double?
            var top1Agreement: Double
        }
        var outputs: [Output]
    }

    /// Reads a `validate` JSON for `precision`. With labels the metric is top-1; without, top-1
    /// agreement. A model with several outputs is judged by its worst output.
    public static func load(path: String, precision: Precision) throws -> MeasuredAccuracy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EdgeError.badInput("\(path): cannot read the accuracy file")
        }
        let document: ValidateDocument
        do {
            document = try JSONDecoder().decode(ValidateDocument.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            let at = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw EdgeError.badInput("\(path): key '\(at)' is missing; expected the JSON of `edgeopt validate --format json`")
        } catch {
            throw EdgeError.badInput("\(path): not the JSON of `edgeopt validate --format json` (\(error.localizedDescription))")
        }
        guard !document.outputs.isEmpty else { throw EdgeError.badInput("\(path): key 'outputs' is empty") }
        let measured = document.outputs.map { o -> MeasuredAccuracy in
            if let reference = o.referenceTop1, let candidate = o.candidateTop1 {
                return MeasuredAccuracy(precision: precision, metric: .top1, accuracy: candidate, referenceAccuracy: reference,
                                        drop: max(0, reference - candidate), source: path)
            }
            return MeasuredAccuracy(precision: precision, metric: .agreement, accuracy: o.top1Agreement, referenceAccuracy: 1,
                                    drop: max(0, 1 - o.top1Agreement), source: path)
        }
        for m in measured where !(0...1).contains(m.accuracy) || !(0...1).contains(m.referenceAccuracy) {
            throw EdgeError.badInput("\(path): accuracy \(m.accuracy) is outside [0, 1]")
        }
        return measured.max { $0.drop < $1.drop }!
    }

    /// The float model is the reference: no drop, and its accuracy is the reference accuracy of
    /// any measurement that used labels.
    public static func reference(from others: [MeasuredAccuracy]) -> MeasuredAccuracy {
        if let labelled = others.first(where: { $0.metric == .top1 }) {
            return MeasuredAccuracy(precision: .fp32, metric: .top1, accuracy: labelled.referenceAccuracy,
                                    referenceAccuracy: labelled.referenceAccuracy, drop: 0, source: nil)
        }
        return MeasuredAccuracy(precision: .fp32, metric: .agreement, accuracy: 1, referenceAccuracy: 1, drop: 0, source: nil)
    }
}
