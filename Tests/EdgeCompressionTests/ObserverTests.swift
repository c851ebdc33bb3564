import XCTest
@testable import EdgeCompression

final class ObserverTests: XCTestCase {
    func testMinMaxIgnoresNaNAndKeepsExtremes() {
        var o = MinMaxObserver()
        o.observe([-1, 3, .nan, 2])
        o.observe([0.5])
        XCTAssertEqual(o.range, -1...3)
        XCTAssertEqual(o.maxAbs, 3)
        XCTAssertEqual(o.count, 5)
    }

    func testHistogramDoublesRangeAndKeepsCountsExact() {
        var h = HistogramObserver(binCount: 8)
        h.observe([0, 1])            // R = 1, width 0.25: 0 → bin 4, 1 → clamped to bin 7
        XCTAssertEqual(h.radius, 1)
        XCTAssertEqual(h.bins, [0, 0, 0, 0, 1, 0, 0, 1])
        h.observe([-3.5])            // R: 1 → 2 → 4; each doubling maps bin i to 2 + i/2
        XCTAssertEqual(h.radius, 4)
        // Bin 4 → 4 → 4 and bin 7 → 5 → 4: both now in [0, 1) (a value equal to R was clamped
        // into the top bin); −3.5 lands in bin 0 = [−4, −3).
        XCTAssertEqual(h.bins, [1, 0, 0, 0, 2, 0, 0, 0])
        XCTAssertEqual(h.totalCount, 3)
        XCTAssertEqual(h.absoluteHistogram, [2, 0, 0, 1])
        XCTAssertFalse(h.isNonNegative)
    }

    func testPercentileClipsOutlier() {
        var h = HistogramObserver()
        h.observe([Float](repeating: 0.5, count: 999) + [100])
        let r = PercentileMethod.range(h, percentile: 99.9, symmetric: true)
        XCTAssertEqual(r.lowerBound, 0)
        // 0.5 lies in magnitude bin floor(0.5 / (100/2048)) = 10, whose upper edge is 11 · 100/2048.
        XCTAssertEqual(r.upperBound, 11 * 100 / 2048, accuracy: 1e-4)
        // Keeping everything gives the maximum back.
        XCTAssertEqual(PercentileMethod.range(h, percentile: 100, symmetric: true).upperBound, 100)
    }

    func testPercentileAsymmetricTwoSided() {
        var h = HistogramObserver(binCount: 400)
        // −1 … +3 in 4001 evenly spaced values: the 1% and 99% quantiles (98% kept) are −0.96 and 2.96.
        h.observe((0...4000).map { Float(-1 + Double($0) / 1000) })
        let r = PercentileMethod.range(h, percentile: 98, symmetric: false)
        let w = h.binWidth
        XCTAssertEqual(r.lowerBound, -0.96, accuracy: w + 1e-3)
        XCTAssertEqual(r.upperBound, 2.96, accuracy: w + 1e-3)
    }

    func testEntropyKeepsFullRangeOfUniformDistribution() {
        // Uniform mass over all 2048 bins: only the full range has Q = P (KL 0); any clipping
        // piles the clipped mass onto P's last bin and makes KL positive.
        let uniform = [Double](repeating: 1, count: 2048)
        XCTAssertEqual(EntropyMethod.bestThresholdBin(uniform, quantizedBins: 128), 2048)
        // Mass only in the first 100 bins: at i = 128 each group is one bin, Q = P, KL 0 (first minimum).
        var narrow = [Double](repeating: 0, count: 2048)
        for k in 0..<100 { narrow[k] = Double(k % 7 + 1) }
        XCTAssertEqual(EntropyMethod.bestThresholdBin(narrow, quantizedBins: 128), 128)
    }

    func testEntropyDivergenceHandComputed() {
        // P = (1/2, 1/2), Q = (1/4, 3/4): KL = ½ ln 2 + ½ ln(2/3).
        let kl = EntropyMethod.divergence([1, 1], [1, 3], count: 2)
        XCTAssertEqual(kl, 0.5 * log(2) + 0.5 * log(2.0 / 3), accuracy: 1e-12)
    }

    func testMSEExpectedErrorHandComputed() {
        // Two values at bin centre 0.5, threshold 1 with one step: s = 1, round(0.5) = 1 (schoolbook), error 2 · 0.25.
        XCTAssertEqual(MSEMethod.expectedError([2, 0], binWidth: 1, threshold: 1, steps: 1), 0.5, accuracy: 1e-12)
        // Threshold 2 with 2 steps: s = 1; bin 1 centre 1.5 → 2, error 0.25 each.
        XCTAssertEqual(MSEMethod.expectedError([0, 4], binWidth: 1, threshold: 2, steps: 2), 1.0, accuracy: 1e-12)
    }

    func testMSEMatchesBruteForceOnHeavyTail() {
        // Exponential-like data (x = −0.1·ln u): a long thin tail that min/max would cover.
        let values: [Float] = (1...20_000).map { Float(-0.1 * log(Double($0) / 20_001)) }
        var h = HistogramObserver()
        h.observe(values)
        func error(_ t: Double) -> Double {
            let s = t / 255
            return values.reduce(0) { e, x in
                let q = s * min((Double(x) / s).rounded(), 255)
                return e + (Double(x) - q) * (Double(x) - q)
            }
        }
        let maxValue = Double(values.max()!)
        let best = (1...200).map { error(maxValue * Double($0) / 200) }.min()!
        let r = MSEMethod.range(h, steps: 255)
        XCTAssertEqual(r.lowerBound, 0)
        XCTAssertLessThan(Double(r.upperBound), maxValue)   // some of the tail is clipped
        XCTAssertLessThanOrEqual(error(Double(r.upperBound)), best * 1.05)
        XCTAssertLessThanOrEqual(error(Double(r.upperBound)), error(maxValue))
    }

    func testMethodsParse() throws {
        XCTAssertEqual(try CalibrationMethod.parse("minmax"), .minMax)
        XCTAssertEqual(try CalibrationMethod.parse("percentile"), .percentile(99.99))
        XCTAssertEqual(try CalibrationMethod.parse("percentile:99.9"), .percentile(99.9))
        XCTAssertEqual(try CalibrationMethod.parse("entropy"), .entropy)
        XCTAssertThrowsError(try CalibrationMethod.parse("percentile:0"))
        XCTAssertThrowsError(try CalibrationMethod.parse("magic"))
    }
}
