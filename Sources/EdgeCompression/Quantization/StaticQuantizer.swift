import EdgeIR
import EdgeRuntime
import EdgeTransforms
import Foundation

public struct StaticQuantizationOptions: Sendable {
    public var scheme: QuantizationScheme = .default
    public var method: CalibrationMethod = .minMax
    /// Nodes (by name) left in float.
    public var excludedNodes: Set<String> = []
    public var threads: Int? = nil
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// QDQ (QuantizeLinear/DequantizeLinear around float ops) or QOperator (QLinearConv, …).
    public var format: QuantizationFormat = .qdq
    /// Cross-layer equalization before calibration, with this ReLU6 policy (nil: off).
    public var equalization: CrossLayerEqualization.Relu6Policy? = nil
    /// Empirical bias correction of quantized Conv/Gemm layers from the calibration data.
    public var biasCorrection = false
    public init() {}
}

/// The form of a statically quantized model.
public enum QuantizationFormat: String, Sendable, Codable, CaseIterable {
    /// Float operators between DequantizeLinear and QuantizeLinear (ONNX Runtime's QDQ format).
    case qdq
    /// Integer operators (QLinearConv, QLinearMatMul, com.microsoft QGemm) with Q/DQ only at the
    /// boundaries of quantized regions (`QOperatorConversion`).
    case qoperator
}

/// A prepared model with its calibrated activation parameters (`StaticQuantizer.calibrate`).
public struct StaticCalibration: Sendable {
    /// The model as given, before fusion.
    public var original: Model
    /// Fused, opset-raised float model that calibration ran on.
    public var prepared: Model
    public var inference: ShapeInferenceResult?
    public var parameters: [String: ActivationQuantization]
    public var ranges: [StaticQuantizationSummary.ActivationRange]
    public var samples: Int
    public var batches: Int
    public var seconds: Double
    /// Cross-layer equalization applied to `prepared` (nil: none) and the measured float change.
    public var equalization: CrossLayerEqualization.Outcome? = nil
    public var equalizationFloatError: Double? = nil
    /// Per-sample mean inputs of the Conv/Gemm layers, for bias correction.
    public var means: [String: Tensor] = [:]
}

/// What a static quantization did.
public struct StaticQuantizationSummary: Sendable, Codable, Equatable {
    public var scheme: String
    public var method: String
    public var calibrationSamples: Int
    public var calibrationBatches: Int
    public var opsetBefore: Int
    public var opsetAfter: Int
    public var quantizedNodes: Int
    public var quantizedActivations: Int
    public var quantizedWeights: Int
    public var quantizedBiases: Int
    /// Bytes of all initializer and Constant-node tensors before and after.
    public var weightBytesBefore: Int
    public var weightBytesAfter: Int
    public var calibrationSeconds: Double
    public var totalSeconds: Double
    /// Calibrated range of every quantized activation, graph order.
    public var ranges: [ActivationRange]
    public var format: String = QuantizationFormat.qdq.rawValue
    /// QOperator output: integer compute nodes, data-movement nodes on integers, clamps kept.
    public var integerNodes: Int? = nil
    public var integerPassThroughNodes: Int? = nil
    public var keptClamps: Int? = nil
    /// Cross-layer equalization: pairs, sweeps, ReLU6 turned into Relu, pairs skipped at ReLU6,
    /// and the engine-measured relative ∞-norm change of the float outputs on the first calibration batch.
    public var equalizedPairs: Int? = nil
    public var equalizationSweeps: Int? = nil
    public var relu6Replaced: Int? = nil
    public var relu6Skipped: Int? = nil
    public var equalizationFloatError: Double? = nil
    /// Bias correction: layers corrected and the largest shift relative to the layer's bias range.
    public var biasCorrectedLayers: Int? = nil
    public var biasCorrectionLargestShift: Float? = nil

    public struct ActivationRange: Sendable, Codable, Equatable {
        public var tensor: String
        public var min: Float
        public var max: Float
        public var scale: Float
        public var zeroPoint: Int32
    }
}

