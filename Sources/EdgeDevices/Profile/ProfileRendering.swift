import Foundation

/// One row of `edgeopt profiles list`, also its JSON form. Quantities in base units.
public struct ProfileSummary: Codable, Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var vendor: String
    public var displayName: String
    public var accelerator: String
    public var precisions: [Precision]
    /// Dense peak operations per second of the main accelerator, by precision.
    public var peak: [Precision: Double]
    /// Device DRAM, or nil when the device has none.
    public var memoryBytes: Double?
    public var memoryBandwidth: Double?
    public var onChipBytes: Double?
    public var powerWattsDefault: Double
    public var powerWattsMin: Double
    public var powerWattsMax: Double
    public var priceUSD: Double
    public var file: String

    public init(_ profile: DeviceProfile) {
        name = profile.name
        aliases = profile.aliases
        vendor = profile.vendor
        displayName = profile.displayName
        accelerator = profile.accelerator.name
        precisions = profile.precisions.supported
        peak = profile.accelerator.compute.mapValues(\.peak)
        memoryBytes = profile.memory?.capacity
        memoryBandwidth = profile.memory?.bandwidth
        onChipBytes = profile.onChip?.capacity
        let watts = profile.power.modes.map(\.watts)
        powerWattsDefault = profile.defaultPowerMode?.watts ?? watts.max() ?? 0
        powerWattsMin = watts.min() ?? 0
        powerWattsMax = watts.max() ?? 0
        priceUSD = profile.price.usd
        file = profile.file
    }
}

