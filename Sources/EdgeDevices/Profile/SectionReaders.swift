import Foundation
import Yams

/// Readers for each section of a profile (and of a family file, which shares the sections it
/// may define). Key names here are the schema: `profiles/SCHEMA.md` documents the same list.
enum Sections {
    static func price(_ node: Node, _ path: String, _ log: ProblemLog) -> Price? {
        guard let r = MappingReader(node, path: path, log: log, known: ["amount", "what", "date", "source"]) else { return nil }
        let amount = r.required("amount", Read.quantity(.price))
        let what = r.required("what", Read.string)
        let date = r.required("date", Read.string)
        let source = r.required("source", Read.sourceIDs)
        if let date, !isValidDate(date) {
            log.add(KeyPath.child(path, "date"), "expected YYYY or YYYY-MM, got \"\(date)\"")
        }
        guard let amount, let what, let date, let source else { return nil }
        return Price(usd: amount, what: what, date: date, source: source)
    }

    static func isValidDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 3, parts[0].count == 4, Int(parts[0]) != nil else { return false }
        return parts.dropFirst().allSatisfy { $0.count == 2 && Int($0) != nil }
    }

    /// `{fp16: {peak: "472 GFLOPS", note: …}, int8: …}`; a bare string is accepted as the peak.
    static func computeTable(_ node: Node, _ path: String, _ log: ProblemLog) -> [Precision: PeakCompute]? {
        let keys = Precision.allCases.map(\.rawValue)
        guard let r = MappingReader(node, path: path, log: log, known: keys) else { return nil }
        var table: [Precision: PeakCompute] = [:]
        for precision in Precision.allCases {
            if let peak = r.optional(precision.rawValue, peakCompute) { table[precision] = peak }
        }
        if table.isEmpty, !log.problems.contains(where: { $0.path.hasPrefix(path) }) {
            log.add(path, "must state the peak of at least one precision")
        }
        return table
    }

    static func peakCompute(_ node: Node, _ path: String, _ log: ProblemLog) -> PeakCompute? {
        if case .scalar = node {
            return Read.quantity(.compute)(node, path, log).map { PeakCompute(peak: $0, note: nil) }
        }
        guard let r = MappingReader(node, path: path, log: log, known: ["peak", "note"]) else { return nil }
        let peak = r.required("peak", Read.quantity(.compute))
        let note = r.optional("note", Read.string)
        return peak.map { PeakCompute(peak: $0, note: note) }
    }

    static func computeUnit(_ node: Node, _ path: String, _ log: ProblemLog) -> ComputeUnit? {
        let known = ["name", "kind", "count", "clock", "compute", "operators", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let name = r.required("name", Read.string)
        let kind = r.required("kind", Read.enumeration(EngineKind.self))
        let count = r.optional("count", Read.positiveInt) ?? 1
        let clock = r.optional("clock", Read.quantity(.frequency))
        let compute = r.required("compute", computeTable)
        let operators = r.optional("operators", Sections.operators)
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        guard let name, let kind, let compute, let source else { return nil }
        return ComputeUnit(name: name, kind: kind, count: count, clock: clock, compute: compute,
                           operators: operators, source: source, note: note)
    }

    static func hostCPU(_ node: Node, _ path: String, _ log: ProblemLog) -> HostCPU? {
        let known = ["name", "cores", "clock", "compute", "reference_host", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let name = r.required("name", Read.string)
        let cores = r.required("cores", Read.positiveInt)
        let clock = r.required("clock", Read.quantity(.frequency))
        let compute = r.required("compute", computeTable)
        let reference = r.optional("reference_host", Read.bool) ?? false
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        guard let name, let cores, let clock, let compute, let source else { return nil }
        return HostCPU(name: name, cores: cores, clock: clock, compute: compute, referenceHost: reference,
                       source: source, note: note)
    }

    static func memory(_ node: Node, _ path: String, _ log: ProblemLog) -> Memory? {
        let known = ["capacity", "bandwidth", "type", "shared_with_cpu", "reserved", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let capacity = r.required("capacity", Read.quantity(.bytes))
        let bandwidth = r.required("bandwidth", Read.quantity(.bandwidth))
        let type = r.required("type", Read.string)
        let shared = r.required("shared_with_cpu", Read.bool)
        let reserved = r.optional("reserved", Read.quantity(.bytes, allowZero: true)) ?? 0
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        if let capacity, reserved >= capacity {
            log.add(KeyPath.child(path, "reserved"), "must be less than capacity (\(QuantityFormat.format(capacity, as: .bytes)))")
        }
        guard let capacity, let bandwidth, let type, let shared, let source else { return nil }
        return Memory(capacity: capacity, bandwidth: bandwidth, type: type, sharedWithCPU: shared,
                      reserved: reserved, source: source, note: note)
    }

    static func onChip(_ node: Node, _ path: String, _ log: ProblemLog) -> OnChipMemory? {
        let known = ["capacity", "role", "overflow", "bandwidth", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let capacity = r.required("capacity", Read.quantity(.bytes))
        let role = r.required("role", Read.enumeration(OnChipRole.self))
        let overflow = r.required("overflow", Read.enumeration(OverflowPolicy.self))
        let bandwidth = r.optional("bandwidth", Read.quantity(.bandwidth))
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        guard let capacity, let role, let overflow, let source else { return nil }
        return OnChipMemory(capacity: capacity, role: role, overflow: overflow, bandwidth: bandwidth,
                            source: source, note: note)
    }

    static func hostLink(_ node: Node, _ path: String, _ log: ProblemLog) -> HostLink? {
        let known = ["kind", "bandwidth", "effective_bandwidth", "latency", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let kind = r.required("kind", Read.enumeration(LinkKind.self))
        let bandwidth = r.required("bandwidth", Read.quantity(.bandwidth))
        let effective = r.required("effective_bandwidth", Read.quantity(.bandwidth))
        let latency = r.required("latency", Read.quantity(.duration, allowZero: true))
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        if let bandwidth, let effective, effective > bandwidth {
            log.add(KeyPath.child(path, "effective_bandwidth"),
                    "must not exceed bandwidth (\(QuantityFormat.format(bandwidth, as: .bandwidth)))")
        }
        guard let kind, let bandwidth, let effective, let latency, let source else { return nil }
        return HostLink(kind: kind, bandwidth: bandwidth, effectiveBandwidth: effective, latency: latency,
                        source: source, note: note)
    }

    static func powerMode(_ node: Node, _ path: String, _ log: ProblemLog) -> PowerMode? {
        let known = ["name", "watts", "throughput_scale", "clocks", "source"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let name = r.required("name", Read.string)
        let watts = r.required("watts", Read.quantity(.power))
        let scale = r.required("throughput_scale", Read.fraction)
        let clocks = r.optional("clocks", Read.string)
        let source = r.required("source", Read.sourceIDs)
        guard let name, let watts, let scale, let source else { return nil }
        return PowerMode(name: name, watts: watts, throughputScale: scale, clocks: clocks, source: source)
    }

    static func power(_ node: Node, _ path: String, _ log: ProblemLog) -> Power? {
        let known = ["default_mode", "modes", "idle", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let defaultMode = r.required("default_mode", Read.string)
        let modes = r.required("modes", Read.list(powerMode))
        let idle = r.optional("idle", Read.quantity(.power))
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        if let modes {
            let modesPath = KeyPath.child(path, "modes")
            if modes.isEmpty, !log.problems.contains(where: { $0.path.hasPrefix(modesPath) }) {
                log.add(modesPath, "must list at least one power mode")
            }
            var seen = Set<String>()
            for (i, mode) in modes.enumerated() where !seen.insert(mode.name).inserted {
                log.add(KeyPath.index(KeyPath.child(path, "modes"), i), "duplicate power mode \"\(mode.name)\"")
            }
            if let defaultMode, !modes.isEmpty, !modes.contains(where: { $0.name == defaultMode }) {
                log.add(KeyPath.child(path, "default_mode"),
                        "\"\(defaultMode)\" is not one of the modes (\(modes.map(\.name).joined(separator: ", ")))")
            }
        }
        guard let defaultMode, let modes, let source else { return nil }
        return Power(defaultMode: defaultMode, modes: modes, idle: idle, source: source, note: note)
    }

    static func quantization(_ node: Node, _ path: String, _ log: ProblemLog) -> QuantizationScheme? {
        let known = ["weights", "activations", "symmetric_weights", "symmetric_activations", "full_integer", "calibration", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let weights = r.required("weights", Read.enumeration(Granularity.self))
        let activations = r.required("activations", Read.enumeration(Granularity.self))
        let symW = r.required("symmetric_weights", Read.bool)
        let symA = r.required("symmetric_activations", Read.bool)
        let full = r.required("full_integer", Read.bool)
        let calibration = r.required("calibration", Read.bool)
        let note = r.optional("note", Read.string)
        guard let weights, let activations, let symW, let symA, let full, let calibration else { return nil }
        return QuantizationScheme(weights: weights, activations: activations, symmetricWeights: symW,
                                  symmetricActivations: symA, fullInteger: full, calibration: calibration, note: note)
    }

    static func precisions(_ node: Node, _ path: String, _ log: ProblemLog) -> PrecisionSupport? {
        let known = ["supported", "preferred", "quantization", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let supported = r.required("supported", Read.list(Read.enumeration(Precision.self)))
        let preferred = r.required("preferred", Read.enumeration(Precision.self))
        let quantization: [Precision: QuantizationScheme]? = r.optional("quantization") { (node: Node, qpath: String, log: ProblemLog) -> [Precision: QuantizationScheme]? in
            guard let q = MappingReader(node, path: qpath, log: log, known: Precision.allCases.map(\.rawValue)) else { return nil }
            var table: [Precision: QuantizationScheme] = [:]
            for precision in Precision.allCases {
                if let scheme = q.optional(precision.rawValue, Sections.quantization) { table[precision] = scheme }
            }
            return table
        }
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        if let supported {
            if supported.isEmpty { log.add(KeyPath.child(path, "supported"), "must list at least one precision") }
            if let preferred, !supported.isEmpty, !supported.contains(preferred) {
                log.add(KeyPath.child(path, "preferred"), "\(preferred.rawValue) is not in supported")
            }
            for precision in supported where precision == .int8 || precision == .int4 {
                if quantization?[precision] == nil {
                    log.add(KeyPath.child(path, "quantization"),
                            "\(precision.rawValue) is supported but its quantization scheme is not stated")
                }
            }
            for precision in (quantization ?? [:]).keys.sorted() where !supported.contains(precision) {
                log.add(KeyPath.child(KeyPath.child(path, "quantization"), precision.rawValue),
                        "scheme given for \(precision.rawValue), which is not in supported")
            }
        }
        guard let supported, let preferred, let source else { return nil }
        return PrecisionSupport(supported: supported, preferred: preferred, quantization: quantization ?? [:],
                                source: source, note: note)
    }

    static let ruleKeys = ["op", "native", "max_rank", "max_non_unit_dims", "max_elements", "allowed_axes",
                           "unit_strides", "equal_dilations", "max_kernel", "max_inputs", "constant_weights",
                           "leading_unit_dims_only", "no_fused_activation", "note"]

    static func operatorRule(_ node: Node, _ path: String, _ log: ProblemLog) -> OperatorRule? {
        guard let r = MappingReader(node, path: path, log: log, known: ruleKeys) else { return nil }
        let ops = r.required("op", Read.stringOrList)
        var rule = OperatorRule(ops: ops ?? [])
        rule.native = r.optional("native", Read.string)
        rule.maxRank = r.optional("max_rank", Read.positiveInt)
        rule.maxNonUnitDims = r.optional("max_non_unit_dims", Read.positiveInt)
        rule.maxElements = r.optional("max_elements", Read.positiveInt)
        rule.allowedAxes = r.optional("allowed_axes", Read.list(Read.enumeration(AxisKind.self)))
        rule.unitStrides = r.optional("unit_strides", Read.bool)
        rule.equalDilations = r.optional("equal_dilations", Read.bool)
        rule.maxKernel = r.optional("max_kernel", Read.positiveInt)
        rule.maxInputs = r.optional("max_inputs", Read.positiveInt)
        rule.constantWeights = r.optional("constant_weights", Read.bool)
        rule.leadingUnitDimsOnly = r.optional("leading_unit_dims_only", Read.bool)
        rule.noFusedActivation = r.optional("no_fused_activation", Read.bool)
        rule.note = r.optional("note", Read.string)
        return ops == nil ? nil : rule
    }

    static func operators(_ node: Node, _ path: String, _ log: ProblemLog) -> OperatorSupport? {
        let known = ["mode", "opset", "static_shapes", "max_rank", "max_non_unit_dims", "max_dimension",
                     "rules", "unsupported", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let mode = r.required("mode", Read.enumeration(OperatorMode.self))
        let opset: OpsetRange? = r.optional("opset") { (node: Node, opath: String, log: ProblemLog) -> OpsetRange? in
            guard let o = MappingReader(node, path: opath, log: log, known: ["min", "max"]) else { return nil }
            let min = o.required("min", Read.positiveInt)
            let max = o.required("max", Read.positiveInt)
            guard let min, let max else { return nil }
            if min > max {
                log.add(opath, "min (\(min)) is greater than max (\(max))")
                return nil
            }
            return OpsetRange(min: min, max: max)
        }
        let staticShapes = r.required("static_shapes", Read.bool)
        let maxRank = r.optional("max_rank", Read.positiveInt)
        let maxNonUnit = r.optional("max_non_unit_dims", Read.positiveInt)
        let maxDimension = r.optional("max_dimension", Read.positiveInt)
        let rules = r.optional("rules", Read.list(operatorRule)) ?? []
        let unsupported = r.optional("unsupported", Read.list(Read.string)) ?? []
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        if mode == .allowlist {
            if rules.isEmpty, !r.has("rules") { log.add(KeyPath.child(path, "rules"), "an allowlist must list the operators it allows") }
            if !unsupported.isEmpty {
                log.add(KeyPath.child(path, "unsupported"), "only meaningful with mode all-onnx (an allowlist omits what it does not support)")
            }
        }
        var seen: [String: Int] = [:]
        for (i, rule) in rules.enumerated() {
            for op in rule.ops {
                if let first = seen[op] {
                    log.add(KeyPath.index(KeyPath.child(path, "rules"), i), "operator \(op) already has a rule (rules[\(first)])")
                } else {
                    seen[op] = i
                }
            }
        }
        guard let mode, let staticShapes, let source else { return nil }
        return OperatorSupport(mode: mode, opset: opset, staticShapes: staticShapes, maxRank: maxRank,
                               maxNonUnitDims: maxNonUnit, maxDimension: maxDimension, rules: rules,
                               unsupported: unsupported, source: source, note: note)
    }

    static func partition(_ node: Node, _ path: String, _ log: ProblemLog) -> PartitionRule? {
        guard let r = MappingReader(node, path: path, log: log, known: ["rule", "fallback", "source", "note"]) else { return nil }
        let rule = r.required("rule", Read.enumeration(PartitionKind.self))
        let fallback = r.required("fallback", Read.enumeration(FallbackTarget.self))
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        guard let rule, let fallback, let source else { return nil }
        return PartitionRule(rule: rule, fallback: fallback, source: source, note: note)
    }

    static func toolchain(_ node: Node, _ path: String, _ log: ProblemLog) -> Toolchain? {
        let known = ["name", "versions", "input", "artifact", "source", "note"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let name = r.required("name", Read.string)
        let versions = r.required("versions", Read.string)
        let input = r.required("input", Read.string)
        let artifact = r.required("artifact", Read.string)
        let source = r.required("source", Read.sourceIDs)
        let note = r.optional("note", Read.string)
        guard let name, let versions, let input, let artifact, let source else { return nil }
        return Toolchain(name: name, versions: versions, input: input, artifact: artifact, source: source, note: note)
    }

    static func factor(_ node: Node, _ path: String, _ log: ProblemLog) -> EfficiencyFactor? {
        guard let r = MappingReader(node, path: path, log: log, known: ["compute", "memory"]) else { return nil }
        let compute = r.required("compute", Read.fraction)
        let memory = r.required("memory", Read.fraction)
        guard let compute, let memory else { return nil }
        return EfficiencyFactor(compute: compute, memory: memory)
    }

    static func efficiency(_ node: Node, _ path: String, _ log: ProblemLog) -> Efficiency? {
        let known = ["default", "classes", "per_layer_overhead", "per_inference_overhead", "fitted", "method", "source"]
        guard let r = MappingReader(node, path: path, log: log, known: known) else { return nil }
        let defaultFactor = r.required("default", factor)
        let classes: [OpClass: EfficiencyFactor]? = r.optional("classes") { (node: Node, cpath: String, log: ProblemLog) -> [OpClass: EfficiencyFactor]? in
            guard let c = MappingReader(node, path: cpath, log: log, known: OpClass.allCases.map(\.rawValue)) else { return nil }
            var table: [OpClass: EfficiencyFactor] = [:]
            for opClass in OpClass.allCases {
                if let f = c.optional(opClass.rawValue, factor) { table[opClass] = f }
            }
            return table
        }
        let perLayer = r.required("per_layer_overhead", Read.quantity(.duration, allowZero: true))
        let perInference = r.required("per_inference_overhead", Read.quantity(.duration, allowZero: true))
        let fitted = r.required("fitted", Read.bool)
        let method = r.required("method", Read.string)
        let source = r.required("source", Read.sourceIDs)
        guard let defaultFactor, let perLayer, let perInference, let fitted, let method, let source else { return nil }
        return Efficiency(default: defaultFactor, classes: classes ?? [:], perLayerOverhead: perLayer,
                          perInferenceOverhead: perInference, fitted: fitted, method: method, source: source)
    }

    static func source(_ node: Node, _ path: String, _ log: ProblemLog) -> Source? {
        guard let r = MappingReader(node, path: path, log: log, known: ["id", "kind", "url", "says", "retrieved"]) else { return nil }
        let id = r.required("id", Read.string)
        let kind = r.required("kind", Read.enumeration(SourceKind.self))
        let url = r.optional("url", Read.string)
        let says = r.required("says", Read.string)
        let retrieved = r.optional("retrieved", Read.string)
        if let kind, kind != .estimate, url == nil {
            log.add(KeyPath.child(path, "url"), "missing required field (only kind: estimate may omit the URL)")
        }
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            log.add(KeyPath.child(path, "url"), "expected an http(s) URL, got \"\(url)\"")
        }
        guard let id, let kind, let says else { return nil }
        return Source(id: id, kind: kind, url: url, says: says, retrieved: retrieved)
    }

    /// Checks ids are unique and that every cited id is listed (in this file or its family).
    static func checkSources(_ sources: [Source], inherited: [Source], path: String, log: ProblemLog,
                             checkCitations: Bool = true) {
        var seen = Set<String>()
        for (i, source) in sources.enumerated() where !seen.insert(source.id).inserted {
            log.add(KeyPath.index(path, i), "duplicate source id \"\(source.id)\"")
        }
        guard checkCitations else { return }
        let known = Set(sources.map(\.id)).union(inherited.map(\.id))
        for reference in log.sourceReferences where !known.contains(reference.id) {
            log.add(reference.path, "cites source \"\(reference.id)\", which is not in sources")
        }
    }
}

extension OperatorRule {
    init(ops: [String]) {
        self.init(ops: ops, native: nil, maxRank: nil, maxNonUnitDims: nil, maxElements: nil, allowedAxes: nil,
                  unitStrides: nil, equalDilations: nil, maxKernel: nil, maxInputs: nil, constantWeights: nil,
                  leadingUnitDimsOnly: nil, noFusedActivation: nil, note: nil)
    }
}
