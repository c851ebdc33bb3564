import ArgumentParser
import EdgeCompression
import EdgeIR
import EdgeOpt
import Foundation

/// `edgeopt quantize` options for weight-only block-wise quantization (`--precision int4`,
/// `--precision int8 --weight-only`) and dynamic quantization (`--mode dynamic`).
struct WeightQuantizationArguments: ParsableArguments {
    @Flag(help: "With --precision int8: quantize weights only (block-wise), keep activations float.")
    var weightOnly = false

    @Option(help: "static (calibrated activations, the default) or dynamic (int8 weights, activations quantized at run time; no --calib).")
    var mode: Mode = .static

    @Option(help: "Weight-only: elements per block along the reduction axis (16, 32, 64, 128 or 256).")
    var blockSize: Int = 32

    @Flag(help: "Weight-only: symmetric (signed, zero point 0; the default) or asymmetric (unsigned with per-block zero points).")
    var symmetry: Symmetry = .symmetric

    @Option(help: "Weight-only: rtn (round to nearest) or gptq (needs --calib).")
    var algorithm: WeightOnlyOptions.Algorithm = .rtn

    @Flag(inversion: .prefixedNo, help: "GPTQ: collect each layer's Hessian with the layers before it already quantized (the reference order; one calibration pass per dependent layer). --no-sequential uses the float model's activations for all layers in one pass.")
    var sequential = true

    @Flag(help: "GPTQ: process columns in decreasing order of input energy (act-order), with block scales fixed from the original weights; helps most with outlier input channels.")
    var actOrder = false

    @Option(help: "Weight-only output: dq (opset-21 blocked DequantizeLinear) or matmulnbits (ONNX Runtime's com.microsoft::MatMulNBits for MatMul/Gemm).")
    var weightFormat: WeightOnlyOptions.Format = .dq

    @Option(help: "--mode dynamic: LSTM as microsoft (ONNX Runtime's com.microsoft::DynamicQuantizeLSTM, int8 products; the default) or dq (int8 W/R behind DequantizeLinear, standard ONNX, float compute). GRU and RNN are always dq.")
    var lstmFormat: DynamicQuantizationOptions.LSTMFormat = .microsoft

    enum Mode: String, ExpressibleByArgument, CaseIterable { case `static`, dynamic }
    enum Symmetry: String, EnumerableFlag { case symmetric, asymmetric }

    /// True when these options, not static INT8, decide the run.
    func applies(precision: String) -> Bool {
        mode == .dynamic || precision == "int4" || (precision == "int8" && weightOnly)
    }

    /// Static INT8: weight-only options would be ignored, so they are refused.
    func validateUnused() throws {
        if mode != .dynamic, lstmFormat != .microsoft { throw ValidationError("--lstm-format applies to --mode dynamic") }
        if blockSize != 32 || symmetry != .symmetric || algorithm != .rtn || weightFormat != .dq || !sequential || actOrder {
            throw ValidationError("--block-size, --asymmetric, --algorithm, --weight-format, --no-sequential and --act-order apply to weight-only quantization (--precision int4, or int8 with --weight-only)")
        }
    }

    func validate(precision: String, calib: String?) throws {
        if mode == .dynamic {
            guard precision == "int8", !weightOnly else { throw ValidationError("--mode dynamic is int8 (weights) with run-time activation quantization; drop --precision \(precision)/--weight-only") }
            try validateUnused()
            return
        }
        if lstmFormat != .microsoft { throw ValidationError("--lstm-format applies to --mode dynamic") }
        guard [16, 32, 64, 128, 256].contains(blockSize) else { throw ValidationError("--block-size must be 16, 32, 64, 128 or 256") }
        if algorithm == .gptq, calib == nil { throw ValidationError("--algorithm gptq needs --calib (the layers' input Hessians come from calibration activations)") }
        if algorithm != .gptq, !sequential || actOrder { throw ValidationError("--no-sequential and --act-order apply to --algorithm gptq") }
    }
}

extension WeightOnlyOptions.Algorithm: ExpressibleByArgument {}
extension WeightOnlyOptions.Format: ExpressibleByArgument {}
extension DynamicQuantizationOptions.LSTMFormat: ExpressibleByArgument {}

extension QuantizeCommand {
    /// Weight-only or dynamic quantization, end to end: read, quantize, write, summarize.
    func runWeightQuantization() throws {
        try runReportingErrors {
            let source = try ONNXReader.read(path: model)
            let calibration = try calib.map { try CalibrationDataSet.load(path: $0, model: source, batchSize: batchSize) }
            let evaluation = try eval.map { try CalibrationDataSet.load(path: $0, model: source, batchSize: batchSize) }
            if let evaluation, let labels { _ = try evaluation.extra(named: labels) }
            let quantized: Model
            var report: WeightQuantizationReport
            if weights.mode == .dynamic {
                var options = DynamicQuantizationOptions()
                options.perChannel = weightGranularity == .perChannel
                options.excludedNodes = Set(exclude)
                options.lstmFormat = weights.lstmFormat
                let (q, summary) = try DynamicQuantizer.quantize(source, options: options)
                quantized = q
                try ONNXWriter.write(q, to: output)
                report = WeightQuantizationReport(model: model, output: output, mode: "int8 dynamic",
                                                  fileBytesBefore: fileSize(model), fileBytesAfter: fileSize(output), dynamic: summary)
            } else {
                var options = WeightOnlyOptions()
                options.bits = precision == "int4" ? 4 : 8
                options.blockSize = weights.blockSize
                options.symmetric = weights.symmetry == .symmetric
                options.algorithm = weights.algorithm
                options.sequential = weights.sequential
                options.activationOrder = weights.actOrder
                options.format = weights.weightFormat
                options.excludedNodes = Set(exclude)
                options.threads = threads
                let bar = weights.algorithm == .gptq ? ProgressBar(label: "collecting Hessians") : nil
                if let bar { options.progress = { @Sendable done, total in bar.update(done, total) } }
                let (q, summary) = try WeightOnlyQuantizer.quantize(source, data: weights.algorithm == .gptq ? calibration : nil, options: options)
                bar?.finish()
                quantized = q
                try ONNXWriter.write(q, to: output)
                report = WeightQuantizationReport(model: model, output: output, mode: "\(precision) weight-only",
                                                  fileBytesBefore: fileSize(model), fileBytesAfter: fileSize(output), weightOnly: summary)
            }
            if let evaluation, let labels {
                (report.top1Before, report.top1After) = try top1(before: source, after: quantized, data: evaluation, labels: labels)
                report.evaluation = eval
            }
            print(try report.rendered(as: format), terminator: "")
            return .success
        }
    }
}
