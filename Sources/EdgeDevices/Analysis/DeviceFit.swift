import EdgeIR

/// The verdict for one (model, device, precision, power mode): does it deploy, where do its
/// operators run, how much memory it takes against the limit, how fast and at what energy, and
/// why not when it does not.
public struct FitResult: Sendable, Codable {
    public var device: String
    public var displayName: String
    public var precision: String
    public var powerMode: String
    public var fits: Bool
    /// Blocking problems: each one alone makes `fits` false.
    public var reasons: [String]
    /// Non-blocking facts that change performance (partition, streamed weights, unknown costs).
    public var notes: [String]
    public var opsTotal: Int
    public var opsOnAccelerator: Int
    public var macsTotal: Int
    public var macsOnAccelerator: Int
    public var acceleratorSegments: Int
    public var unsupportedOps: [String]
    /// Bytes: weights at the precision + peak activations (+ nothing else: the OS/runtime share is
    /// the profile's `memory.reserved`).
    public var memoryBytes: Double
    /// `memory.capacity − memory.reserved`, nil for a device without DRAM of its own.
    public var memoryLimitBytes: Double?
    public var onChipWeightBytes: Double?
    public var onChipCapacityBytes: Double?
    public var streamedWeightBytes: Double?
    public var latencySeconds: Double?
    public var fps: Double?
    public var energyJoules: Double?
    public var watts: Double
    public var priceUSD: Double
    /// What the model must become for the toolchain: quantization scheme and artifact.
    public var recipe: String
    public var breakdown: Breakdown?

    /// The latency estimate's parts (JSON: the same field names).
    public typealias Breakdown = LatencyEstimate

    public var percentOpsOnAccelerator: Double { opsTotal == 0 ? 100 : 100 * Double(opsOnAccelerator) / Double(opsTotal) }
    public var percentMACsOnAccelerator: Double { macsTotal == 0 ? 100 : 100 * Double(macsOnAccelerator) / Double(macsTotal) }
    /// Free fraction of the memory limit after loading (nil without a limit).
    public var memoryHeadroom: Double? { memoryLimitBytes.map { 1 - memoryBytes / $0 } }
}

/// What the user asks for a precision: one precision or the device's preferred one.
public enum PrecisionChoice: Sendable, Equatable {
    case auto
    case fixed(Precision)

    public init?(argument: String) {
        if argument == "auto" { self = .auto } else if let p = Precision(rawValue: argument) { self = .fixed(p) } else { return nil }
    }
}

