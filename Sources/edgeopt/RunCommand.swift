import ArgumentParser
import EdgeIR
import EdgeRuntime
import Foundation
import OrderedCollections

/// `edgeopt run MODEL --input name=file.npy … [--output out.npz]`: runs a model once on the CPU
/// engine and prints a summary of each output (or writes them all to an .npz).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on given inputs with edgeopt's CPU engine.",
        discussion: """
            Inputs are .npy, .npz or ONNX TensorProto .pb files: --input name=file.npy gives one \
            input; --input file.npz gives every input whose name is a key of the archive. Each \
            output is summarized on stdout (dtype, shape, min/max/mean, first values); --output \
            writes all outputs to an .npz (or .npy when the model has one output). Exit status \
            65 for an unsupported operator or inputs of the wrong name, dtype or shape.
            """)

    @Argument(help: "The ONNX model to run.")
    var model: String

    @Option(name: .customLong("input"), help: ArgumentHelp("An input: name=file.npy|.pb, or an .npz of several (repeatable).", valueName: "name=file"))
    var inputs: [String] = []

    @Option(name: .shortAndLong, help: "Write the outputs to this .npz (or .npy for a single output).")
    var output: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Round float32 weights and activations through half precision (FP16 execution preview).")
    var fp16 = false

    @Flag(help: "Keep every convolution on im2col: no Winograd for stride-1 3×3 layers (same memory, slower 3×3 layers).")
    var noWinograd = false

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try ONNXReader.read(path: model)
            var options = SessionOptions(threads: threads, fp16: fp16)
            options.winograd = !noWinograd
            let session = try Session(model: loaded, options: options)
            var feeds: [String: Tensor] = [:]
            for argument in inputs {
                for (name, tensor) in try TensorFiles.readInput(argument, modelInputs: session.inputs.map(\.name)) {
                    guard feeds[name] == nil else { throw EdgeError.badInput("input '\(name)' is given twice") }
                    feeds[name] = tensor
                }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let results = try session.run(feeds)
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            if let output {
                var archive = OrderedDictionary<String, Tensor>()
                for name in session.outputNames { archive[name] = results[name] }
                if output.hasSuffix(".npy") {
                    guard archive.count == 1 else { throw EdgeError.badInput("the model has \(archive.count) outputs; write them to an .npz") }
                    try NumPyFile.write(archive.values.first!, to: output)
                } else {
                    try NPZFile.write(archive, to: output)
                }
            }
            let summaries = session.outputNames.map { TensorSummary(name: $0, tensor: results[$0]!) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                // Outputs may hold ±Inf/NaN (IEEE propagation); JSON has no literal for them.
                encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                struct Report: Encodable { var model: String; var milliseconds: Double; var outputs: [TensorSummary] }
                let data = try encoder.encode(Report(model: model, milliseconds: milliseconds, outputs: summaries))
                print(String(decoding: data, as: UTF8.self))
            } else {
                for s in summaries { print(s.line) }
                printError(String(format: "ran in %.2f ms", milliseconds))
            }
            return .success
        }
    }
}

/// Reading `--input` arguments.
enum TensorFiles {
    /// `name=path` → one tensor; a bare `.npz` path → the archive's arrays that name model inputs.
    static func readInput(_ argument: String, modelInputs: [String]) throws -> [(String, Tensor)] {
        if let eq = argument.lastIndex(of: "="), eq != argument.startIndex {
            let name = String(argument[..<eq]), path = String(argument[argument.index(after: eq)...])
            return [(name, try read(path))]
        }
        guard argument.hasSuffix(".npz") else {
            throw EdgeError.badInput("--input \(argument): expected name=file (or an .npz archive)")
        }
        let archive = try NPZFile.read(path: argument)
        let picked = archive.filter { modelInputs.contains($0.key) }
        guard !picked.isEmpty else {
            throw EdgeError.badInput("\(argument) holds none of the model's inputs (\(modelInputs.joined(separator: ", ")))", file: argument)
        }
        return picked.map { ($0.key, $0.value) }
    }

    static func read(_ path: String) throws -> Tensor {
        if path.hasSuffix(".pb") { return try TensorProtoFile.read(path: path).tensor }
        if path.hasSuffix(".npz") {
            let archive = try NPZFile.read(path: path)
            guard archive.count == 1, let only = archive.values.first else {
                throw EdgeError.badInput("\(path) holds \(archive.count) arrays; name one input per array", file: path)
            }
            return only
        }
        return try NumPyFile.read(path: path)
    }
}

/// What `run` prints about one output.
struct TensorSummary: Encodable {
    var name: String
    var dtype: String
    var shape: [Int]
    var min: Double?
    var max: Double?
    var mean: Double?
    var nanCount: Int
    var first: [Double]

    init(name: String, tensor: Tensor) {
        self.name = name
        dtype = tensor.dtype.description
        shape = tensor.shape
        let values = tensor.dtype == .string ? [] : tensor.doubleValues()
        let finite = values.filter { !$0.isNaN }
        nanCount = values.count - finite.count
        min = finite.min()
        max = finite.max()
        mean = finite.isEmpty ? nil : finite.reduce(0, +) / Double(finite.count)
        first = Array(values.prefix(8))
    }

    var line: String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "-" }
        let head = first.map { String(format: "%.6g", $0) }.joined(separator: ", ")
        return "\(name): \(dtype)\(shape) min \(f(min)) max \(f(max)) mean \(f(mean))" + (nanCount > 0 ? " NaN \(nanCount)" : "")
            + " [\(head)\(shape.reduce(1, *) > first.count ? ", …" : "")]"
    }
}
