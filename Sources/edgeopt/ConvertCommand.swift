import ArgumentParser
import EdgeIR
import Foundation

/// `edgeopt convert`: re-serializes a model through the IR. Useful to check that a model imports
/// cleanly, to normalize it, and to move weights into (or back out of) an external data file.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Read an ONNX model into edgeopt's IR and write it back out.",
        discussion: """
            The output keeps every graph, weight, opset import and metadata entry; the producer \
            becomes edgeopt. With --external-data, initializers of at least --external-threshold \
            bytes go to '<OUT>.data' next to the output; otherwise data stays inline unless the \
            model exceeds protobuf's 2 GB limit. The input is never modified.
            """)

    @Argument(help: "The ONNX model to read.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the converted model.")
    var output: String

    @Flag(help: "Store initializers in the external data file '<OUT>.data'.")
    var externalData = false

    @Option(help: "With --external-data: smallest initializer (bytes) moved to the data file.")
    var externalThreshold: Int = 1024

    @Flag(help: "Skip the structural checks (dangling names, duplicate definitions, cycles).")
    var noValidate = false

    func validate() throws {
        guard externalThreshold >= 0 else { throw ValidationError("--external-threshold must be non-negative") }
    }

    func run() throws {
        try runReportingErrors {
            let model = try ONNXReader.read(path: model, options: ReadOptions(validate: !noValidate))
            let policy: ExternalDataPolicy = externalData ? .always(threshold: externalThreshold) : .automatic
            try ONNXWriter.write(model, to: output, externalData: policy)
            return .success
        }
    }
}
