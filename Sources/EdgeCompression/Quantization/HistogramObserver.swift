/// A streaming histogram of a tensor's values with a fixed number of bins and a range that
/// grows as data arrive, so memory stays at `binCount` counters however many samples pass.
///
/// Layout: `binCount` (even) equal bins over [-R, R]. The first non-zero batch sets R to its
/// largest magnitude; a later value beyond R doubles R until it fits, and each doubling merges
/// neighbouring bin pairs: old bin i of width w over [-R, R] lies inside new bin
/// binCount/4 + i/2 of width 2w over [-2R, 2R] (because -R = -2R + (binCount/4)·2w). Merging
/// never splits a bin, so counts stay exact; resolution is at worst half of what a two-pass
/// histogram over the final range would give.
///
/// Range methods (`PercentileMethod`, `EntropyMethod`, `MSEMethod`) read the histogram at the
/// end; most work on the magnitude histogram (`absoluteHistogram`), as TensorRT does.
public struct HistogramObserver: Sendable, Equatable {
    public let binCount: Int
    public private(set) var bins: [Double]
    /// Half-width R of the histogram range (0 until a non-zero value arrives).
    public private(set) var radius: Float = 0
    /// Zeros seen before R is known.
    private var pendingZeros: Double = 0
    public private(set) var minMax = MinMaxObserver()

    /// `binCount` signed bins; the magnitude histogram has half as many (default 4096 → 2048,
    /// TensorRT's entropy calibration resolution).
    public init(binCount: Int = 4096) {
        precondition(binCount >= 4 && binCount % 4 == 0, "binCount must be a positive multiple of 4")
        self.binCount = binCount
        self.bins = [Double](repeating: 0, count: binCount)
    }

    public var binWidth: Float { radius == 0 ? 0 : 2 * radius / Float(binCount) }
    public var totalCount: Double { bins.reduce(0, +) + pendingZeros }

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        minMax.observe(values)
        var peak: Float = 0
        for v in values where v.isFinite { peak = Swift.max(peak, abs(v)) }
        if peak > 0 {
            if radius == 0 {
                radius = peak
                bins[binCount / 2] += pendingZeros
                pendingZeros = 0
            }
            while peak > radius { grow() }
        }
        guard radius > 0 else {
            for v in values where v == 0 { pendingZeros += 1 }
            return
        }
        let scale = Float(binCount) / (2 * radius)
        let last = binCount - 1
        bins.withUnsafeMutableBufferPointer { b in
            for v in values where v.isFinite {
                let index = Int((v + radius) * scale)
                b[Swift.min(Swift.max(index, 0), last)] += 1
            }
        }
    }

    public mutating func observe(_ values: [Float]) {
        values.withUnsafeBufferPointer { observe($0) }
    }

    private mutating func grow() {
        var merged = [Double](repeating: 0, count: binCount)
        let quarter = binCount / 4
        for i in 0..<binCount { merged[quarter + i / 2] += bins[i] }
        bins = merged
        radius *= 2
    }

    /// Counts of |x| in `binCount/2` bins of width `binWidth` over [0, R]: bin j gathers signed
    /// bins binCount/2 + j and binCount/2 - 1 - j (mirror images about zero).
    public var absoluteHistogram: [Double] {
        let half = binCount / 2
        var result = [Double](repeating: 0, count: half)
        for j in 0..<half { result[j] = bins[half + j] + bins[half - 1 - j] }
        result[0] += pendingZeros
        return result
    }

    /// True when no negative value was seen (ReLU outputs and the like): ranges are one-sided.
    public var isNonNegative: Bool { minMax.count == 0 || minMax.min >= 0 }
}
