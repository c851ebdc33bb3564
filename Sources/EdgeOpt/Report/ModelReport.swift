import EdgeAnalysis
import EdgeIR
import Foundation

/// `edgeopt report`: what a model holds and costs. Codable for `--format json`; the JSON keys
/// are this struct's property names, sorted. See `WeightInventory`, `ComputeCost` and
/// `ActivationMemory` for the counting conventions.
public struct ModelReport: Codable, Sendable, Equatable {
    public static let schema = "edgeopt.report/1"

    public struct ModelInfo: Codable, Sendable, Equatable {
        public var path: String
        /// Size of the .onnx file itself.
        public var fileBytes: Int
        /// Size of the external-data files its tensors live in (0 when all data is inline).
        public var externalDataBytes: Int
        public var irVersion: Int64
        public var producerName: String
        public var producerVersion: String
        public var graphName: String
        public var opsets: [OpsetValue]
        /// Symbolic dimensions bound by `--dim` or pinned input shapes.
        public var dims: [String: Int]
    }

    public struct OpsetValue: Codable, Sendable, Equatable {
        public var domain: String
        public var version: Int64
    }

    public struct Parameters: Codable, Sendable, Equatable {
        /// Parameter elements (floating-point and non-int64 integer weights), shared tensors once.
        public var count: Int
        public var bytes: Int
        /// int64/bool/string weight elements (shapes, axes, indices).
        public var constantElements: Int
        public var constantBytes: Int
        /// Weight tensors (initializers, Constant nodes, ConstantOfShape over constant shapes).
        public var tensors: Int
        /// Parameter elements held inside If/Loop/Scan bodies (included in `count`).
        public var inSubgraphs: Int
        /// Parameter elements materialized by ConstantOfShape (included in `count`).
        public var fromConstantOfShape: Int
        /// Parameter elements held by Constant nodes (included in `count`).
        public var fromConstantNodes: Int
        /// Parameter tensors byte-identical to another of the same type and shape, and their
        /// elements (included in `count`, which counts storage; sharing them would save this).
        public var duplicateTensors: Int
        public var duplicateElements: Int
    }

    public struct DTypeBytes: Codable, Sendable, Equatable {
        public var dtype: String
        public var tensors: Int
        public var elements: Int
        public var bytes: Int
    }

    public struct Compute: Codable, Sendable, Equatable {
        public var macs: Int
        public var flops: Int
        /// Nodes whose cost is unknown (unknown shapes or ops); they contribute 0.
        public var nodesWithUnknownCost: Int
    }

    public struct Memory: Codable, Sendable, Equatable {
        /// Largest sum of simultaneously live activations under the schedule.
        public var peakLiveBytes: Int
        /// Arena size a greedy best-fit buffer-reuse allocator needs for the same schedule.
        public var arenaBytes: Int
        /// All activations summed, no reuse.
        public var naiveBytes: Int
        public var activations: Int
        public var unsizedActivations: Int
        public var peakAt: String?
    }

    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        public var op: String
        public var domain: String
        /// "" for the main graph, else the subgraph path.
        public var graph: String
        public var outputs: [NamedTensorValue]
        public var parameters: Int
        public var bytes: Int
        public var macs: Int
        public var flops: Int
        public var costKnown: Bool
    }

    public var schema: String = ModelReport.schema
    public var model: ModelInfo
    public var inputs: [NamedTensorValue]
    public var outputs: [NamedTensorValue]
    public var parameters: Parameters
    public var bytesByDType: [DTypeBytes]
    public var opCounts: [String: Int]
    /// Ops without a shape rule (custom domains, rare ops): listed, never fatal.
    public var unknownOps: [String: Int]
    public var nodeCount: Int
    public var compute: Compute
    public var memory: Memory
    /// Present with `--per-layer`.
    public var layers: [Layer]?
}

