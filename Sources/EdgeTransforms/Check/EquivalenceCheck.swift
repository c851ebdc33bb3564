import EdgeIR
import EdgeRuntime

/// Proves a rewritten model computes what the original computes: runs the engine on both with the
/// same feeds (seeded random inputs plus any data the caller gives) and compares every output.
///
/// Error measure, per output: `max|a − b| / max|b|` (b the reference; the ∞-norm relative error).
/// It is relative to the output's own scale, so reassociated sums near zero (exactly where an
/// elementwise relative error explodes) are judged against the magnitude the output actually has.
/// Integer and bool outputs must match exactly; NaNs must sit in the same places; shapes and
/// element types must be equal.
public final class EquivalenceCheck: @unchecked Sendable {
    // @unchecked: the reference outputs are computed once in init and only read afterwards.
    public let tolerance: Double
    public let feeds: [[String: Tensor]]
    public let reference: [[String: Tensor]]
    public let options: SessionOptions

    /// One thread, so the reference outputs do not depend on the core count (a check builds and
    /// drops a session per candidate; releasing multi-threaded sessions is safe since ef89bbd).
    /// The engine's own compile-time Conv+BatchNorm folding is off: with it on, the reference
    /// would already compute W·γ/√(σ²+ε) exactly as FoldBatchNormIntoConv does, and the check
    /// could not see the rounding that pass introduces. Every node runs as written.
    public static let defaultOptions: SessionOptions = {
        var options = SessionOptions(threads: 1)
        options.fuseKernels = false
        return options
    }()

    /// - Parameters:
    ///   - data: extra feed sets (e.g. from `--data file.npz`); inputs they lack are random.
    ///   - randomSets: how many seeded random feed sets to add.
    public init(reference model: Model, tolerance: Double = 1e-5, seed: UInt64 = 0, randomSets: Int = 1,
                data: [[String: Tensor]] = [], dims: [String: Int] = [:], options: SessionOptions = EquivalenceCheck.defaultOptions) throws {
        self.tolerance = tolerance
        self.options = options
        // Symbolic dimensions the data pins (e.g. seq = 32 for a traced transformer) size the random
        // inputs too, unless the caller gave them.
        var dims = dims
        for set in data {
            for input in model.graph.runtimeInputs {
                guard let t = set[input.name], let shape = input.tensorType?.shape, shape.count == t.rank else { continue }
                for (k, d) in shape.enumerated() { if case .symbolic(let s) = d, dims[s] == nil { dims[s] = t.shape[k] } }
            }
        }
        var feeds: [[String: Tensor]] = []
        for k in 0..<randomSets {
            feeds.append(try RandomInputs.make(for: model.graph, seed: seed &+ UInt64(k), dims: dims))
        }
        let names = Set(model.graph.runtimeInputs.map(\.name))
        for (k, set) in data.enumerated() {
            var feed = try RandomInputs.make(for: model.graph, seed: seed &+ 1000 &+ UInt64(k), dims: dims)
            for (name, t) in set where names.contains(name) { feed[name] = t }
            feeds.append(feed)
        }
        self.feeds = feeds
        let session = try Session(model: model, options: options)
        self.reference = try feeds.map { try session.run($0) }
    }

    /// The outcome of comparing one candidate.
    public struct Outcome: Sendable, Equatable {
        /// Largest error over all outputs and feed sets (see the type's documentation).
        public var maxError: Double
        /// Output with the largest error.
        public var worstOutput: String?
        /// Why the candidate failed outright (shape/type mismatch, engine error), if it did.
        public var failure: String?
        public var tolerance: Double
        public var passed: Bool { failure == nil && maxError <= tolerance }
        public var summary: String {
            if let failure { return failure }
            let e = maxError.formatted(sig: 3)
            return passed ? "max relative error \(e)" : "output '\(worstOutput ?? "?")' differs: relative error \(e) > \(tolerance)"
        }
    }

    /// Runs `candidate` on the same feeds and compares with the reference outputs. Engine errors on
    /// the candidate are a failed check (a rewrite must not produce a model the engine rejects).
    public func compare(_ candidate: Model) -> Outcome {
        var outcome = Outcome(maxError: 0, worstOutput: nil, failure: nil, tolerance: tolerance)
        let session: Session
        do {
            session = try Session(model: candidate, options: options)
        } catch {
            outcome.failure = "the engine cannot run the rewritten model: \(error)"
            return outcome
        }
        for (k, feed) in feeds.enumerated() {
            let result: [String: Tensor]
            do {
                result = try session.run(feed)
            } catch {
                outcome.failure = "the rewritten model fails to run: \(error)"
                return outcome
            }
            for (name, expected) in reference[k] {
                guard let actual = result[name] else {
                    outcome.failure = "output '\(name)' is missing from the rewritten model"
                    return outcome
                }
                let error = EquivalenceCheck.relativeError(actual, expected)
                if error > outcome.maxError || outcome.worstOutput == nil {
                    outcome.worstOutput = name
                    outcome.maxError = max(outcome.maxError, error)
                }
                if error.isInfinite && (actual.shape != expected.shape || actual.dtype != expected.dtype) {
                    outcome.failure = "output '\(name)' is \(actual.dtype)\(actual.shape), expected \(expected.dtype)\(expected.shape)"
                    return outcome
                }
            }
        }
        return outcome
    }

    /// `max|a − b| / max|b|` (0 when both are all zero); +∞ for any type/shape mismatch, an
    /// unequal integer element, or NaNs in different places.
    public static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        guard a.dtype == b.dtype, a.shape == b.shape else { return .infinity }
        if a.dtype == .string { return a.strings == b.strings ? 0 : .infinity }
        if !a.dtype.isFloatingPoint { return a == b ? 0 : .infinity }
        let x = a.doubleValues(), y = b.doubleValues()
        var maxDiff = 0.0, scale = 0.0
        for i in 0..<x.count {
            if x[i].isNaN || y[i].isNaN {
                if x[i].isNaN != y[i].isNaN { return .infinity }
                continue
            }
            if x[i].isInfinite || y[i].isInfinite {
                if x[i] != y[i] { return .infinity }
                continue
            }
            maxDiff = max(maxDiff, abs(x[i] - y[i]))
            scale = max(scale, abs(y[i]))
        }
        if maxDiff == 0 { return 0 }
        return scale == 0 ? .infinity : maxDiff / scale
    }
}

extension Double {
    /// Short scientific rendering for reports, e.g. 3.1e-07.
    func formatted(sig: Int) -> String {
        if self == 0 { return "0" }
        if !isFinite { return "\(self)" }
        let exponent = Int((Swift.abs(self)).log10Floor)
        let mantissa = self / pow10(exponent)
        let rounded = (mantissa * pow10(sig - 1)).rounded() / pow10(sig - 1)
        return "\(rounded)e\(exponent >= 0 ? "+" : "")\(exponent)"
    }
    private var log10Floor: Double {
        var e = 0.0, v = self
        while v >= 10 { v /= 10; e += 1 }
        while v < 1 { v *= 10; e -= 1 }
        return e
    }
    private func pow10(_ e: Int) -> Double {
        var r = 1.0
        if e >= 0 { for _ in 0..<e { r *= 10 } } else { for _ in 0..<(-e) { r /= 10 } }
        return r
    }
}