/// INT8 static post-training quantization into QDQ form (the library entry point behind
/// `edgeopt quantize --precision int8`).
///
/// Steps: (1) fuse — identity/no-op/dead-code cleanup, constant folding, BatchNorm folding into
/// Conv, MatMul+Add → Gemm — so that quantization sees the graph an integer engine executes;
/// (2) raise the opset to 13 when below (per-axis DequantizeLinear needs 13), with the
/// transforms' `ConvertOpset` migrations; (3) plan which activations and weights to quantize
/// (`QuantizationPlan`); (4) calibrate: run the engine over the data set, observing those
/// activations (`Calibrator`); (5) choose ranges (`CalibrationMethod`) and insert Q/DQ with int8
/// weights and int32 biases (`QDQInsertion`).
public enum StaticQuantizer {
    static let minimumOpset = 13

    public static let fusionPasses: [any GraphPass] = [
        EliminateIdentity(), FoldConstants(), EliminateNoOps(), EliminateDeadNodes(),
        FoldBatchNormIntoConv(), FuseMatMulAdd(),
    ]

    /// Fused, opset-raised float model that calibration runs on (step 1 and 2).
    public static func prepare(_ model: Model) throws -> Model {
        var working = model
        var passes = fusionPasses
        let opset = Int(model.onnxOpsetVersion ?? 1)
        if opset < minimumOpset { passes.insert(ConvertOpset(target: minimumOpset), at: 0) }
        let pipeline = Pipeline(passes: passes, maxIterations: 3, check: nil)
        _ = try pipeline.run(&working)
        if let v = working.onnxOpsetVersion {
            working.irVersion = max(working.irVersion, ConvertOpset.minimumIRVersion(opset: Int(v)))
        }
        return working
    }

    public static func quantize(_ model: Model, data: CalibrationDataSet, options: StaticQuantizationOptions) throws -> (model: Model, summary: StaticQuantizationSummary) {
        let start = Date()
        let calibration = try calibrate(model, data: data, options: options)
        var (result, summary) = try build(calibration, options: options)
        summary.totalSeconds = Date().timeIntervalSince(start)
        return (result, summary)
    }

