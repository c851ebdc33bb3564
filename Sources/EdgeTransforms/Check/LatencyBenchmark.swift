import EdgeIR
import EdgeRuntime
import Foundation

/// Engine latency of a model before and after optimization, measured in process (compile and
/// weight packing excluded): one warm-up run, then the median of `runs` timed runs on the same feeds.
public struct LatencyComparison: Codable, Sendable, Equatable {
    public var runs: Int
    public var threads: Int
    public var beforeMedianMs: Double
    public var afterMedianMs: Double
    public var speedup: Double { afterMedianMs > 0 ? beforeMedianMs / afterMedianMs : 0 }

    enum CodingKeys: String, CodingKey { case runs, threads, beforeMedianMs, afterMedianMs, speedup }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runs, forKey: .runs)
        try c.encode(threads, forKey: .threads)
        try c.encode(beforeMedianMs, forKey: .beforeMedianMs)
        try c.encode(afterMedianMs, forKey: .afterMedianMs)
        try c.encode(speedup, forKey: .speedup)
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runs = try c.decode(Int.self, forKey: .runs)
        threads = try c.decode(Int.self, forKey: .threads)
        beforeMedianMs = try c.decode(Double.self, forKey: .beforeMedianMs)
        afterMedianMs = try c.decode(Double.self, forKey: .afterMedianMs)
    }
    public init(runs: Int, threads: Int, beforeMedianMs: Double, afterMedianMs: Double) {
        self.runs = runs
        self.threads = threads
        self.beforeMedianMs = beforeMedianMs
        self.afterMedianMs = afterMedianMs
    }
}

public enum LatencyBenchmark {
    /// Median wall time (ms) of `runs` runs of `model` on `feeds`, after one warm-up run.
    public static func median(_ model: Model, feeds: [String: Tensor], runs: Int, threads: Int, engineFusion: Bool = true) throws -> Double {
        var options = SessionOptions(threads: threads)
        options.fuseKernels = engineFusion
        let session = try Session(model: model, options: options)
        _ = try session.run(feeds)
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try session.run(feeds)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// Before/after medians on one seeded random feed set; runs alternate models to share drift.
    /// `engineFusion` false turns off the engine's own compile-time Conv+BN/activation fusion, to
    /// measure what the graph rewrites alone buy (with it on, the engine already fuses the original).
    public static func compare(_ before: Model, _ after: Model, runs: Int, threads: Int, seed: UInt64 = 0,
                               dims: [String: Int] = [:], engineFusion: Bool = true) throws -> LatencyComparison {
        let feeds = try RandomInputs.make(for: before.graph, seed: seed, dims: dims)
        let b = try median(before, feeds: feeds, runs: runs, threads: threads, engineFusion: engineFusion)
        let a = try median(after, feeds: feeds, runs: runs, threads: threads, engineFusion: engineFusion)
        return LatencyComparison(runs: runs, threads: threads, beforeMedianMs: b, afterMedianMs: a)
    }
}
