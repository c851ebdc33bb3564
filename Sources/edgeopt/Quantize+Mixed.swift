import ArgumentParser
import EdgeCompression
import EdgeIR
import EdgeOpt
import Foundation

/// `edgeopt quantize` options for FP16 conversion and the accuracy-budget search.
struct PrecisionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Accuracy budget: N% (or N) allows a drop of N percentage points of --metric (0.5% lets top-1 98.74% fall to 98.24%); N%rel allows N percent of the float model's value. Needs --eval.",
        valueName: "drop"))
    var maxAccuracyDrop: String?

    @Option(help: "Budget metric on the first output: top1 (needs --labels), agreement (top-1 agreement with the float model), cosine or sqnr. Default: top1 with --labels, else agreement.")
    var metric: AccuracyMetric?

    @Option(name: .customLong("min-sqnr"), help: ArgumentHelp("Budget for --metric sqnr: the lowest acceptable output SQNR.", valueName: "dB"))
    var minSQNR: Double?

    @Option(help: "Most models the budget search builds and scores (the all-INT8 one included).")
    var maxTrials: Int?

    @Option(help: ArgumentHelp("Seconds after which the budget search starts no new trial.", valueName: "seconds"))
    var timeLimit: Double?

    @Flag(name: .customLong("keep-io-types"), inversion: .prefixedNo,
          help: "FP16: keep float32 graph inputs and outputs, with Casts at the boundary (default on).")
    var keepIOTypes = true

    var isBudgeted: Bool { maxAccuracyDrop != nil || minSQNR != nil }
}

extension AccuracyMetric: ExpressibleByArgument {}

extension QuantizeCommand {
    func validatePrecision() throws {
        guard ["int8", "fp16", "mixed"].contains(precision) else {
            throw ValidationError("--precision must be int8, int4, fp16 or mixed, got '\(precision)'")
        }
        if precision != "fp16", calib == nil { throw ValidationError("--precision \(precision) needs --calib") }
        if precision == "mixed", !budget.isBudgeted {
            throw ValidationError("--precision mixed needs an accuracy budget: --max-accuracy-drop (or --min-sqnr with --metric sqnr)")
        }
        guard budget.isBudgeted else {
            if budget.metric != nil || budget.maxTrials != nil || budget.timeLimit != nil {
                throw ValidationError("--metric, --max-trials and --time-limit go with --max-accuracy-drop or --min-sqnr")
            }
            return
        }
        guard eval != nil else { throw ValidationError("an accuracy budget needs --eval (the data it is measured on)") }
        if budget.maxAccuracyDrop != nil, budget.minSQNR != nil { throw ValidationError("give --max-accuracy-drop or --min-sqnr, not both") }
        let metric = try budgetMetric()
        if metric == .top1, labels == nil { throw ValidationError("--metric top1 needs --labels") }
        _ = try accuracyBudget()
        if let n = budget.maxTrials, n < 1 { throw ValidationError("--max-trials must be at least 1") }
        if let t = budget.timeLimit, !(t > 0) { throw ValidationError("--time-limit must be positive") }
    }

    func budgetMetric() throws -> AccuracyMetric {
        if budget.minSQNR != nil {
            if let m = budget.metric, m != .sqnr { throw ValidationError("--min-sqnr is the budget of --metric sqnr, not \(m.rawValue)") }
            return .sqnr
        }
        return budget.metric ?? (labels != nil ? .top1 : .agreement)
    }

    func accuracyBudget() throws -> AccuracyBudget {
        let metric = try budgetMetric()
        if let dB = budget.minSQNR { return AccuracyBudget(metric: .sqnr, limit: .minimumSQNR(dB)) }
        do { return try AccuracyBudget.parseDrop(budget.maxAccuracyDrop ?? "", metric: metric) } catch let e as EdgeError {
            throw ValidationError(e.message)
        }
    }