    /// Steps 1–4: the prepared model and the calibrated parameters of every activation its plan
    /// (with `options.excludedNodes`) quantizes. A calibration made with no exclusions serves any
    /// later `build` that excludes nodes: excluding nodes only removes activations from the plan.
    public static func calibrate(_ model: Model, data: CalibrationDataSet, options: StaticQuantizationOptions) throws -> StaticCalibration {
        var prepared = try prepare(model)
        var equalization: (CrossLayerEqualization.Outcome, Double)? = nil
        if let policy = options.equalization {
            equalization = try equalize(&prepared, policy: policy, data: data)
        }
        let inference = try? ShapeInference.infer(graph: prepared.graph, opsetImports: prepared.opsetImports)
        var plan = QuantizationPlan(graph: prepared.graph, scheme: options.scheme, types: inference?.types ?? [:],
                                    staticValues: inference?.staticValues ?? [], excluded: options.excludedNodes)
        guard !plan.quantizedNodes.isEmpty || !plan.activations.isEmpty else {
            throw EdgeError.unsupported("the model has no Conv, ConvTranspose, Gemm or MatMul with float weights or activations to quantize")
        }
        var ties: [String: String] = [:]
        if options.format == .qoperator {
            ties = SharedScales.tie(&plan, graph: prepared.graph, constants: Set(GraphConstants(prepared.graph).constantNames))
        }
        let start = Date()
        let sessionOptions = options.threads.map { SessionOptions(threads: $0) } ?? SessionOptions()
        let calibrator = Calibrator(options: sessionOptions, progress: options.progress)
        var meanTensors = Set<String>()
        if options.biasCorrection {
            for use in plan.weights where ["Conv", "Gemm"].contains(prepared.graph.nodes[use.node].opType) {
                meanTensors.insert(prepared.graph.nodes[use.node].inputs[0])
            }
        }
        let (stats, means) = try calibrator.collect(model: prepared, tensors: plan.activations, data: data,
                                                    histograms: options.method.needsHistogram, meanTensors: meanTensors)
        let seconds = Date().timeIntervalSince(start)

        var parameters: [String: ActivationQuantization] = [:]
        var ranges: [StaticQuantizationSummary.ActivationRange] = []
        let interface = Set(prepared.graph.outputs.map(\.name)).union(prepared.graph.runtimeInputs.map(\.name))
        for name in plan.activations {
            guard let s = stats[name], s.minMax.count > 0 else { continue }
            // Graph inputs and outputs keep their full observed range whatever the method.
            // Outputs: clipping logits saturates the largest scores to one value and destroys
            // the ranking (measured: entropy-clipped logits cost digits_cnn 7 points of top-1).
            // Inputs: data with few distinct levels (pixels k/16) fools KL into clipping at the
            // first level (measured: threshold 0.063 of 1.0, top-1 10%).
            let method = interface.contains(name) ? CalibrationMethod.minMax : options.method
            let range = method.range(s, scheme: options.scheme)
            guard range.lowerBound.isFinite, range.upperBound.isFinite else {
                throw EdgeError.badInput("tensor '\(name)' took non-finite values during calibration (range \(range)); the model overflows on the calibration data")
            }
            let p = ActivationQuantization(range: range, type: options.scheme.activationType, symmetric: options.scheme.symmetricActivations)
            parameters[name] = p
            ranges.append(.init(tensor: name, min: range.lowerBound, max: range.upperBound, scale: p.scale, zeroPoint: p.zeroPoint))
        }
        // Data-movement ops carry their input's parameters (QOperator runs them on integers).
        for (tensor, head) in ties {
            guard let p = parameters[head], let k = ranges.firstIndex(where: { $0.tensor == tensor }) else { continue }
            parameters[tensor] = p
            ranges[k].scale = p.scale
            ranges[k].zeroPoint = p.zeroPoint
        }
        return StaticCalibration(original: model, prepared: prepared, inference: inference, parameters: parameters, ranges: ranges,
                                 samples: data.sampleCount, batches: data.batchCount, seconds: seconds,
                                 equalization: equalization?.0, equalizationFloatError: equalization?.1, means: means)
    }

    /// Step 5: QDQ insertion for the plan with `options.excludedNodes` left in float, from a
    /// calibration (which may have been made with fewer exclusions).
    public static func build(_ calibration: StaticCalibration, options: StaticQuantizationOptions) throws -> (model: Model, summary: StaticQuantizationSummary) {
        let start = Date()  // totalSeconds of a build alone; `quantize` reports the whole run
        var prepared = calibration.prepared
        let inference = calibration.inference
        var plan = QuantizationPlan(graph: prepared.graph, scheme: options.scheme, types: inference?.types ?? [:],
                                    staticValues: inference?.staticValues ?? [], excluded: options.excludedNodes)
        if options.format == .qoperator {
            // Same ties as in `calibrate` (the heads were calibrated there; their parameters already
            // copied to the tied tensors).
            _ = SharedScales.tie(&plan, graph: prepared.graph, constants: Set(GraphConstants(prepared.graph).constantNames))
        }
        let wanted = Set(plan.activations)
        let parameters = calibration.parameters.filter { wanted.contains($0.key) }
        let context = PassContext(model: prepared)
        var correction: BiasCorrection.Outcome? = nil
        if options.biasCorrection {
            correction = try BiasCorrection.apply(prepared.graph, plan: &plan, means: calibration.means, opsetImports: prepared.opsetImports,
                                                  freshName: context.freshName)
            prepared.graph = correction!.graph
        }
        var result = prepared
        let outcome = try QDQInsertion.apply(prepared.graph, plan: plan, parameters: parameters, context: context)
        result.graph = outcome.graph
        var conversion: QOperatorConversion.Outcome? = nil
        if options.format == .qoperator {
            conversion = try QOperatorConversion.apply(result)
            result = conversion!.model
        }
        let equalization = calibration.equalization
        let summary = StaticQuantizationSummary(
            scheme: options.scheme.name, method: options.method.name,
            calibrationSamples: calibration.samples, calibrationBatches: calibration.batches,
            opsetBefore: Int(calibration.original.onnxOpsetVersion ?? 1), opsetAfter: Int(result.onnxOpsetVersion ?? 1),
            quantizedNodes: plan.quantizedNodes.count, quantizedActivations: parameters.count,
            quantizedWeights: outcome.quantizedWeights, quantizedBiases: outcome.quantizedBiases,
            weightBytesBefore: weightBytes(calibration.original.graph), weightBytesAfter: weightBytes(result.graph),
            calibrationSeconds: calibration.seconds, totalSeconds: Date().timeIntervalSince(start),
            ranges: calibration.ranges.filter { wanted.contains($0.tensor) },
            format: options.format.rawValue, integerNodes: conversion?.integerNodes,
            integerPassThroughNodes: conversion?.integerPassThrough, keptClamps: conversion?.keptClamps,
            equalizedPairs: equalization?.pairs, equalizationSweeps: equalization?.sweeps,
            relu6Replaced: equalization?.relu6Replaced, relu6Skipped: equalization?.relu6Skipped,
            equalizationFloatError: calibration.equalizationFloatError,
            biasCorrectedLayers: correction?.corrected, biasCorrectionLargestShift: correction?.largestShift)
        return (result, summary)
    }

