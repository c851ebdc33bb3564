import ArgumentParser
import EdgeAnalysis
import EdgeDevices
import EdgeIR
import Foundation

/// `edgeopt select MODEL`: rank devices under constraints.
struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Rank devices for a model under latency, FPS, power, price and memory constraints.",
        discussion: """
            Every (device, precision, power mode) configuration is analysed as by `edgeopt fit`; a \
            configuration qualifies when the model fits and every constraint holds, and each device is \
            ranked by its best qualifying configuration (objective latency, energy, price, or balanced = \
            geometric mean of latency, energy and price relative to the best). Rejected devices are listed \
            with the constraints their closest configuration broke; JSON adds the Pareto front. When \
            nothing qualifies the binding constraints are named with the relaxation that would admit a \
            device, and the exit status is 1.
            Measured accuracy: --accuracy int8=v8.json (repeatable) takes the JSON of `edgeopt validate \
            --format json` comparing the float model with its conversion to that precision; fp32 is the \
            reference. Top-1 with labels, else top-1 agreement; the worst output counts. \
            --max-accuracy-drop rejects precisions that lose more (or were not measured); --objective \
            accuracy ranks by the measured drop.
            """)

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: .customLong("max-latency"), help: ArgumentHelp("e.g. 10ms, 0.5s.", valueName: "DURATION"))
    var maxLatency: String?

    @Option(name: .customLong("min-fps"), help: "Minimum frames per second (batch 1).")
    var minFPS: Double?

    @Option(name: .customLong("max-power"), help: ArgumentHelp("Power mode budget, e.g. 5W.", valueName: "POWER"))
    var maxPower: String?

    @Option(name: .customLong("max-price"), help: ArgumentHelp("US dollars, e.g. 200 or $200.", valueName: "USD"))
    var maxPrice: String?

    @Option(name: .customLong("min-memory-headroom"), help: ArgumentHelp("Free share of usable memory, e.g. 20%.", valueName: "PERCENT"))
    var minMemoryHeadroom: String?

    @Option(help: "fp32, fp16, int8, or auto (try every precision each device supports).")
    var precision: String = "auto"

    @Option(name: .customLong("max-accuracy-drop"), help: ArgumentHelp("Largest measured accuracy loss against fp32, in points, e.g. 1%.", valueName: "POINTS"))
    var maxAccuracyDrop: String?

    @Option(help: ArgumentHelp("Measured accuracy of one precision: the JSON of `edgeopt validate` (repeatable).", valueName: "PRECISION=FILE"))
    var accuracy: [String] = []

    @Option(help: "latency, energy, price, balanced or accuracy.")
    var objective: String = "balanced"

    @Option(help: "Show at most N ranked devices.")
    var top: Int?

    @Flag(help: "Print JSON (base units), including the Pareto front.")
    var json = false

    @Option(name: .customLong("profiles"), help: ArgumentHelp("A directory of user profiles (repeatable).", valueName: "DIR"))
    var profileDirectories: [String] = []

    @OptionGroup var shapes: ShapeOptions

    func parsed() throws -> (SelectionConstraints, SelectionObjective) {
        func number(_ text: String, units: [String: Double], option: String) throws -> Double {
            let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "$", with: "").replacingOccurrences(of: ",", with: "")
            for (unit, scale) in units.sorted(by: { $0.key.count > $1.key.count }) where !unit.isEmpty && t.lowercased().hasSuffix(unit) {
                if let v = Double(t.dropLast(unit.count).trimmingCharacters(in: .whitespaces)), v >= 0 { return v * scale }
            }
            if units[""] != nil, let v = Double(t), v >= 0 { return v * units[""]! }
            throw ValidationError("\(option): cannot parse '\(text)'")
        }
        guard let objective = SelectionObjective(rawValue: objective) else {
            throw ValidationError("--objective must be latency, energy, price, balanced or accuracy")
        }
        if let minFPS, !(minFPS > 0) { throw ValidationError("--min-fps must be positive") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        let c = SelectionConstraints(
            maxLatencySeconds: try maxLatency.map { try number($0, units: ["ms": 1e-3, "us": 1e-6, "s": 1], option: "--max-latency") },
            minFPS: minFPS,
            maxWatts: try maxPower.map { try number($0, units: ["w": 1, "mw": 1e-3, "": 1], option: "--max-power") },
            maxPriceUSD: try maxPrice.map { try number($0, units: ["usd": 1, "": 1], option: "--max-price") },
            minMemoryHeadroom: try minMemoryHeadroom.map { try number($0, units: ["%": 0.01, "": 0.01], option: "--min-memory-headroom") },
            maxAccuracyDrop: try maxAccuracyDrop.map { try number($0, units: ["%": 0.01, "points": 0.01, "": 0.01], option: "--max-accuracy-drop") })
        return (c, objective)
    }

    /// `--accuracy PRECISION=FILE` pairs, checked for syntax (the files are read in `run`).
    func accuracyFiles() throws -> [(Precision, String)] {
        try accuracy.map { item in
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let p = Precision(rawValue: parts[0].lowercased()), !parts[1].isEmpty else {
                throw ValidationError("--accuracy expects PRECISION=FILE, e.g. int8=validate-int8.json (got '\(item)')")
            }
            return (p, parts[1])
        }
    }

    func validate() throws {
        _ = try parsed()
        let files = try accuracyFiles()
        if Set(files.map(\.0)).count != files.count { throw ValidationError("--accuracy names a precision twice") }
        if SelectionObjective(rawValue: objective) == .accuracy && files.isEmpty {
            throw ValidationError("--objective accuracy needs at least one --accuracy PRECISION=FILE")
        }
        if precision != "auto" && Precision(rawValue: precision) == nil {
            throw ValidationError("--precision must be fp32, fp16, bf16, int8, int4 or auto")
        }
    }

    func run() throws {
        try runReportingErrors {
            let (constraints, objective) = try parsed()
            var measured: [Precision: MeasuredAccuracy] = [:]
            for (p, file) in try accuracyFiles() { measured[p] = try MeasuredAccuracy.load(path: file, precision: p) }
            let catalog = try ProfileCatalog.load(userDirectories: profileDirectories)
            let model = try ONNXReader.read(path: self.model)
            let facts = try ModelFacts(model: model, analysis: try ModelAnalysis(model: model, inputShapes: shapes.inputShapes, dims: shapes.dims))
            var configurations: [FitResult] = []
            for profile in catalog.profiles {
                let precisions = precision == "auto" ? profile.precisions.supported : [Precision(rawValue: precision)!]
                for p in precisions {
                    for mode in profile.power.modes {
                        configurations.append(try DeviceFit.analyze(facts, profile: profile, precision: .fixed(p), powerMode: mode.name))
                    }
                }
            }
            let result = DeviceSelection.select(configurations, constraints: constraints, objective: objective, top: top,
                                                accuracy: measured)
            let text = json ? try SelectionRendering.json(result, model: self.model) : SelectionRendering.table(result, model: self.model)
            FileHandle.standardOutput.write(Data(text.utf8))
            return result.ranked.isEmpty ? .gateFailed : .success
        }
    }
}