public enum DeviceFit {
    public static func analyze(_ facts: ModelFacts, profile: DeviceProfile, precision choice: PrecisionChoice,
                               powerMode: String? = nil) throws -> FitResult {
        let precision: Precision
        switch choice {
        case .auto: precision = profile.precisions.preferred
        case .fixed(let p): precision = p
        }
        guard let mode = powerMode.map({ name in profile.power.modes.first { $0.name == name } }) ?? profile.defaultPowerMode else {
            let names = profile.power.modes.map(\.name).joined(separator: ", ")
            throw EdgeError.badInput("\(profile.name): no power mode '\(powerMode ?? profile.power.defaultMode)' (modes: \(names))")
        }
        var reasons: [String] = []
        var notes: [String] = []
        if !profile.precisions.supported.contains(precision) {
            reasons.append("precision \(precision.rawValue) not supported (supported: \(profile.precisions.supported.map(\.rawValue).joined(separator: ", ")))")
        }
        if profile.operators.staticShapes && !facts.dynamicInputs.isEmpty {
            let described = facts.dynamicInputs.map { name in
                "\(name) [\(facts.analysis.shapes.types[name]?.shape?.map(\.description).joined(separator: ",") ?? "?")]"
            }
            reasons.append("needs static shapes; input(s) \(described.joined(separator: ", ")) have symbolic dimensions (pin them with --input-shape or --dim)")
        }
        if let range = profile.operators.opset, let opset = facts.onnxOpset, opset < range.min || opset > range.max {
            let target = opset > range.max ? range.max : range.min
            notes.append("model opset \(opset) is outside \(profile.toolchain.name)'s \(range.min)–\(range.max): convert it before compiling (edgeopt optimize MODEL -o OUT --target-opset \(target))")
        }
        let plan = PartitionPlan.make(facts, operators: profile.operators, rule: profile.partition)
        let dynamicBlocked = profile.operators.staticShapes && !facts.dynamicInputs.isEmpty
        if dynamicBlocked {
            // The partition below is meaningless until the shapes are pinned; the reason says so.
        } else if !plan.deployable {
            let first = plan.unsupported.first.map { $0.reason } ?? ""
            reasons.append("\(profile.partition.rule.rawValue) with no fallback: \(plan.unsupported.count) unsupported operator(s), first \(first)")
        } else if let first = plan.unsupported.first {
            switch profile.partition.rule {
            case .firstContiguousSubgraph:
                notes.append("partitioned at \(first.reason): it and the \(facts.nodes.count - first.node - 1) nodes after it run on \(profile.partition.fallback.rawValue)")
            default:
                notes.append("\(plan.unsupported.count) operator(s) fall back to \(profile.partition.fallback.rawValue), first \(first.reason)")
            }
        }
        let layers = LayerFusion.layers(facts, onAccelerator: plan.onAccelerator)

        // Memory: weights at the precision + the activation arena at the precision's element size
        // (the analysed arena is in the model's stored float type, 4 bytes per element).
        let pBytes = LatencyModel.bytes(precision)
        let weightElements = Double(facts.analysis.weights.parameterCount)
        let weightBytes = weightElements * pBytes
        let accelWeightElements = facts.nodes.indices.filter { plan.onAccelerator[$0] }.reduce(0) { $0 + facts.nodes[$1].weightElements }
        let activationBytes = Double(facts.analysis.memory.arenaBytes) * pBytes / 4
        let memoryBytes = weightBytes + activationBytes
        let limit = profile.memory?.usable
        if let limit, memoryBytes > limit {
            reasons.append("needs \(formatBytes(memoryBytes)) (weights \(formatBytes(weightBytes)) + activations \(formatBytes(activationBytes))) > \(formatBytes(limit)) usable")
        }
        let cache = LatencyModel.parameterCache(weightBytes: Double(accelWeightElements) * pBytes, profile: profile)
        if let cache, cache.streamed > 0 {
            notes.append("\(formatBytes(cache.streamed)) of parameters exceed the \(formatBytes(profile.onChip!.capacity)) on-chip cache and stream over \(profile.hostLink?.kind.rawValue ?? "the host link") every inference")
        }
        let unknown = facts.nodes.filter { !$0.costKnown }.count
        if unknown > 0 { notes.append("\(unknown) node(s) with unknown cost (shapes unknown): latency is a lower bound") }

        let macsTotal = facts.totalMACs
        let macsOn = facts.nodes.indices.filter { plan.onAccelerator[$0] }.reduce(0) { $0 + facts.nodes[$1].macs }
        let opsTotal = facts.nodes.count
        let opsOn = plan.onAccelerator.filter { $0 }.count
        let estimate = reasons.isEmpty || reasons.allSatisfy({ $0.hasPrefix("needs ") && !$0.contains("static") })
            ? LatencyModel.estimate(facts, layers: layers, plan: plan, profile: profile, precision: precision, mode: mode) : nil
        let latency = estimate?.total
        var recipe = "\(profile.toolchain.name): \(profile.toolchain.input) → \(profile.toolchain.artifact)"
        if let q = profile.precisions.quantization[precision] {
            recipe = "quantize \(precision.rawValue): weights \(q.weights.rawValue)\(q.symmetricWeights ? " symmetric" : ""), activations \(q.activations.rawValue)\(q.symmetricActivations ? " symmetric" : "")\(q.fullInteger ? ", full-integer (inputs/outputs too)" : "")\(q.calibration ? ", calibration data" : "") · " + recipe
        } else if precision == .fp16 || precision == .bf16 {
            recipe = "\(precision.rawValue) conversion · " + recipe
        }
        return FitResult(
            device: profile.name, displayName: profile.displayName, precision: precision.rawValue, powerMode: mode.name,
            fits: reasons.isEmpty, reasons: reasons, notes: notes,
            opsTotal: opsTotal, opsOnAccelerator: opsOn, macsTotal: macsTotal, macsOnAccelerator: macsOn,
            acceleratorSegments: plan.acceleratorSegments,
            unsupportedOps: plan.unsupported.map(\.reason),
            memoryBytes: memoryBytes, memoryLimitBytes: limit,
            onChipWeightBytes: cache?.cached, onChipCapacityBytes: cache == nil ? nil : profile.onChip?.capacity,
            streamedWeightBytes: cache?.streamed,
            latencySeconds: latency, fps: latency.map { 1 / $0 }, energyJoules: latency.map { $0 * mode.watts },
            watts: mode.watts, priceUSD: profile.price.usd, recipe: recipe,
            breakdown: estimate)
    }

    static func formatBytes(_ b: Double) -> String {
        if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
        if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
        return String(format: "%.0f kB", b / 1e3)
    }
}
