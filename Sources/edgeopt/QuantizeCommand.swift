import ArgumentParser
import EdgeCompression
import EdgeIR
import EdgeOpt
import Foundation

/// `edgeopt quantize`: post-training quantization with calibration.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model: INT8 static (QDQ, calibrated), INT4/INT8 weight-only (block-wise) or INT8 dynamic.",
        discussion: """
            Fuses the graph (BatchNorm into Conv, MatMul+Add into Gemm, cleanup), raises the opset to 13 \
            when below, runs edgeopt's engine over --calib observing every activation to be quantized, \
            and writes QDQ ONNX: int8 weights (per channel along the output-channel axis, symmetric; \
            weights held in Constant nodes too), int32 biases, QuantizeLinear/DequantizeLinear on \
            activations. Methods: minmax, percentile[:P] (default P = 99.99), entropy (TensorRT's KL \
            threshold), mse. Schemes: default (uint8 asymmetric activations), symmetric (int8, zero \
            points 0), per-tensor (one weight scale per tensor), full-integer (int8 activations on \
            every float tensor, graph inputs and outputs included). With --eval and --labels the \
            summary shows top-1 before and after, measured by the engine.
            Calibration data: an .npz file (arrays named after the model's inputs, samples along axis \
            0), a directory of <input>.npy files or numbered 0.npy, 1.npy, … batches (one-input \
            models), or an ONNX test_data_set_*/input_K.pb layout.
            """)

    @Argument(help: "The ONNX model to quantize (float32).")
    var model: String

    @Option(help: "Calibration data (.npz, .npy directory or test_data_set_* directory); not needed for fp16, --mode dynamic or RTN weight-only.")
    var calib: String?

    @Option(name: .shortAndLong, help: "Where to write the quantized model.")
    var output: String

    @Option(help: "Precision: int8, fp16, mixed (INT8 with FP16/FP32 fallback under --max-accuracy-drop) or int4 (weight-only, block-wise).")
    var precision: String = "int8"

    @OptionGroup(title: "Weight-only and dynamic quantization")
    var weights: WeightQuantizationArguments

    @Option(help: "Range method: minmax, percentile, percentile:P, entropy or mse.")
    var method: String = "minmax"

    @Option(help: "Scheme: default, symmetric, per-tensor or full-integer.")
    var scheme: String = "default"

    @Flag(help: "Weight scales per output channel (default) or one per tensor.")
    var weightGranularity: WeightGranularity = .perChannel

    @Option(help: "Evaluation data for top-1 before and after (needs --labels).")
    var eval: String?

    @Option(help: "Name of the integer label array in --eval.")
    var labels: String?

    @Option(help: "Samples per engine run during calibration and evaluation.")
    var batchSize: Int = 32

    @Option(help: "Node names to leave in float (repeatable).")
    var exclude: [String] = []

    @Option(help: "Output format of the summary: table, json or markdown.")
    var format: OutputFormat = .table

    @Option(help: "Worker threads (default: cores).")
    var threads: Int?

    @OptionGroup(title: "FP16, mixed precision and accuracy budget")
    var budget: PrecisionOptions

    @Flag(help: "With --scheme full-integer: keep float graph inputs and outputs (QuantizeLinear/DequantizeLinear at the borders) instead of int8 ones.")
    var floatIO = false

    @Option(help: "Quantized model form: qdq (QuantizeLinear/DequantizeLinear) or qoperator (QLinearConv, QLinearMatMul, QGemm).")
    var quantFormat: QuantizationFormat = .qdq

    @Flag(help: "Cross-layer equalization of Conv pairs before calibration (exact across Relu).")
    var equalize = false

    @Option(help: "ReLU6 between an --equalize pair: skip (leave the pair, exact), bounded (equalize only as far as keeps the ReLU6 exact on the calibration data) or relu (treat as Relu; changes the float model).")
    var equalizeRelu6: CrossLayerEqualization.Relu6Policy = .skip

    @Flag(help: "Empirical bias correction of quantized Conv/Gemm layers from the calibration data.")
    var biasCorrection = false

    enum WeightGranularity: String, EnumerableFlag {
        case perChannel, perTensor
    }

    func validate() throws {
        if weights.applies(precision: precision) {
            try weights.validate(precision: precision, calib: calib)
        } else {
            try weights.validateUnused()
            try validatePrecision()
        }
        do {
            _ = try CalibrationMethod.parse(method)
            _ = try QuantizationScheme.named(scheme)
        } catch let error as EdgeError { throw ValidationError(error.message) }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !budget.isBudgeted, (eval == nil) != (labels == nil) { throw ValidationError("--eval and --labels go together") }
    }

    func run() throws {
        if weights.applies(precision: precision) { return try runWeightQuantization() }
        if precision != "int8" || budget.isBudgeted { return try runPrecision() }
        try runReportingErrors {
            let source = try ONNXReader.read(path: model)
            // Both data sets are checked against the model before any work starts.
            let calibration = try CalibrationDataSet.load(path: calib ?? "", model: source, batchSize: batchSize)
            let evaluation = try eval.map { try CalibrationDataSet.load(path: $0, model: source, batchSize: batchSize) }
            if let evaluation, let labels { _ = try evaluation.extra(named: labels) }
            var options = try staticOptions()
            options.format = quantFormat
            options.equalization = equalize ? equalizeRelu6 : nil
            options.biasCorrection = biasCorrection
            let bar = ProgressBar(label: "calibrating")
            if let bar {
                options.progress = { @Sendable done, total in bar.update(done, total) }
            }
            let (quantized, summary) = try StaticQuantizer.quantize(source, data: calibration, options: options)
            bar?.finish()
            // Full-integer: int8 graph inputs and outputs. `quantized` keeps float I/O for the
            // evaluation below; the integer form computes the same numbers.
            let (written, boundaries) = options.scheme.quantizeEverything && !floatIO ? IntegerIO.apply(quantized) : (quantized, [])
            try ONNXWriter.write(written, to: output)
            var report = QuantizationReport(model: model, output: output, precision: precision,
                                            fileBytesBefore: fileSize(model), fileBytesAfter: fileSize(output), summary: summary)
            report.integerIO = boundaries
            if let evaluation, let labels {
                (report.top1Before, report.top1After) = try top1(before: source, after: quantized, data: evaluation, labels: labels)
                report.evaluation = eval
            }
            print(try report.rendered(as: format), terminator: "")
            return .success
        }
    }

    /// Scheme, granularity, method, exclusions and threads: what every static INT8 path shares.
    func staticOptions() throws -> StaticQuantizationOptions {
        var options = StaticQuantizationOptions()
        options.scheme = try QuantizationScheme.named(scheme)
        if weightGranularity == .perTensor { options.scheme.weightGranularity = .perTensor }
        options.method = try CalibrationMethod.parse(method)
        options.excludedNodes = Set(exclude)
        options.threads = threads
        return options
    }

    /// Top-1 of the float and the quantized model on the evaluation data, measured by the engine.
    func top1(before source: Model, after quantized: Model, data: CalibrationDataSet, labels: String) throws -> (Double, Double) {
        (try ModelValidator.top1(model: source, data: data, labels: labels, threads: threads),
         try ModelValidator.top1(model: quantized, data: data, labels: labels, threads: threads))
    }

    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
    }
}

/// A one-line progress bar on stderr, only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
    // @unchecked: updated from the calibration loop only (one thread).
    let label: String
    init?(label: String) {
        guard isatty(STDERR_FILENO) != 0 else { return nil }
        self.label = label
    }
    func update(_ done: Int, _ total: Int) {
        let width = 30
        let filled = total > 0 ? done * width / total : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
    }
    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}

extension QuantizationFormat: ExpressibleByArgument {}
extension CrossLayerEqualization.Relu6Policy: ExpressibleByArgument {}
