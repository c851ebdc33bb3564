import ArgumentParser
import EdgeIR
import EdgeTransforms
import Foundation

/// `edgeopt optimize`: graph cleanup and fusion with a numerical guard.
struct OptimizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize",
        abstract: "Clean up and fuse a model's graph, proving each rewrite with the engine.",
        discussion: """
            Runs the pass pipeline to a fixed point. With the check (on by default) the engine runs \
            the original model and the model after every pass that changed something, on seeded random \
            inputs plus --data; a pass whose outputs move beyond --tolerance (max|a-b|/max|b| per output) \
            is rolled back and named in the report, and the command exits 1 after writing the model \
            without it. The output is standard ONNX (fused activations and residual Adds are written as \
            Conv/Gemm + Add + activation) unless --fused-conv-contrib asks for onnxruntime's \
            com.microsoft::FusedConv (a fused residual Add as its fourth input Z). \
            The input is never modified; the output is written atomically.
            Passes: \(PassRegistry.names.joined(separator: ", ")).
            """)

    @Argument(help: "The ONNX model to optimize.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the optimized model.")
    var output: String

    @Option(help: "Passes to run: 'default' or a comma-separated list of pass names.")
    var passes: String = "default"

    @Option(help: "Convert the default-domain opset to this version (newer, or older down to 11).")
    var targetOpset: Int?

    @Flag(help: "Expand calls to model-local functions into their bodies first (passes then work across the calls; the output has no local functions). Without it, passes run inside each function body.")
    var inlineFunctions = false

    @Flag(inversion: .prefixedNo, help: "Check every rewrite by running the engine (roll back passes that diverge).")
    var check = true

    @Option(help: "An .npz file of input tensors (keys = input names) added to the check's random inputs.")
    var data: String?

    @Option(help: "Largest relative output error a pass may introduce (max|a-b| / max|b| per output).")
    var tolerance: Double = 1e-5

    @Option(help: "Seed of the check's random inputs.")
    var seed: UInt64 = 0

    @Option(help: "Output format of the report: table or json.")
    var format: String = "table"

    @Flag(help: "Write fused Conv+activation (and Conv+residual Add) as onnxruntime's com.microsoft::FusedConv.")
    var fusedConvContrib = false

    @Flag(help: "Store initializers in the external data file '<OUT>.data'.")
    var externalData = false

    @Option(name: .customLong("dim"), help: ArgumentHelp("Value of a symbolic input dimension in the check (default 1), e.g. batch=2 (repeatable).", valueName: "name=value"))
    var dimArguments: [String] = []

    @Option(help: "Also time the engine on the original and the optimized model: median of this many runs each.")
    var benchmark: Int?

    @Flag(help: "With --benchmark: turn off the engine's own compile-time Conv+BN/activation fusion in both runs.")
    var noEngineFusion = false

    @Option(help: "Worker threads for --benchmark (default 1).")
    var threads: Int = 1

    @Flag(name: .shortAndLong, help: "Log each pass on stderr.")
    var verbose = false

    func validate() throws {
        if let benchmark, benchmark < 1 { throw ValidationError("--benchmark needs at least 1 run") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard ["table", "json"].contains(format) else { throw ValidationError("--format must be table or json") }
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a non-negative number") }
        do { _ = try PassRegistry.passes(for: passes) } catch let error as EdgeError { throw ValidationError(error.message) }
        if let targetOpset, targetOpset < 1 || targetOpset > 30 { throw ValidationError("--target-opset \(targetOpset) is not an ONNX opset") }
        _ = try dims()
    }

    func dims() throws -> [String: Int] {
        var result: [String: Int] = [:]
        for argument in dimArguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let v = Int(parts[1]), v > 0 else { throw ValidationError("--dim \(argument): expected name=positive integer") }
            result[parts[0]] = v
        }
        return result
    }

    func run() throws {
        try runReportingErrors {
            let source = try ONNXReader.read(path: model)
            var options = OptimizeOptions()
            options.passes = try PassRegistry.passes(for: passes)
            options.targetOpset = targetOpset
            options.inlineFunctions = inlineFunctions
            options.check = check
            options.tolerance = tolerance
            options.seed = seed
            options.dims = try dims()
            options.exportStyle = fusedConvContrib ? .onnxruntimeContrib : .standard
            if verbose { options.log = { printError($0) } }
            if let data {
                let tensors = try NPZFile.read(path: data)
                var feed: [String: Tensor] = [:]
                for (name, t) in tensors { feed[name] = t }
                let inputs = Set(source.graph.runtimeInputs.map(\.name))
                guard feed.keys.contains(where: inputs.contains) else {
                    throw EdgeError.badInput("\(data): no array is named after a model input (inputs: \(inputs.sorted().joined(separator: ", ")))")
                }
                options.data = [feed]
            }
            let (optimized, lowered, partial) = try Optimizer.optimize(source, options: options)
            var report = partial
            if let benchmark {
                report.latency = try LatencyBenchmark.compare(source, optimized, runs: benchmark, threads: threads, seed: seed,
                                                              dims: options.dims, engineFusion: !noEngineFusion)
            }
            report.model = model
            report.output = output
            let written = try ONNXWriter.write(lowered, to: output, externalData: externalData ? .always(threshold: 1024) : .automatic)
            report.inputBytes = fileSize(model) + externalDataSize(of: source, next: model)
            report.outputBytes = written.totalBytes
            let converting = targetOpset.map { $0 != Int(source.onnxOpsetVersion ?? 0) } ?? false
            // 1 KiB allowance: the writer rewrites header fields (producer name/version, IR version)
            // whose length differs from the input's; anything beyond that is real growth.
            // Inlining copies a function body into every call site, so it may add nodes (as an opset
            // conversion may); both are explicit requests.
            if !converting, !inlineFunctions, let a = report.inputBytes, let b = report.outputBytes, b > a + 1024 {
                // The promise is "never larger" (onnxsim #309); hand back the model as it came in.
                let written = try ONNXWriter.write(source, to: output, externalData: externalData ? .always(threshold: 1024) : .automatic)
                report.finalCheck = "the optimized model (\(b) bytes) was larger than the input (\(a) bytes); wrote the input model instead"
                report.checkFailed = true
                report.outputBytes = written.totalBytes
            }
            print(format == "json" ? try json(report) : table(report), terminator: "")
            if report.checkFailed {
                printError("check failed: \(report.rolledBack.isEmpty ? (report.finalCheck ?? "") : "rolled back " + report.rolledBack.joined(separator: ", "))")
                return .gateFailed
            }
            return .success
        }
    }

    /// Bytes of the external data files the input model references (they count towards its size).
    func externalDataSize(of model: Model, next path: String) -> Int {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { name in
            name.hasSuffix(".data") && name.hasPrefix(URL(fileURLWithPath: path).lastPathComponent)
        } ?? [])
        return files.reduce(0) { $0 + fileSize(directory.appendingPathComponent($1).path) }
    }

    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
    }

    func json(_ report: OptimizeReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    func table(_ r: OptimizeReport) -> String {
        var lines: [String] = []
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            s.count >= w ? s : (right ? String(repeating: " ", count: w - s.count) + s : s + String(repeating: " ", count: w - s.count))
        }
        lines.append("\(pad("pass", 34)) \(pad("status", 12)) \(pad("rewrites", 8, right: true)) \(pad("nodes -", 7, right: true)) \(pad("max error", 10, right: true)) \(pad("time", 8, right: true))")
        for p in r.pipeline.passes {
            let err = p.maxError.map { String(format: "%.2e", $0) } ?? "-"
            lines.append("\(pad(p.name, 34)) \(pad(p.status.rawValue, 12)) \(pad(String(p.rewrites), 8, right: true)) \(pad(String(p.nodesRemoved), 7, right: true)) \(pad(err, 10, right: true)) \(pad(String(format: "%.2fs", p.seconds), 8, right: true))")
            if let reason = p.reason { lines.append("    \(reason)") }
        }
        lines.append("")
        lines.append("nodes: \(r.pipeline.nodesBefore) → \(r.pipeline.nodesAfter) (optimized IR), \(r.writtenNodes) written")
        lines.append("weights: \(r.pipeline.weightBytesBefore) → \(r.pipeline.weightBytesAfter) bytes; file: \(r.inputBytes ?? 0) → \(r.outputBytes ?? 0) bytes")
        if let n = r.inlinedFunctions { lines.append("local functions inlined: \(n)") }
        if r.opsetAfter != r.opsetBefore { lines.append("opset: \(r.opsetBefore) → \(r.opsetAfter)") }
        lines.append("sweeps: \(r.pipeline.iterations); pipeline \(String(format: "%.2f", r.pipeline.seconds)) s including \(r.pipeline.checks) check(s) taking \(String(format: "%.2f", r.pipeline.checkSeconds)) s")
        if r.checked {
            lines.append("check: \(r.finalCheck ?? "-") (tolerance \(r.tolerance ?? 0))")
        } else {
            lines.append("check: off")
        }
        if !r.rolledBack.isEmpty { lines.append("rolled back: \(r.rolledBack.joined(separator: ", "))") }
        if let l = r.latency {
            lines.append(String(format: "engine latency (median of %d, %d thread(s)): %.3f ms → %.3f ms (%.2f×)",
                                l.runs, l.threads, l.beforeMedianMs, l.afterMedianMs, l.speedup))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