    /// Cross-layer equalization of the prepared float model, checked by the engine on the first
    /// calibration batch. An exact policy (`.skip`) must keep the outputs within 1e-4 (relative
    /// ∞-norm; float rounding only) or it is a bug; `.replaceWithRelu` changes the function by
    /// design, and the measured change is reported instead.
    static func equalize(_ model: inout Model, policy: CrossLayerEqualization.Relu6Policy,
                         data: CalibrationDataSet) throws -> (CrossLayerEqualization.Outcome, Double) {
        var observedMax: [String: [Float]] = [:]
        if policy == .bounded {
            observedMax = try channelMaxima(model, tensors: CrossLayerEqualization.relu6Inputs(model.graph), data: data)
        }
        let outcome = CrossLayerEqualization.apply(model.graph, relu6: policy, observedMax: observedMax)
        guard outcome.pairs > 0 else { return (outcome, 0) }
        let firstBatch = data.batches().first(where: { _ in true }).map { [$0] } ?? []
        let check = try EquivalenceCheck(reference: model, tolerance: 1e-4, randomSets: 0, data: firstBatch)
        var candidate = model
        candidate.graph = outcome.graph
        let result = check.compare(candidate)
        if let failure = result.failure { throw EdgeError.internalError("cross-layer equalization: \(failure)") }
        if policy != .replaceWithRelu && !result.passed {
            throw EdgeError.internalError("cross-layer equalization changed the float outputs: \(result.summary)")
        }
        model = candidate
        return (outcome, result.maxError)
    }

    /// Per-channel (axis 1) maxima of `tensors` over the whole data set, by the engine (observed
    /// in its arena as each is computed, as `Calibrator` does).
    static func channelMaxima(_ model: Model, tensors: [String], data: CalibrationDataSet) throws -> [String: [Float]] {
        guard !tensors.isEmpty else { return [:] }
        var options = SessionOptions()
        options.observedTensors = Set(tensors)
        let session = try Session(model: model, options: options)
        var maxima: [String: [Float]] = [:]
        for feed in data.batches() {
            _ = try session.run(feed) { name, t in
                guard t.dtype == .float, t.rank >= 2 else { return }
                let n = t.shape[0], c = t.shape[1], plane = t.elementCount / max(n * c, 1)
                var m = maxima[name] ?? [Float](repeating: -.infinity, count: c)
                t.withUnsafeBytes { raw in
                    let v = raw.bindMemory(to: Float.self)
                    for b in 0..<n { for ch in 0..<c { for k in 0..<plane { m[ch] = max(m[ch], v[(b * c + ch) * plane + k]) } } }
                }
                maxima[name] = m
            }
        }
        return maxima
    }

    /// Bytes of every initializer and Constant-node tensor (subgraphs included).
    public static func weightBytes(_ graph: Graph) -> Int {
        graph.weights().reduce(0) { $0 + $1.tensor.dtype.byteCount(elements: $1.tensor.elementCount) }
    }
}
