import EdgeIR
import EdgeRuntime
import Foundation

/// Precision of one quantizable layer (a Conv, ConvTranspose, Gemm or MatMul node).
public enum LayerPrecision: String, Sendable, Codable, Comparable {
    case int8, fp16, fp32
    var rank: Int { self == .int8 ? 0 : self == .fp16 ? 1 : 2 }
    public static func < (a: LayerPrecision, b: LayerPrecision) -> Bool { a.rank < b.rank }
}

public struct MixedPrecisionOptions: Sendable {
    public var quantization = StaticQuantizationOptions()
    public var budget: AccuracyBudget
    /// Fall back through FP16 (mixed precision) or straight to FP32 (INT8 with a budget).
    public var allowFP16 = true
    /// Models built and scored, the first (all INT8) included. Nil: no limit.
    public var maxTrials: Int? = nil
    /// Wall-clock seconds; the search stops before a trial once this has passed. Nil: no limit.
    public var timeLimit: Double? = nil
    public var labels: String? = nil
    /// Called with a line of progress (stderr in the CLI).
    public var log: (@Sendable (String) -> Void)? = nil
    public init(budget: AccuracyBudget) { self.budget = budget }
}

/// What the search measured and chose.
public struct MixedPrecisionResult: Sendable {
    public struct Layer: Sendable, Codable, Equatable {
        public var node: String
        public var op: String
        public var precision: LayerPrecision
        /// SQNR (dB) of the layer's quantized output in the all-INT8 model (nil: +∞ or not measured).
        public var sqnrDB: Double?
        /// Metric gain when this layer alone falls back (nil: not measured within the limits).
        public var gain: Double?
        /// Position in the fallback order (1 = most sensitive).
        public var rank: Int
        public var reason: String
    }
    public struct Trial: Sendable, Codable, Equatable {
        public var description: String
        public var fp16Layers: Int
        public var fp32Layers: Int
        /// Metric value (nil when +∞ SQNR).
        public var value: Double?
        public var met: Bool
        public var seconds: Double
    }
    public var model: Model
    public var quantization: StaticQuantizationSummary
    public var fp16: FP16ConversionSummary?
    public var budget: AccuracyBudget
    public var referenceValue: Double
    public var int8Value: Double
    public var finalValue: Double
    /// The written model's metric per output (the budget holds the worst; see `MetricEvaluator`).
    public var outputs: [MetricEvaluator.OutputScore] = []
    public var met: Bool
    /// How far the final model is from the budget: floor − value, in the metric's units (0 when met).
    public var shortfall: Double
    public var layers: [Layer]
    public var trials: [Trial]
    /// "trial limit" or "time limit" when a limit ended the search.
    public var stoppedBy: String?
    public var seconds: Double
}

