import Foundation

/// TensorRT's entropy calibration ("8-bit Inference with TensorRT", Migacz, GTC 2017): choose the
/// clipping threshold whose 128-level quantized distribution loses the least information
/// (Kullback–Leibler divergence) relative to the observed one.
///
/// On the magnitude histogram H of `n` bins (2048 by default), for each candidate i in
/// [quantizedBins, n]:
///   P = H[0..<i], with the mass of every clipped bin (H[i...]) added to P[i-1];
///   Q = H[0..<i] merged into `quantizedBins` groups, each group's mass spread evenly over the
///       group's non-empty bins (empty bins stay 0 in Q);
///   KL(P‖Q) = Σ p log(p/q) over normalised P, Q (bins with p = 0 contribute 0; a bin with
///       p > 0 and q = 0 cannot occur with the even spreading above except through the clipped
///       mass, which is treated as in TensorRT by smoothing q to a tiny epsilon).
/// The threshold is the upper edge of bin i-1, i.e. i·binWidth, for the i with the smallest KL.
///
/// As NVIDIA's pytorch-quantization does, the first bin's count is replaced by the second's
/// before the search: ReLU outputs put up to half their mass exactly at 0, and that spike, smeared
/// over its group in Q, dominates KL and drives the threshold far too low (measured on
/// digits_cnn: thresholds at 20% of the maximum and 7 points of top-1 lost).
/// `quantizedBins` is 128 for symmetric int8 (TensorRT); a one-sided range on an asymmetric
/// 8-bit type has 256 levels, and callers pass 256.
public enum EntropyMethod {
    public static func range(_ h: HistogramObserver, quantizedBins: Int = 128) -> ClosedRange<Float> {
        let mm = h.minMax.range
        guard h.radius > 0 else { return mm }
        var hist = h.absoluteHistogram
        if hist.count > 1 { hist[0] = hist[1] }
        let index = bestThresholdBin(hist, quantizedBins: quantizedBins)
        let t = Swift.min(Float(index) * h.binWidth, h.minMax.maxAbs)
        return h.isNonNegative ? 0...t : -t...t
    }

    /// The number of leading bins (threshold index i) with the smallest KL divergence.
    public static func bestThresholdBin(_ hist: [Double], quantizedBins: Int) -> Int {
        let n = hist.count
        guard n > quantizedBins else { return n }
        var best = n
        var bestKL = Double.infinity
        var p = [Double](repeating: 0, count: n)
        var q = [Double](repeating: 0, count: n)
        let outliersTotal = hist.reduce(0, +)
        var inside = 0.0
        for k in 0..<quantizedBins { inside += hist[k] }
        for i in quantizedBins...n {
            if i > quantizedBins { inside += hist[i - 1] }
            // P: reference distribution with the clipped mass folded into the last bin.
            for k in 0..<i { p[k] = hist[k] }
            p[i - 1] += outliersTotal - inside
            // Q: i bins merged into quantizedBins groups, expanded back over non-empty bins.
            for k in 0..<i { q[k] = 0 }
            let groupWidth = Double(i) / Double(quantizedBins)
            for g in 0..<quantizedBins {
                let start = Int((Double(g) * groupWidth).rounded(.down))
                let end = g == quantizedBins - 1 ? i : Int((Double(g + 1) * groupWidth).rounded(.down))
                guard end > start else { continue }
                var mass = 0.0, nonEmpty = 0
                for k in start..<end where hist[k] != 0 {
                    mass += hist[k]
                    nonEmpty += 1
                }
                guard nonEmpty > 0 else { continue }
                let share = mass / Double(nonEmpty)
                for k in start..<end where hist[k] != 0 { q[k] = share }
            }
            let kl = divergence(p, q, count: i)
            if kl < bestKL {
                bestKL = kl
                best = i
            }
        }
        return best
    }

    /// KL(P‖Q) of the first `count` entries after normalising both to sum 1.
    static func divergence(_ p: [Double], _ q: [Double], count: Int) -> Double {
        var sp = 0.0, sq = 0.0
        for k in 0..<count { sp += p[k]; sq += q[k] }
        guard sp > 0, sq > 0 else { return .infinity }
        var kl = 0.0
        for k in 0..<count where p[k] > 0 {
            let pk = p[k] / sp
            let qk = Swift.max(q[k] / sq, 1e-12)
            kl += pk * log(pk / qk)
        }
        return kl
    }
}
