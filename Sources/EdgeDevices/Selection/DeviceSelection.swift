import Foundation

/// The user's constraints for `edgeopt select`; nil means unconstrained.
public struct SelectionConstraints: Sendable, Codable, Equatable {
    public var maxLatencySeconds: Double?
    public var minFPS: Double?
    public var maxWatts: Double?
    public var maxPriceUSD: Double?
    /// Minimum free fraction of usable device memory after loading (0.2 = 20%).
    public var minMemoryHeadroom: Double?
    /// Largest measured accuracy loss against the float model (0.01 = one point); needs
    /// measurements (`MeasuredAccuracy`) — a precision without one cannot qualify.
    public var maxAccuracyDrop: Double?

    public init(maxLatencySeconds: Double? = nil, minFPS: Double? = nil, maxWatts: Double? = nil,
                maxPriceUSD: Double? = nil, minMemoryHeadroom: Double? = nil, maxAccuracyDrop: Double? = nil) {
        self.maxLatencySeconds = maxLatencySeconds
        self.minFPS = minFPS
        self.maxWatts = maxWatts
        self.maxPriceUSD = maxPriceUSD
        self.minMemoryHeadroom = minMemoryHeadroom
        self.maxAccuracyDrop = maxAccuracyDrop
    }
}

public enum SelectionObjective: String, Sendable, Codable, CaseIterable {
    case latency, energy, price, balanced
    /// Smallest measured accuracy drop first; latency breaks ties.
    case accuracy
}

/// One constraint a candidate breaks, with the value it reached and the limit.
public struct Violation: Sendable, Codable, Equatable {
    public var constraint: String
    public var value: Double
    public var limit: Double
    public var text: String
}

public struct Candidate: Sendable, Codable {
    public var fit: FitResult
    public var violations: [Violation]
    public var score: Double?
    /// The measured accuracy of this configuration's precision, when one was given.
    public var accuracy: MeasuredAccuracy?
}

public struct BindingConstraint: Sendable, Codable {
    public var constraint: String
    /// The best value any deployable configuration reaches for this constraint, and the limit.
    public var best: Double
    public var limit: Double
    /// Relative change of the limit needed for that configuration (0.25 = 25% looser).
    public var relaxation: Double
    /// The configuration that would qualify if only this constraint were relaxed (nil when relaxing it alone is not enough).
    public var device: String?
    public var text: String
}

public struct SelectionResult: Sendable, Codable {
    public var objective: SelectionObjective
    public var constraints: SelectionConstraints
    /// Best qualifying configuration per device, best first.
    public var ranked: [Candidate]
    /// Devices with no qualifying configuration: the configuration that came closest and what it broke.
    public var rejected: [Candidate]
    /// Qualifying configurations no other qualifying one beats on latency, energy and price at once.
    public var pareto: [Candidate]
    /// When nothing qualifies: the constraints that bind, least relaxation first.
    public var binding: [BindingConstraint]
}

