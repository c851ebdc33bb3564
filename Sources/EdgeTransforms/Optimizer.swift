import EdgeIR
import EdgeRuntime
import Foundation

/// The library entry point behind `edgeopt optimize`: optional opset conversion, the pass
/// pipeline with check-and-rollback, and lowering of fused operators for export.
public struct OptimizeOptions: Sendable {
    public var passes: [any GraphPass] = PassRegistry.all
    /// Convert the default-domain opset to this version first (must be ≥ the model's).
    public var targetOpset: Int?
    /// Expand calls to model-local functions into their bodies before the passes run, so that
    /// rewrites can cross the function boundary (e.g. fold a BatchNormalization whose statistics
    /// the caller passes in as weights). Without it, passes run inside each body, which keeps the
    /// function's interface.
    public var inlineFunctions: Bool = false
    /// Run the engine on the original and after each pass; roll back passes that diverge.
    public var check: Bool = true
    public var tolerance: Double = 1e-5
    public var seed: UInt64 = 0
    /// Extra feed sets for the check (inputs by name).
    public var data: [[String: Tensor]] = []
    /// Values for symbolic input dimensions in the check's random inputs (default 1).
    public var dims: [String: Int] = [:]
    public var exportStyle: FusedExport.Style = .standard
    public var maxIterations: Int = 4
    public var threads: Int? = nil
    public var log: (@Sendable (String) -> Void)?
    public init() {}
}

public struct OptimizeReport: Codable, Sendable, Equatable {
    public var model: String?
    public var output: String?
    public var pipeline: PipelineReport
    public var opsetBefore: Int
    public var opsetAfter: Int
    /// Nodes of the written (lowered, standard-ONNX) model.
    public var writtenNodes: Int
    public var checked: Bool
    public var tolerance: Double?
    /// Final check of the written model against the original (nil without a check).
    public var finalError: Double?
    public var finalCheck: String?
    public var inputBytes: Int?
    /// Local functions expanded by `inlineFunctions` (nil when not requested).
    public var inlinedFunctions: Int?
    public var outputBytes: Int?
    public var rolledBack: [String] { pipeline.rolledBack.map(\.name) }
    /// True when any pass was rolled back or the final check failed.
    public var checkFailed: Bool
    /// Engine latency of the original and the optimized (fused) model, with `--benchmark`.
    public var latency: LatencyComparison?
}

public enum Optimizer {
    /// Optimizes `model` and returns (in-memory optimized model with fused ops, model to write,
    /// report). Throws only for bad input; a failed check is reported, not thrown.
    public static func optimize(_ model: Model, options: OptimizeOptions) throws -> (optimized: Model, lowered: Model, report: OptimizeReport) {
        let opsetBefore = Int(model.onnxOpsetVersion ?? 1)
        var working = model
        let functionCount = model.functions.count
        if options.inlineFunctions { working = try working.inliningLocalFunctions() }
        var passes = options.passes
        if let target = options.targetOpset {
            if target != opsetBefore { passes.insert(ConvertOpset(target: target), at: 0) }
        }
        let sessionOptions = options.threads.map { SessionOptions(threads: $0) } ?? EquivalenceCheck.defaultOptions
        let check: EquivalenceCheck?
        if options.check {
            do {
                check = try EquivalenceCheck(reference: model, tolerance: options.tolerance, seed: options.seed,
                                             data: options.data, dims: options.dims, options: sessionOptions)
            } catch let error as EdgeError {
                throw EdgeError(error.kind, "cannot run the original model for the check (use --no-check to skip it): \(error.message)")
            }
        } else {
            check = nil
        }
        var pipeline = Pipeline(passes: passes, maxIterations: options.maxIterations, check: check)
        pipeline.log = options.log
        let pipelineReport = try pipeline.run(&working)
        if let v = working.onnxOpsetVersion, Int(v) > opsetBefore {
            working.irVersion = max(working.irVersion, ConvertOpset.minimumIRVersion(opset: Int(v)))
        } else if let v = working.onnxOpsetVersion, Int(v) < opsetBefore {
            // Older toolchains also reject newer IR versions: use the IR of the target opset's onnx
            // release, unless the model's element types need a newer one (float8: 9, 4-bit: 10).
            working.irVersion = min(working.irVersion, max(ConvertOpset.minimumIRVersion(opset: Int(v)), working.minimumIRVersionForTypes))
        }
        var lowered = FusedExport.lower(working, style: options.exportStyle)
        let context = PassContext(model: lowered)
        _ = try Pipeline.apply(DeduplicateWeights(), to: &lowered.graph, context: context)
        Pipeline.removeDeadCode(&lowered.graph)
        if lowered.irVersion < 4 {
            // IR 3 requires every initializer to be listed as a graph input as well.
            let listed = Set(lowered.graph.inputs.map(\.name))
            for (name, t) in lowered.graph.initializers where !listed.contains(name) {
                lowered.graph.inputs.append(ValueInfo(name: name, tensor: TensorType(t.dtype, fixed: t.shape)))
            }
        }
        var report = OptimizeReport(pipeline: pipelineReport, opsetBefore: opsetBefore,
                                    opsetAfter: Int(working.onnxOpsetVersion ?? 1), writtenNodes: lowered.totalNodeCount,
                                    checked: check != nil, tolerance: check?.tolerance, checkFailed: false)
        if options.inlineFunctions { report.inlinedFunctions = functionCount }
        if let check {
            // The lowered model is what users get; prove it too (contrib ops are not in the engine).
            let outcome = check.compare(options.exportStyle == .standard ? lowered : working)
            report.finalError = outcome.maxError
            report.finalCheck = outcome.summary
            report.checkFailed = !outcome.passed || !pipelineReport.rolledBack.isEmpty
            if !outcome.passed {
                // Never hand out a model that fails the check: fall back to the original.
                options.log?("final check failed (\(outcome.summary)); writing the original model")
                return (model, model, report)
            }
        }
        return (working, lowered, report)
    }
}
