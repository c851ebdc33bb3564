/// Range that keeps `percentile` percent of the observed values and clips the rest (outliers).
///
/// Non-negative data: [0, t] with t the value below which `percentile`% of the samples lie.
/// Signed data, symmetric: [-t, t] with t the `percentile`% quantile of |x| (what ONNX Runtime's
/// percentile calibrator does for symmetric activations). Signed data, asymmetric: the
/// (100-p)/2 and (100+p)/2 percent quantiles of x, so p% of the samples lie inside.
/// Quantiles are read at bin upper edges (resolution: one bin), and never exceed the observed
/// min/max.
public enum PercentileMethod {
    public static func range(_ h: HistogramObserver, percentile: Double, symmetric: Bool) -> ClosedRange<Float> {
        let mm = h.minMax.range
        guard h.radius > 0 else { return mm }
        let p = Swift.min(Swift.max(percentile, 0), 100) / 100
        let w = h.binWidth
        if h.isNonNegative || symmetric {
            let hist = h.absoluteHistogram
            let t = Swift.min(Float(quantileEdge(hist, fraction: p)) * w, Swift.max(abs(mm.lowerBound), abs(mm.upperBound)))
            return h.isNonNegative ? 0...Swift.min(t, mm.upperBound) : -t...t
        }
        let tail = (1 - p) / 2
        let lowerIndex = quantileEdge(h.bins, fraction: tail) - 1
        let upperIndex = quantileEdge(h.bins, fraction: 1 - tail)
        let lo = Swift.max(-h.radius + Float(lowerIndex) * w, mm.lowerBound)
        let hi = Swift.min(-h.radius + Float(upperIndex) * w, mm.upperBound)
        return Swift.min(lo, hi)...Swift.max(lo, hi)
    }

    /// The number of leading bins needed to hold `fraction` of the total count (1...bins.count):
    /// its product with the bin width is the upper edge of the quantile's bin.
    static func quantileEdge(_ bins: [Double], fraction: Double) -> Int {
        let total = bins.reduce(0, +)
        guard total > 0 else { return bins.count }
        let target = fraction * total
        var running = 0.0
        for (i, c) in bins.enumerated() {
            running += c
            if running >= target - 1e-9 * total { return i + 1 }
        }
        return bins.count
    }
}