/// Chooses devices: every (device, precision, power mode) configuration is analysed by
/// `DeviceFit`; a configuration qualifies when it fits and meets every constraint; each device is
/// represented by its best qualifying configuration under the objective.
public enum DeviceSelection {
    public static func violations(_ fit: FitResult, _ c: SelectionConstraints, accuracy: MeasuredAccuracy? = nil) -> [Violation] {
        var v: [Violation] = []
        if let max = c.maxAccuracyDrop {
            if let a = accuracy {
                if a.drop > max {
                    v.append(Violation(constraint: "max-accuracy-drop", value: a.drop, limit: max,
                                       text: String(format: "%@ %@ drop %.2f points > %.2f", a.precision.rawValue, a.metric.rawValue, a.drop * 100, max * 100)))
                }
            } else {
                v.append(Violation(constraint: "accuracy-measured", value: 0, limit: 1,
                                   text: "no measured accuracy for \(fit.precision) (pass --accuracy \(fit.precision)=VALIDATE.json)"))
            }
        }
        if !fit.fits { v.append(Violation(constraint: "fits", value: 0, limit: 1, text: "does not fit: " + fit.reasons.joined(separator: "; "))) }
        if let max = c.maxLatencySeconds, let l = fit.latencySeconds, l > max {
            v.append(Violation(constraint: "max-latency", value: l, limit: max, text: String(format: "latency %.2f ms > %.2f ms", l * 1000, max * 1000)))
        }
        if let min = c.minFPS, let f = fit.fps, f < min {
            v.append(Violation(constraint: "min-fps", value: f, limit: min, text: String(format: "%.1f FPS < %.1f", f, min)))
        }
        if let max = c.maxWatts, fit.watts > max {
            v.append(Violation(constraint: "max-power", value: fit.watts, limit: max, text: String(format: "%.1f W (mode %@) > %.1f W", fit.watts, fit.powerMode, max)))
        }
        if let max = c.maxPriceUSD, fit.priceUSD > max {
            v.append(Violation(constraint: "max-price", value: fit.priceUSD, limit: max, text: String(format: "$%.0f > $%.0f", fit.priceUSD, max)))
        }
        if let min = c.minMemoryHeadroom, let h = fit.memoryHeadroom, h < min {
            v.append(Violation(constraint: "min-memory-headroom", value: h, limit: min, text: String(format: "memory headroom %.1f%% < %.1f%%", h * 100, min * 100)))
        }
        return v
    }

    static func objectiveValue(_ fit: FitResult, _ objective: SelectionObjective) -> Double {
        switch objective {
        case .latency: return fit.latencySeconds ?? .infinity
        case .energy: return fit.energyJoules ?? .infinity
        case .price: return fit.priceUSD + (fit.latencySeconds ?? 1) * 1e-6 // latency breaks price ties
        case .balanced, .accuracy: return .nan // needs the field or the measurement: see `select`
        }
    }

    /// `configurations` holds every analysed configuration, grouped by device in any order.
    /// `accuracy` holds measured accuracy per precision (see `MeasuredAccuracy`); fp32 defaults to
    /// the reference (no drop) when other precisions were measured.
    public static func select(_ configurations: [FitResult], constraints: SelectionConstraints,
                              objective: SelectionObjective, top: Int? = nil,
                              accuracy: [Precision: MeasuredAccuracy] = [:]) -> SelectionResult {
        var measured = accuracy
        if !measured.isEmpty, measured[.fp32] == nil {
            measured[.fp32] = MeasuredAccuracy.reference(from: measured.keys.sorted().map { measured[$0]! })
        }
        let candidates = configurations.map { fit -> Candidate in
            let a = Precision(rawValue: fit.precision).flatMap { measured[$0] }
            return Candidate(fit: fit, violations: violations(fit, constraints, accuracy: a), score: nil, accuracy: a)
        }
        let qualifying = candidates.filter { $0.violations.isEmpty }
        // Balanced: geometric mean of latency, energy and price, each relative to the best qualifying value.
        let bestL = qualifying.compactMap(\.fit.latencySeconds).min() ?? 1
        let bestE = qualifying.compactMap(\.fit.energyJoules).min() ?? 1
        let bestP = qualifying.map(\.fit.priceUSD).min() ?? 1
        func score(_ c: Candidate) -> Double {
            let f = c.fit
            switch objective {
            case .balanced:
                return pow((f.latencySeconds ?? .infinity) / bestL * (f.energyJoules ?? .infinity) / bestE * f.priceUSD / bestP, 1.0 / 3)
            case .accuracy:
                // Drop in points dominates; latency (seconds, ≪ 1 point) only breaks ties. Unmeasured last.
                return (c.accuracy?.drop ?? 1) * 1000 + (f.latencySeconds ?? 1)
            default:
                return objectiveValue(f, objective)
            }
        }
        var bestPerDevice: [String: Candidate] = [:]
        for var c in qualifying {
            c.score = score(c)
            if let old = bestPerDevice[c.fit.device], old.score! <= c.score! { continue }
            bestPerDevice[c.fit.device] = c
        }
        var ranked = bestPerDevice.values.sorted { ($0.score!, $0.fit.device) < ($1.score!, $1.fit.device) }
        if let top { ranked = Array(ranked.prefix(top)) }

        var rejected: [Candidate] = []
        for device in Array(Set(candidates.map(\.fit.device))).sorted() where bestPerDevice[device] == nil {
            // The closest configuration: fewest broken constraints, then the objective.
            let own = candidates.filter { $0.fit.device == device }
            if let closest = own.min(by: { ($0.violations.count, objectiveValue($0.fit, .latency)) < ($1.violations.count, objectiveValue($1.fit, .latency)) }) {
                rejected.append(closest)
            }
        }
        let pareto = bestPerDevice.values.filter { a in
            !bestPerDevice.values.contains { b in
                guard let la = a.fit.latencySeconds, let lb = b.fit.latencySeconds, let ea = a.fit.energyJoules, let eb = b.fit.energyJoules else { return false }
                let noWorse = lb <= la && eb <= ea && b.fit.priceUSD <= a.fit.priceUSD
                let better = lb < la || eb < ea || b.fit.priceUSD < a.fit.priceUSD
                return noWorse && better
            }
        }.sorted { ($0.fit.latencySeconds ?? 0) < ($1.fit.latencySeconds ?? 0) }
        let binding = ranked.isEmpty ? bindingConstraints(candidates) : []
        return SelectionResult(objective: objective, constraints: constraints, ranked: ranked, rejected: rejected,
                               pareto: pareto, binding: binding)
    }

