/// The clipping threshold that minimises the expected squared quantization error of the
/// observed values (rounding error inside the range plus clipping error outside it).
///
/// On the magnitude histogram (bin centres c_b, counts n_b) and `steps` quantization steps over
/// [0, t] (127 for symmetric int8, 255 for a one-sided uint8 range), with s = t/steps:
///   E(t) = Σ_b n_b · (c_b − s·min(round(c_b/s), steps))²
/// Candidates t are the upper edges of bins k·n/`candidates` for k = 1…`candidates` (scanning
/// from 1/`candidates` of the largest magnitude up to all of it); the smallest E wins, ties to
/// the larger t.
public enum MSEMethod {
    public static func range(_ h: HistogramObserver, steps: Int, candidates: Int = 256) -> ClosedRange<Float> {
        let mm = h.minMax.range
        guard h.radius > 0, steps > 0 else { return mm }
        let hist = h.absoluteHistogram
        let w = Double(h.binWidth)
        let used = (hist.lastIndex { $0 > 0 } ?? 0) + 1
        var bestT = Double(used) * w
        var bestError = Double.infinity
        for k in 1...candidates {
            let edge = Swift.max(1, (used * k + candidates - 1) / candidates)
            let t = Double(edge) * w
            let e = expectedError(hist, binWidth: w, threshold: t, steps: steps)
            if e <= bestError {
                bestError = e
                bestT = t
            }
        }
        let t = Swift.min(Float(bestT), h.minMax.maxAbs)
        return h.isNonNegative ? 0...t : -t...t
    }

    public static func expectedError(_ hist: [Double], binWidth w: Double, threshold t: Double, steps: Int) -> Double {
        let s = t / Double(steps)
        var e = 0.0
        for (b, n) in hist.enumerated() where n > 0 {
            let c = (Double(b) + 0.5) * w
            let q = s * Swift.min((c / s).rounded(), Double(steps))
            e += n * (c - q) * (c - q)
        }
        return e
    }
}
