import ArgumentParser
import EdgeAnalysis
import EdgeDevices
import EdgeIR
import Foundation

/// `edgeopt fit MODEL`: will the model run on each device, where, and how fast.
struct FitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Check whether a model fits each device: operators on the accelerator, memory, latency, FPS, energy.",
        discussion: """
            One row per device: whether the model deploys, the share of operators and MACs the \
            accelerator runs (partition rule of the toolchain: Edge TPU maps only the first contiguous \
            supported subgraph), memory against the usable limit (and the Edge TPU's parameter cache), \
            estimated batch-1 latency, FPS and energy per inference, and every reason it does not fit. \
            Without --device, all devices are checked. Exit status 1 when a device named with --device \
            does not fit; 65 for an unreadable model, an unknown device or power mode.
            """)

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: .customLong("device"), help: ArgumentHelp("A device name or alias (repeatable).", valueName: "NAME"))
    var devices: [String] = []

    @Flag(help: "Check every device (the default without --device).")
    var all = false

    @Option(help: "fp32, fp16, int8 or auto (each device's preferred precision).")
    var precision: String = "auto"

    @Option(name: .customLong("power-mode"), help: ArgumentHelp("Power mode name (devices without it use their default).", valueName: "NAME"))
    var powerMode: String?

    @Flag(help: "Print JSON (bytes, seconds, joules, watts, USD).")
    var json = false

    @Option(name: .customLong("profiles"), help: ArgumentHelp("A directory of user profiles (repeatable).", valueName: "DIR"))
    var profileDirectories: [String] = []

    @OptionGroup var shapes: ShapeOptions

    func validate() throws {
        if PrecisionChoice(argument: precision) == nil {
            throw ValidationError("--precision must be fp32, fp16, bf16, int8, int4 or auto, not '\(precision)'")
        }
        if all && !devices.isEmpty { throw ValidationError("--all and --device are exclusive") }
    }

    func run() throws {
        try runReportingErrors {
            let catalog = try ProfileCatalog.load(userDirectories: profileDirectories)
            let profiles = devices.isEmpty ? catalog.profiles : try devices.map { try catalog.profile(named: $0) }
            let results = try FitRun.analyze(path: model, profiles: profiles, precision: PrecisionChoice(argument: precision)!,
                                             powerMode: powerMode, inputShapes: try shapes.inputShapes, dims: try shapes.dims)
            let text = json ? try FitRendering.json(results, model: model) : FitRendering.table(results, model: model)
            FileHandle.standardOutput.write(Data(text.utf8))
            return !devices.isEmpty && results.contains { !$0.fits } ? .gateFailed : .success
        }
    }
}

enum FitRun {
    static func analyze(path: String, profiles: [DeviceProfile], precision: PrecisionChoice, powerMode: String?,
                        inputShapes: [String: [Int]], dims: [String: Int]) throws -> [FitResult] {
        let model = try ONNXReader.read(path: path)
        let facts = try ModelFacts(model: model, analysis: try ModelAnalysis(model: model, inputShapes: inputShapes, dims: dims))
        if let powerMode, !profiles.contains(where: { $0.power.modes.contains { $0.name == powerMode } }) {
            throw EdgeError.badInput("no device has a power mode '\(powerMode)'")
        }
        return try profiles.map { profile in
            let has = powerMode.map { name in profile.power.modes.contains { $0.name == name } } ?? true
            var result = try DeviceFit.analyze(facts, profile: profile, precision: precision, powerMode: has ? powerMode : nil)
            if !has { result.notes.append("no power mode '\(powerMode!)': used \(result.powerMode)") }
            return result
        }
    }
}

/// `edgeopt estimator-error` (hidden): the estimator against the published latencies of the
/// calibration table, one row per measurement and the median absolute error.
struct EstimatorErrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimator-error", abstract: "Print the latency estimator's error on the calibration rows.", shouldDisplay: false)

    @Option(help: "The calibration CSV (device,model,input,precision,batch,latency_ms,source).")
    var csv: String = "Tests/Fixtures/device-latency-calibration.csv"

    @Option(help: "Directory of <model>_<input>.onnx graphs.")
    var models: String = "Tests/Fixtures/arch-light"

    @Option(name: .customLong("profiles"), help: ArgumentHelp("A directory of user profiles (repeatable).", valueName: "DIR"))
    var profileDirectories: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try runReportingErrors {
            let report = try Calibration.run(csv: csv, models: models, catalog: try ProfileCatalog.load(userDirectories: profileDirectories))
            let text: String
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
            } else {
                text = Calibration.table(report)
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            return .success
        }
    }
}