    /// For each constraint: relaxing only it, which deployable configuration qualifies with the
    /// smallest relative change of the limit. Constraints that cannot be rescued alone report the
    /// best value any deployable configuration reaches.
    static func bindingConstraints(_ candidates: [Candidate]) -> [BindingConstraint] {
        let deployable = candidates.filter { $0.fit.fits }
        guard !deployable.isEmpty else {
            return [BindingConstraint(constraint: "fits", best: 0, limit: 1, relaxation: .infinity, device: nil,
                                      text: "no device can run the model (see the rejected list)")]
        }
        func relaxation(_ v: Violation) -> Double {
            // Upper limits (latency, power, price) must grow; lower limits (FPS, headroom) shrink.
            let upper = ["max-latency", "max-power", "max-price", "max-accuracy-drop"].contains(v.constraint)
            return upper ? v.value / max(v.limit, 1e-12) - 1 : 1 - v.value / max(v.limit, 1e-12)
        }
        var result: [BindingConstraint] = []
        let names = Array(Set(deployable.flatMap { $0.violations.map(\.constraint) })).sorted()
        for name in names {
            let rescuable = deployable.filter { $0.violations.count == 1 && $0.violations[0].constraint == name }
            if let best = rescuable.min(by: { relaxation($0.violations[0]) < relaxation($1.violations[0]) }) {
                let v = best.violations[0]
                if name == "accuracy-measured" {
                    // Not a limit to loosen: the missing input is a measurement.
                    result.append(BindingConstraint(constraint: name, best: 0, limit: 1, relaxation: 0,
                                                    device: "\(best.fit.device) \(best.fit.precision) \(best.fit.powerMode)",
                                                    text: "\(name): \(v.text) — with it, \(best.fit.device) (\(best.fit.precision), \(best.fit.powerMode)) may qualify"))
                    continue
                }
                result.append(BindingConstraint(constraint: name, best: v.value, limit: v.limit, relaxation: relaxation(v),
                                                device: "\(best.fit.device) \(best.fit.precision) \(best.fit.powerMode)",
                                                text: String(format: "%@: %@ — relaxing it by %.0f%% admits %@ (%@, %@)", name, v.text,
                                                             relaxation(v) * 100, best.fit.device, best.fit.precision, best.fit.powerMode)))
            } else {
                let all = deployable.compactMap { c in c.violations.first { $0.constraint == name } }
                if let v = all.min(by: { relaxation($0) < relaxation($1) }) {
                    result.append(BindingConstraint(constraint: name, best: v.value, limit: v.limit, relaxation: relaxation(v), device: nil,
                                                    text: String(format: "%@: closest %@ (relaxing it alone is not enough)", name, v.text)))
                }
            }
        }
        return result.sorted { ($0.device == nil ? 1 : 0, $0.relaxation) < ($1.device == nil ? 1 : 0, $1.relaxation) }
    }
}