extension ModelReport {
    /// Reads and analyses `path`. Errors are `EdgeError`s naming the file.
    public static func make(path: String, inputShapes: [String: [Int]] = [:], dims: [String: Int] = [:],
                            perLayer: Bool = false, ignoringPinsForOtherInputs: Bool = false) throws -> ModelReport {
        let model = try ONNXReader.read(path: path)
        var pins = inputShapes
        if ignoringPinsForOtherInputs {
            let names = Set(model.graph.runtimeInputs.map(\.name))
            pins = pins.filter { names.contains($0.key) }
        }
        do {
            return try make(model: model, path: path, inputShapes: pins, dims: dims, perLayer: perLayer)
        } catch let error as EdgeError {
            throw error.inFile(path)
        }
    }

    public static func make(model: Model, path: String, inputShapes: [String: [Int]] = [:], dims: [String: Int] = [:],
                            perLayer: Bool = false) throws -> ModelReport {
        let analysis = try ModelAnalysis(model: model, inputShapes: inputShapes, dims: dims)
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let info = ModelInfo(path: path, fileBytes: fileBytes, externalDataBytes: externalDataBytes(model, modelPath: path),
                             irVersion: model.irVersion, producerName: model.producerName,
                             producerVersion: model.producerVersion, graphName: model.graph.name,
                             opsets: model.opsetImports.map { OpsetValue(domain: $0.domain, version: $0.version) },
                             dims: analysis.shapes.dimBindings)
        let w = analysis.weights
        let params = w.entries.filter(\.isParameter)
        let duplicates = WeightInventory.duplicates(in: model)
        let parameters = Parameters(
            count: w.parameterCount, bytes: w.parameterBytes,
            constantElements: w.constantElementCount, constantBytes: w.totalBytes - w.parameterBytes,
            tensors: w.entries.count,
            inSubgraphs: params.filter(\.inSubgraph).map(\.elements).reduce(0, +),
            fromConstantOfShape: params.filter { $0.kind == .constantOfShape }.map(\.elements).reduce(0, +),
            fromConstantNodes: params.filter { $0.kind == .constantNode }.map(\.elements).reduce(0, +),
            duplicateTensors: duplicates.tensors, duplicateElements: duplicates.elements)
        let byDType = w.byDType.map { DTypeBytes(dtype: $0.key.description, tensors: $0.value.tensors, elements: $0.value.elements, bytes: $0.value.bytes) }
            .sorted { ($0.bytes, $1.dtype) > ($1.bytes, $0.dtype) }
        let types = analysis.shapes.types
        let layers: [Layer]? = perLayer ? analysis.nodes.map { n in
            Layer(name: n.name, op: n.opType, domain: n.domain, graph: n.graphPath,
                  outputs: n.outputs.filter { !$0.name.isEmpty }.map { NamedTensorValue(name: $0.name, type: $0.type) },
                  parameters: n.parameters, bytes: n.weightBytes, macs: n.cost.macs, flops: n.cost.flops, costKnown: n.cost.known)
        } : nil
        let m = analysis.memory
        return ModelReport(
            model: info,
            inputs: model.graph.runtimeInputs.map { NamedTensorValue(name: $0.name, type: types[$0.name] ?? $0.tensorType) },
            outputs: model.graph.outputs.map { NamedTensorValue(name: $0.name, type: types[$0.name] ?? $0.tensorType) },
            parameters: parameters, bytesByDType: byDType, opCounts: analysis.opCounts, unknownOps: analysis.unknownOps,
            nodeCount: analysis.nodes.count,
            compute: Compute(macs: analysis.totalMACs, flops: analysis.totalFLOPs, nodesWithUnknownCost: analysis.nodesWithUnknownCost),
            memory: Memory(peakLiveBytes: m.peakLiveBytes, arenaBytes: m.arenaBytes, naiveBytes: m.naiveBytes,
                           activations: m.activationCount, unsizedActivations: m.unsizedValues, peakAt: m.peakNode),
            layers: layers)
    }

    /// Total size of the distinct external-data files the model's weights are mapped from.
    static func externalDataBytes(_ model: Model, modelPath: String) -> Int {
        var files: [String: Int] = [:]
        for weight in model.graph.weights(recursive: true) {
            if let mapped = weight.tensor.storage as? MappedStorage, mapped.file.path != modelPath {
                files[mapped.file.path] = mapped.file.byteCount
            }
        }
        return files.values.reduce(0, +)
    }
}
