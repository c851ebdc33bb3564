import EdgeIR

/// How a calibrated tensor's range is chosen from what the observers saw.
public enum CalibrationMethod: Sendable, Equatable, Codable {
    /// Observed minimum and maximum.
    case minMax
    /// Keep this percentage of values (e.g. 99.99), clip the rest (`PercentileMethod`).
    case percentile(Double)
    /// TensorRT's KL-divergence threshold (`EntropyMethod`).
    case entropy
    /// Smallest expected squared quantization error (`MSEMethod`).
    case mse

    public var name: String {
        switch self {
        case .minMax: return "minmax"
        case .percentile(let p): return "percentile(\(p))"
        case .entropy: return "entropy"
        case .mse: return "mse"
        }
    }

    /// Parses `minmax`, `percentile` (99.99), `percentile:99.9`, `entropy`, `mse`.
    public static func parse(_ text: String) throws -> CalibrationMethod {
        let lower = text.lowercased()
        switch lower {
        case "minmax", "min-max": return .minMax
        case "percentile": return .percentile(99.99)
        case "entropy", "kl": return .entropy
        case "mse": return .mse
        default:
            if lower.hasPrefix("percentile:"), let p = Double(lower.dropFirst("percentile:".count)), p > 0, p <= 100 {
                return .percentile(p)
            }
            throw EdgeError.badInput("unknown calibration method '\(text)' (minmax, percentile[:P], entropy, mse)")
        }
    }

    var needsHistogram: Bool { self != .minMax }

    /// The range for one tensor from its statistics.
    func range(_ stats: TensorStatistics, scheme: QuantizationScheme) -> ClosedRange<Float> {
        switch self {
        case .minMax: return stats.minMax.range
        case .percentile(let p):
            return stats.histogram.map { PercentileMethod.range($0, percentile: p, symmetric: scheme.symmetricActivations) } ?? stats.minMax.range
        case .entropy:
            guard let h = stats.histogram else { return stats.minMax.range }
            return EntropyMethod.range(h, quantizedBins: h.isNonNegative ? scheme.oneSidedSteps + 1 : 128)
        case .mse:
            guard let h = stats.histogram else { return stats.minMax.range }
            return MSEMethod.range(h, steps: h.isNonNegative ? scheme.oneSidedSteps : 127)
        }
    }
}

/// What calibration records for one activation tensor.
public struct TensorStatistics: Sendable, Equatable {
    public var minMax = MinMaxObserver()
    public var histogram: HistogramObserver?
    public init(histogram: Bool) {
        self.histogram = histogram ? HistogramObserver() : nil
    }
    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        minMax.observe(values)
        histogram?.observe(values)
    }
}
