import ArgumentParser
import EdgeIR
import EdgeOpt
import Foundation

extension OutputFormat: ExpressibleByArgument {}

/// `edgeopt report`: size, compute and memory of a model, optionally against a baseline.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report a model's size, parameters, operators, MACs/FLOPs and activation memory.",
        discussion: """
            Parameters are the elements of floating-point and quantized-integer weights \
            (initializers, Constant nodes, ConstantOfShape over constant shapes, including inside \
            If/Loop/Scan bodies), each stored tensor counted once; int64 shape data is reported as \
            constant elements. MACs: Conv = output elements × C_in/group × kernel area, \
            MatMul/Gemm = M×N×K; FLOPs = 2×MACs plus bias adds and elementwise work. Activation \
            memory is planned over a topological schedule that frees each buffer after its last \
            consumer: the ideal peak, the arena a best-fit allocator needs, and the naive sum. \
            Dynamic dimensions can be pinned with --input-shape and --dim; ops edgeopt does not know \
            are listed, not fatal. Exit status 65 for unreadable or malformed models.
            """)

    @Argument(help: "The ONNX model to report on.")
    var model: String

    @Option(help: "Another model to compare against (e.g. the unoptimized original).")
    var baseline: String?

    @Option(help: "Output format: table (for people), json (for scripts), markdown (for pull requests).")
    var format: OutputFormat = .table

    @Flag(help: "Add a row per node: name, op, output shape, parameters, bytes, MACs.")
    var perLayer = false

    @OptionGroup var shapes: ShapeOptions

    func run() throws {
        try runReportingErrors {
            let inputShapes = try shapes.inputShapes
            let dims = try shapes.dims
            let report = try ModelReport.make(path: model, inputShapes: inputShapes, dims: dims, perLayer: perLayer)
            let text: String
            if let baseline {
                // The baseline may name its inputs differently: pins that do not apply to it are dropped.
                let base = try ModelReport.make(path: baseline, inputShapes: inputShapes, dims: dims, perLayer: perLayer,
                                                ignoringPinsForOtherInputs: true)
                text = try ComparisonReport(model: report, baseline: base).rendered(as: format)
            } else {
                text = try report.rendered(as: format)
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            return .success
        }
    }
}