/// Accuracy-budgeted quantization: INT8 everywhere first, then the most sensitive layers fall
/// back (INT8 → FP16 → FP32) until the budget holds.
///
/// 1. Calibrate once (all layers); every trial reuses the ranges, so a trial costs one QDQ
///    insertion, an optional FP16 conversion of its FP16 layers, and one pass over the
///    evaluation data.
/// 2. Trial 0 is all INT8. If it meets the budget, done.
/// 3. Sensitivity: the SQNR of each layer's quantized output (one pass), then, in order of
///    ascending SQNR, the metric gain when that layer alone falls back, as long as the trial limit
///    and time limits leave room for the search below (about 2·log2(L) + 2 trials and half of
///    the time are reserved).
///    Order: measured gain, largest first; then unmeasured layers by SQNR, lowest first; graph
///    order breaks ties. Deterministic.
/// 4. Fallback: the smallest k such that the first k layers of that order at FP16 meet the
///    budget, found by doubling k (1, 2, 4, …) and bisecting between the last failing and first
///    passing k (the metric is close to monotone in k; bisection keeps trials at O(log L)). If
///    all layers at FP16 do not suffice (or FP16 is not allowed), the same search moves layers to
///    FP32 in the same order, up to all but one layer: an all-FP32 model is the float model, not
///    a quantization, so a budget that only it meets is reported as not met.
/// 5. The result is the passing model with the fewest fallbacks, or, when nothing passes within
///    the limits, the best-scoring model tried, with its shortfall.
public enum MixedPrecisionSearch {
    public static func run(_ model: Model, calibration data: CalibrationDataSet, evaluation: CalibrationDataSet,
                           options: MixedPrecisionOptions) throws -> MixedPrecisionResult {
        let start = Date()
        let log = options.log ?? { _ in }
        var calibration = try StaticQuantizer.calibrate(model, data: data, options: options.quantization)
        nameNodes(&calibration.prepared.graph)
        let prepared = calibration.prepared
        let plan = QuantizationPlan(graph: prepared.graph, scheme: options.quantization.scheme,
                                    types: calibration.inference?.types ?? [:], staticValues: calibration.inference?.staticValues ?? [],
                                    excluded: options.quantization.excludedNodes)
        let layerNodes = plan.quantizedNodes.map { prepared.graph.nodes[$0] }
        let names = layerNodes.map(\.name)
        let evaluator = try MetricEvaluator(reference: model, data: evaluation, metric: options.budget.metric,
                                            labels: options.labels, threads: options.quantization.threads)
        let reference = evaluator.referenceValue
        let budget = options.budget
        log("reference \(budget.metric.rawValue) \(format(reference, budget.metric)); budget: \(budget)")

        var trials: [MixedPrecisionResult.Trial] = []
        var stoppedBy: String?
        struct Candidate {
            var assignment: [String: LayerPrecision]
            var model: Model
            var summary: StaticQuantizationSummary
            var fp16: FP16ConversionSummary?
            var value: Double
            var perOutput: [MetricEvaluator.OutputScore]
            var met: Bool
        }
        var best: Candidate?
        func better(_ a: Candidate, than b: Candidate) -> Bool {
            if a.met != b.met { return a.met }
            if a.met { return fallbackCost(a.assignment) < fallbackCost(b.assignment) }
            return a.value > b.value
        }
        func limitReached() -> Bool {
            if let n = options.maxTrials, trials.count >= n { stoppedBy = "trial limit (\(n))"; return true }
            if let t = options.timeLimit, Date().timeIntervalSince(start) >= t { stoppedBy = "time limit (\(format(t)) s)"; return true }
            return false
        }
        var tried: [[LayerPrecision]: Candidate] = [:]  // by precision per layer, graph order
        func trial(_ assignment: [String: LayerPrecision], _ description: String) throws -> Candidate? {
            let key = names.map { assignment[$0] ?? .int8 }
            if let known = tried[key] { return known }  // e.g. "the most sensitive layer" measured alone already
            // The all-INT8 trial always runs (calibration alone may outlast a short time limit).
            guard trials.isEmpty || !limitReached() else { return nil }
            let t0 = Date()
            var q = options.quantization
            q.excludedNodes.formUnion(assignment.filter { $0.value != .int8 }.keys)
            var (m, summary) = try StaticQuantizer.build(calibration, options: q)
            var fp16Summary: FP16ConversionSummary?
            let half = Set(assignment.filter { $0.value == .fp16 }.keys)
            if !half.isEmpty {
                var f = FP16ConversionOptions()
                f.onlyNodes = half
                f.extendSelection = true
                f.excludedNodes = Set(assignment.filter { $0.value == .fp32 }.keys)
                let converted = try FP16Converter.convert(m, options: f)
                m = converted.model
                fp16Summary = converted.summary
                summary.weightBytesAfter = converted.summary.weightBytesAfter
            }
            let (value, perOutput) = try evaluator.scores(m)
            let met = budget.isMet(value, reference: reference)
            let c = Candidate(assignment: assignment, model: m, summary: summary, fp16: fp16Summary, value: value,
                              perOutput: perOutput, met: met)
            let counts = (assignment.values.filter { $0 == .fp16 }.count, assignment.values.filter { $0 == .fp32 }.count)
            trials.append(.init(description: description, fp16Layers: counts.0, fp32Layers: counts.1,
                                value: value.isFinite ? value : nil, met: met, seconds: Date().timeIntervalSince(t0)))
            log("trial \(trials.count): \(description): \(budget.metric.rawValue) \(format(value, budget.metric))\(met ? " (meets the budget)" : "")")
            if best == nil || better(c, than: best!) { best = c }
            tried[key] = c
            return c
        }

        let allInt8 = Dictionary(uniqueKeysWithValues: names.map { ($0, LayerPrecision.int8) })
        guard options.maxTrials.map({ $0 >= 1 }) ?? true, let int8 = try trial(allInt8, "all \(names.count) layers INT8") else {
            throw EdgeError.badInput("the trial limit allows no trial (--max-trials must be at least 1)")
        }
        var sqnr: [String: Double] = [:]
        var gain: [String: Double] = [:]
        var order = names
        let fallback: LayerPrecision = options.allowFP16 ? .fp16 : .fp32
        if !int8.met, !limitReached() {
            // Sensitivity: SQNR of each layer's quantized output in the all-INT8 model.
            let outputs = layerNodes.map { quantizedOutput(of: $0, in: prepared.graph) }
            let measured = try LayerSQNR.measure(float: prepared, quantized: int8.model, tensors: outputs, data: evaluation,
                                                 options: options.quantization.threads.map { SessionOptions(threads: $0) } ?? SessionOptions())
            for (name, out) in zip(names, outputs) { sqnr[name] = measured[out] }
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            let bySQNR = names.sorted { (sqnr[$0] ?? .infinity, index[$0]!) < (sqnr[$1] ?? .infinity, index[$1]!) }
            // Metric gain of each layer alone, lowest SQNR first, leaving room for the fallback search.
            let reserve = 2 * Int(ceil(log2(Double(max(names.count, 1))))) + 2
            for name in bySQNR where !(fallback == .fp32 && names.count == 1) {
                if let n = options.maxTrials, n - trials.count <= reserve { break }
                // Half of a time limit is left for the fallback search.
                if let t = options.timeLimit, Date().timeIntervalSince(start) >= t / 2 { break }
                var a = allInt8
                a[name] = fallback
                guard let c = try trial(a, "\(name) alone \(fallback.rawValue.uppercased())") else { break }
                let g = c.value - int8.value
                gain[name] = g.isFinite ? g : nil
            }
            stoppedBy = nil  // a limit met while measuring gains is not the end of the search
            order = names.sorted { a, b in
                switch (gain[a], gain[b]) {
                case let (x?, y?) where x != y: return x > y
                case (_?, nil): return true
                case (nil, _?): return false
                default: return (sqnr[a] ?? .infinity, index[a]!) < (sqnr[b] ?? .infinity, index[b]!)
                }
            }
            log("fallback order: \(order.joined(separator: ", "))")
            // Fallback searches: FP16 first (mixed), then FP32.
            var base = allInt8
            var stages: [LayerPrecision] = options.allowFP16 ? [.fp16, .fp32] : [.fp32]
            while !stages.isEmpty, best?.met != true, stoppedBy == nil {
                let target = stages.removeFirst()
                // FP32 for every layer would be the float model itself, not a quantization:
                // at least one layer keeps a reduced precision.
                let limit = target == .fp32 ? order.count - 1 : order.count
                let found = try searchPrefix(order: order, base: base, target: target, limit: limit) { try trial($0, $1)?.met }
                if found == nil, stoppedBy == nil {
                    // Every layer at this precision fails: the next stage starts from there.
                    for name in order { base[name] = target }
                }
            }
        }
        guard let chosen = best else { throw EdgeError.internalError("the search made no trial") }
        if chosen.met { stoppedBy = nil }
        let floorValue = budget.floor(reference: reference)
        let rankOf = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0 + 1) })
        let layers = zip(names, layerNodes).map { name, node -> MixedPrecisionResult.Layer in
            let p = chosen.assignment[name] ?? .int8
            return .init(node: name, op: node.opType, precision: p, sqnrDB: sqnr[name].flatMap { $0.isFinite ? $0 : nil },
                         gain: gain[name], rank: int8.met ? 0 : rankOf[name] ?? 0,
                         reason: reason(p, name: name, int8Met: int8.met, chosen: chosen.met, stoppedBy: stoppedBy,
                                        rank: rankOf[name] ?? 0, gain: gain[name], sqnr: sqnr[name], metric: budget.metric))
        }
        var result = MixedPrecisionResult(model: chosen.model, quantization: chosen.summary, fp16: chosen.fp16, budget: budget,
                                          referenceValue: reference, int8Value: int8.value, finalValue: chosen.value, met: chosen.met,
                                          shortfall: chosen.met ? 0 : floorValue - chosen.value, layers: layers, trials: trials,
                                          stoppedBy: chosen.met ? nil : stoppedBy, seconds: Date().timeIntervalSince(start))
        result.outputs = chosen.perOutput
        return result
    }

    /// Smallest k ≤ limit (doubling, then bisection) such that the first k layers of `order` at
    /// `target` meet the budget; nil when even `limit` of them do not, or a limit stopped the search.
    static func searchPrefix(order: [String], base: [String: LayerPrecision], target: LayerPrecision, limit: Int,
                             trial: ([String: LayerPrecision], String) throws -> Bool?) throws -> Int? {
        func assignment(_ k: Int) -> [String: LayerPrecision] {
            var a = base
            for name in order.prefix(k) where (a[name] ?? .int8) < target { a[name] = target }
            return a
        }
        func run(_ k: Int) throws -> Bool? {
            let what = k == 1 ? "the most sensitive layer" : "the \(k) most sensitive layers"
            return try trial(assignment(k), "\(what) \(target.rawValue.uppercased())")
        }
        var lo = 0, k = 1
        var hi: Int?
        while k <= limit {
            guard let met = try run(k) else { return nil }
            if met { hi = k; break }
            lo = k
            if k == limit { break }
            k = min(k * 2, limit)
        }
        guard var passing = hi else { return nil }
        while passing - lo > 1 {
            let mid = (lo + passing) / 2
            guard let met = try run(mid) else { return passing }
            if met { passing = mid } else { lo = mid }
        }
        return passing
    }

    static func fallbackCost(_ a: [String: LayerPrecision]) -> (Int, Int) {
        (a.values.filter { $0 == .fp32 }.count, a.values.filter { $0 == .fp16 }.count)
    }

    static func reason(_ p: LayerPrecision, name: String, int8Met: Bool, chosen met: Bool, stoppedBy: String?,
                       rank: Int, gain: Double?, sqnr: Double?, metric: AccuracyMetric) -> String {
        if int8Met { return "all-INT8 model meets the budget" }
        var evidence: [String] = []
        if let gain { evidence.append("alone in float: \(signedFormat(gain, metric))") }
        if let sqnr { evidence.append(sqnr.isFinite ? String(format: "INT8 output SQNR %.1f dB", sqnr) : "INT8 output exact") }
        let why = evidence.isEmpty ? "" : " (\(evidence.joined(separator: "; ")))"
        switch p {
        case .int8:
            return (met ? "budget met without it" : "kept INT8: \(stoppedBy ?? "budget not met") before its turn") + ", sensitivity rank \(rank)" + why
        case .fp16:
            return "sensitivity rank \(rank)" + why
        case .fp32:
            return "sensitivity rank \(rank), FP16 was not enough" + why
        }
    }

    static func format(_ v: Double, _ metric: AccuracyMetric) -> String {
        switch metric {
        case .top1, .agreement: return String(format: "%.2f%%", v * 100)
        case .cosine: return String(format: "%.6f", v)
        case .sqnr: return v.isFinite ? String(format: "%.2f dB", v) : "∞ dB"
        }
    }
    static func signedFormat(_ v: Double, _ metric: AccuracyMetric) -> String {
        switch metric {
        case .top1, .agreement: return String(format: "%+.2f points", v * 100)
        case .cosine: return String(format: "%+.6f", v)
        case .sqnr: return v.isFinite ? String(format: "%+.2f dB", v) : "exact"
        }
    }
    static func format(_ v: Double) -> String { String(format: "%g", v) }

    /// The tensor a quantized layer's output Q/DQ pair sits on: its output, or the output of the
    /// Relu/Clip that is its sole consumer (`QuantizationPlan`'s rule).
    static func quantizedOutput(of node: Node, in graph: Graph) -> String {
        let consumers = graph.consumerIndices()
        let graphOutputs = Set(graph.outputs.map(\.name))
        var output = node.outputs.first ?? ""
        while !graphOutputs.contains(output), let users = consumers[output], users.count == 1,
              ["Relu", "Clip"].contains(graph.nodes[users[0]].opType), graph.nodes[users[0]].isStandardDomain {
            output = graph.nodes[users[0]].outputs.first ?? ""
        }
        return output
    }

    /// Gives every node a unique non-empty name (`<op>_<index>`), so that layers can be named in
    /// exclusions and reports.
    static func nameNodes(_ graph: inout Graph) {
        var used = Set<String>()
        for i in graph.nodes.indices {
            var name = graph.nodes[i].name
            if name.isEmpty || used.contains(name) {
                let base = name.isEmpty ? "\(graph.nodes[i].opType)_\(i)" : name
                name = base
                var k = 1
                while used.contains(name) { name = "\(base)_\(k)"; k += 1 }
                graph.nodes[i].name = name
            }
            used.insert(name)
        }
    }
}