/// Text and JSON renderings of profiles for the `profiles` command. Deterministic: profiles
/// in name order, keys sorted, fixed number formatting.
public enum ProfileRendering {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    public static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self)
    }

    public static func table(_ profiles: [DeviceProfile]) -> String {
        let header = ["NAME", "VENDOR", "ACCELERATOR", "PRECISIONS", "INT8", "FP16", "MEMORY", "POWER", "PRICE"]
        let rows: [[String]] = profiles.map { profile in
            let summary = ProfileSummary(profile)
            func peak(_ p: Precision) -> String { summary.peak[p].map { QuantityFormat.compute($0, precision: p) } ?? "-" }
            let memory: String
            if let bytes = summary.memoryBytes {
                memory = QuantityFormat.format(bytes, as: .bytes)
            } else if let onChip = summary.onChipBytes {
                memory = "\(QuantityFormat.format(onChip, as: .bytes)) on-chip"
            } else {
                memory = "-"
            }
            let power = summary.powerWattsMin == summary.powerWattsMax
                ? "\(QuantityFormat.number(summary.powerWattsMax)) W"
                : "\(QuantityFormat.number(summary.powerWattsMin))-\(QuantityFormat.number(summary.powerWattsMax)) W"
            return [summary.name, summary.vendor, summary.accelerator,
                    summary.precisions.map(\.rawValue).joined(separator: ","),
                    peak(.int8), peak(.fp16), memory, power, QuantityFormat.format(summary.priceUSD, as: .price)]
        }
        return alignedTable(header: header, rows: rows)
    }

    static func alignedTable(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// `edgeopt profiles show NAME`: every section, with units and source ids.
    public static func details(_ p: DeviceProfile) -> String {
        var out: [String] = []
        func add(_ text: String) { out.append(text) }
        func fmt(_ v: Double, _ k: QuantityKind) -> String { QuantityFormat.format(v, as: k) }
        func cite(_ ids: [String]) -> String { "[" + ids.joined(separator: ", ") + "]" }
        func computeLines(_ table: [Precision: PeakCompute], indent: String) {
            for precision in table.keys.sorted() {
                let entry = table[precision]!
                add("\(indent)\(precision.rawValue): \(QuantityFormat.compute(entry.peak, precision: precision))\(entry.note.map { "  (\($0))" } ?? "")")
            }
        }

        add("\(p.displayName) (\(p.name))")
        if !p.aliases.isEmpty { add("  aliases: \(p.aliases.joined(separator: ", "))") }
        add("  vendor: \(p.vendor)    form factor: \(p.formFactor.rawValue)\(p.family.map { "    family: \($0)" } ?? "")")
        add("  file: \(p.file)")
        add("  price: \(fmt(p.price.usd, .price)) — \(p.price.what), \(p.price.date) \(cite(p.price.source))")
        add("")
        let a = p.accelerator
        add("Accelerator: \(a.name) (\(a.kind.rawValue)\(a.count > 1 ? " ×\(a.count)" : "")\(a.clock.map { ", \(fmt($0, .frequency))" } ?? "")) \(cite(a.source))")
        add("  dense peak:")
        computeLines(a.compute, indent: "    ")
        if let note = a.note { add("  note: \(note)") }
        for unit in p.secondaryAccelerators {
            add("Secondary: \(unit.name) (\(unit.kind.rawValue)\(unit.count > 1 ? " ×\(unit.count)" : "")\(unit.clock.map { ", \(fmt($0, .frequency))" } ?? "")) \(cite(unit.source))")
            add("  dense peak per engine:")
            computeLines(unit.compute, indent: "    ")
            if let ops = unit.operators { add("  operators: \(ops.mode.rawValue), \(ops.rules.count) rules") }
            if let note = unit.note { add("  note: \(note)") }
        }
        let cpu = p.hostCPU
        add("Host CPU: \(cpu.name), \(cpu.cores) cores @ \(fmt(cpu.clock, .frequency))\(cpu.referenceHost ? " (reference host, not part of the product)" : "") \(cite(cpu.source))")
        computeLines(cpu.compute, indent: "    ")
        add("")
        if let m = p.memory {
            add("Memory: \(fmt(m.capacity, .bytes)) \(m.type), \(fmt(m.bandwidth, .bandwidth))\(m.sharedWithCPU ? ", shared with CPU" : "")\(m.reserved > 0 ? ", \(fmt(m.reserved, .bytes)) reserved" : "") \(cite(m.source))")
            if let note = m.note { add("  note: \(note)") }
        } else {
            add("Memory: none on the device")
        }
        if let c = p.onChip {
            add("On-chip: \(fmt(c.capacity, .bytes)) \(c.role.rawValue), overflow \(c.overflow.rawValue)\(c.bandwidth.map { ", \(fmt($0, .bandwidth))" } ?? "") \(cite(c.source))")
            if let note = c.note { add("  note: \(note)") }
        }
        if let l = p.hostLink {
            add("Host link: \(l.kind.rawValue), \(fmt(l.bandwidth, .bandwidth)) (effective \(fmt(l.effectiveBandwidth, .bandwidth)), \(fmt(l.latency, .duration)) per transfer) \(cite(l.source))")
            if let note = l.note { add("  note: \(note)") }
        } else {
            add("Host link: none (self-hosted)")
        }
        add("")
        add("Power modes (default \(p.power.defaultMode)) \(cite(p.power.source)):")
        for mode in p.power.modes {
            add("  \(mode.name): \(fmt(mode.watts, .power)), throughput ×\(QuantityFormat.number(mode.throughputScale))\(mode.clocks.map { ", \($0)" } ?? "")")
        }
        if let idle = p.power.idle { add("  idle: \(fmt(idle, .power))") }
        if let note = p.power.note { add("  note: \(note)") }
        add("")
        let pr = p.precisions
        add("Precisions: \(pr.supported.map(\.rawValue).joined(separator: ", ")) (preferred \(pr.preferred.rawValue)) \(cite(pr.source))")
        for precision in pr.quantization.keys.sorted() {
            let q = pr.quantization[precision]!
            add("  \(precision.rawValue): weights \(q.weights.rawValue) \(q.symmetricWeights ? "symmetric" : "asymmetric"), activations \(q.activations.rawValue) \(q.symmetricActivations ? "symmetric" : "asymmetric")\(q.fullInteger ? ", full-integer" : "")\(q.calibration ? ", calibrated" : "")")
            if let note = q.note { add("    \(note)") }
        }
        if let note = pr.note { add("  note: \(note)") }
        add("")
        let ops = p.operators
        var opsHeader = "Operators: \(ops.mode.rawValue)"
        if let opset = ops.opset { opsHeader += ", opset \(opset.min)-\(opset.max)" }
        opsHeader += ops.staticShapes ? ", static shapes" : ", dynamic shapes allowed"
        if let r = ops.maxRank { opsHeader += ", rank <= \(r)" }
        if let n = ops.maxNonUnitDims { opsHeader += ", at most \(n) innermost non-unit dims" }
        if let d = ops.maxDimension { opsHeader += ", dims <= \(d)" }
        add(opsHeader + " \(cite(ops.source))")
        for rule in ops.rules { add("  " + describe(rule)) }
        if !ops.unsupported.isEmpty { add("  unsupported: \(ops.unsupported.joined(separator: ", "))") }
        if let note = ops.note { add("  note: \(note)") }
        add("Partition: \(p.partition.rule.rawValue), fallback \(p.partition.fallback.rawValue) \(cite(p.partition.source))")
        if let note = p.partition.note { add("  note: \(note)") }
        add("Toolchain: \(p.toolchain.name) \(p.toolchain.versions): \(p.toolchain.input) -> \(p.toolchain.artifact) \(cite(p.toolchain.source))")
        if let note = p.toolchain.note { add("  note: \(note)") }
        add("")
        let e = p.efficiency
        add("Efficiency (\(e.fitted ? "fitted" : "initial, not fitted")) \(cite(e.source)):")
        add("  default: compute \(QuantityFormat.number(e.default.compute)), memory \(QuantityFormat.number(e.default.memory))")
        for opClass in OpClass.allCases {
            if let f = e.classes[opClass] {
                add("  \(opClass.rawValue): compute \(QuantityFormat.number(f.compute)), memory \(QuantityFormat.number(f.memory))")
            }
        }
        add("  overhead: \(fmt(e.perLayerOverhead, .duration)) per layer, \(fmt(e.perInferenceOverhead, .duration)) per inference")
        add("  method: \(e.method)")
        if !p.notes.isEmpty {
            add("")
            add("Notes:")
            for note in p.notes { add("  - \(note)") }
        }
        add("")
        add("Sources:")
        for s in p.sources {
            add("  [\(s.id)] \(s.kind.rawValue)\(s.url.map { " \($0)" } ?? "")")
            add("      \(s.says)\(s.retrieved.map { " (\($0))" } ?? "")")
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func describe(_ rule: OperatorRule) -> String {
        var parts: [String] = []
        if let v = rule.maxRank { parts.append("rank <= \(v)") }
        if let v = rule.maxNonUnitDims { parts.append("<= \(v) non-unit dims") }
        if let v = rule.maxElements { parts.append("<= \(v) elements") }
        if let v = rule.allowedAxes { parts.append("axes: \(v.map(\.rawValue).joined(separator: "/"))") }
        if rule.unitStrides == true { parts.append("unit strides") }
        if rule.equalDilations == true { parts.append("equal dilations") }
        if let v = rule.maxKernel { parts.append("kernel <= \(v)") }
        if let v = rule.maxInputs { parts.append("<= \(v) inputs") }
        if rule.constantWeights == true { parts.append("constant weights") }
        if rule.leadingUnitDimsOnly == true { parts.append("leading unit dims only") }
        if rule.noFusedActivation == true { parts.append("no fused activation") }
        var text = rule.ops.joined(separator: ", ")
        if let native = rule.native { text += " (\(native))" }
        if !parts.isEmpty { text += ": " + parts.joined(separator: "; ") }
        if let note = rule.note { text += " — \(note)" }
        return text
    }
}
