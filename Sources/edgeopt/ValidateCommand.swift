import ArgumentParser
import EdgeCompression
import EdgeIR
import EdgeOpt
import Foundation

/// `edgeopt validate`: how far a candidate model's outputs are from a reference's.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Compare a candidate model (e.g. quantized) with a reference model on a data set.",
        discussion: """
            Runs both models with edgeopt's engine on every sample of --data and reports, per output \
            shared by both: top-1 against --labels (when given), top-1 agreement, cosine similarity, \
            SQNR (dB) and the largest absolute error; then, for every intermediate tensor name both \
            models compute, its SQNR, worst first (per-layer attribution). Data: an .npz file, a \
            directory of <input>.npy files (samples along axis 0) or numbered 0.npy, 1.npy, … batches \
            (one-input models), or an ONNX test_data_set_*/input_K.pb layout.
            """)

    @Option(help: "The reference (e.g. float) model.")
    var reference: String

    @Option(help: "The candidate model.")
    var candidate: String

    @Option(help: "Evaluation data (.npz, .npy directory or test_data_set_* directory).")
    var data: String

    @Option(help: "Name of the integer label array in the data set (enables top-1 accuracy).")
    var labels: String?

    @Option(help: "Samples per engine run (models with a fixed batch dimension use theirs).")
    var batchSize: Int = 32

    @Flag(inversion: .prefixedNo, help: "Attribute error to intermediate tensors both models share.")
    var layers = true

    @Option(help: "Output format: table, json or markdown.")
    var format: OutputFormat = .table

    @Option(help: "Worker threads (default: cores).")
    var threads: Int?

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try runReportingErrors {
            // Integer-I/O models (full-integer scheme) are compared through their float view:
            // the recorded input/output quantization put back, so float data drives both.
            let ref = try IntegerIO.floatView(ONNXReader.read(path: reference))
            let cand = try IntegerIO.floatView(ONNXReader.read(path: candidate))
            let dataSet = try CalibrationDataSet.load(path: data, model: ref, batchSize: batchSize)
            var options = ModelValidator.Options(labels: labels)
            options.layers = layers
            options.threads = threads
            let report = try ModelValidator.validate(reference: ref, candidate: cand, data: dataSet,
                                                     names: (reference, candidate), options: options)
            print(try report.rendered(as: format), terminator: "")
            return .success
        }
    }
}