    /// fp16, mixed, and int8 with a budget.
    func runPrecision() throws {
        try runReportingErrors {
            let start = Date()
            let source = try ONNXReader.read(path: model)
            // Data sets are checked against the model before any work starts.
            let calibration = try calib.map { try CalibrationDataSet.load(path: $0, model: source, batchSize: batchSize) }
            let evaluation = try eval.map { try CalibrationDataSet.load(path: $0, model: source, batchSize: batchSize) }
            if let evaluation, let labels { _ = try evaluation.extra(named: labels) }
            let budgetValue = budget.isBudgeted ? try accuracyBudget() : nil

            if precision == "fp16" {
                var options = FP16ConversionOptions()
                options.keepIOTypes = budget.keepIOTypes
                options.excludedNodes = Set(exclude)
                if let calibration {
                    options.overflowingValues = try FP16RangeCheck.overflowingActivations(source, data: calibration, threads: threads)
                }
                let (converted, summary) = try FP16Converter.convert(source, options: options)
                try ONNXWriter.write(converted, to: output)
                var report = PrecisionReport(model: model, output: output, precision: precision,
                                             fileBytesBefore: fileSize(model), fileBytesAfter: fileSize(output),
                                             weightBytesBefore: summary.weightBytesBefore, weightBytesAfter: summary.weightBytesAfter, seconds: 0)
                report.fp16 = summary
                var status = ExitStatus.success
                // Accuracy before and after: the budget's metric, or top-1 with --labels.
                if let evaluation, budgetValue != nil || labels != nil {
                    let b = budgetValue ?? AccuracyBudget(metric: .top1, limit: .absolute(100))
                    let evaluator = try MetricEvaluator(reference: source, data: evaluation, metric: b.metric, labels: labels, threads: threads)
                    let (value, perOutput) = try evaluator.scores(converted)
                    report.outputs = perOutput
                    report.metric = b.metric.rawValue
                    report.evaluation = eval
                    report.referenceValue = evaluator.referenceValue.isFinite ? evaluator.referenceValue : nil
                    report.finalValue = value.isFinite ? value : nil
                    if let budgetValue {
                        report.budget = budgetValue.description
                        let met = budgetValue.isMet(value, reference: evaluator.referenceValue)
                        report.budgetMet = met
                        if !met {
                            report.shortfall = budgetValue.floor(reference: evaluator.referenceValue) - value
                            status = .gateFailed
                        }
                    } else {
                        report.budget = nil
                        report.metric = "top1"
                    }
                }
                report.seconds = Date().timeIntervalSince(start)
                print(try report.rendered(as: format), terminator: "")
                return status
            }

            // INT8 with a budget (fallback to FP32 only) or mixed (INT8 → FP16 → FP32).
            guard let calibration, let evaluation, let budgetValue else {
                throw EdgeError.internalError("budgeted quantization without --calib, --eval or a budget")
            }
            let quantization = try staticOptions()
            var options = MixedPrecisionOptions(budget: budgetValue)
            options.quantization = quantization
            options.allowFP16 = precision == "mixed"
            options.maxTrials = budget.maxTrials
            options.timeLimit = budget.timeLimit
            options.labels = labels
            options.log = { @Sendable line in printError(line) }
            let bar = ProgressBar(label: "calibrating")
            if let bar {
                options.quantization.progress = { @Sendable done, total in
                    bar.update(done, total)
                    if done == total { bar.finish() }
                }
            }
            let result = try MixedPrecisionSearch.run(source, calibration: calibration, evaluation: evaluation, options: options)
            try ONNXWriter.write(result.model, to: output)
            var report = PrecisionReport(model: model, output: output, precision: precision,
                                         fileBytesBefore: fileSize(model), fileBytesAfter: fileSize(output),
                                         weightBytesBefore: result.quantization.weightBytesBefore,
                                         weightBytesAfter: StaticQuantizer.weightBytes(result.model.graph), seconds: 0)
            report.record(result, evaluation: eval ?? "")
            report.seconds = Date().timeIntervalSince(start)
            print(try report.rendered(as: format), terminator: "")
            if !result.met {
                printError("error: the accuracy budget (\(budgetValue)) is not met; the best model found was written to \(output)")
            }
            return result.met ? .success : .gateFailed
        }
    }
}
