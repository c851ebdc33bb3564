import EdgeIR

/// Every stored tensor of a model, counted once, and split into parameters and constants.
///
/// Conventions (the independent Python count in `Tests/interop/test_report.py` follows the same):
/// - A weight is an initializer, the tensor of a `Constant` node, or the output of a standard
///   `ConstantOfShape` whose shape is known without running the model (exporters and model
///   "lighteners" materialize whole weight tensors that way) — in the main graph and in every
///   If/Loop/Scan body.
/// - Weights are counted by storage name: a tensor used by several nodes (or aliased through
///   `Identity`) counts once; two differently named tensors count twice even when their bytes are
///   identical.
/// - A **parameter** is an element of a weight whose type is floating point or an integer type
///   other than int64 (int8/uint8/int4/int32… are quantized weights, zero points and biases).
///   int64, bool and string weights (shapes, axes, indices, masks) are **constant elements**,
///   reported separately.
/// - Bytes are the packed ONNX size, `⌈elements × bits / 8⌉` (string weights: their UTF-8 length).
public struct WeightInventory: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var elements: Int
        public var bytes: Int
        public var kind: Kind
        /// True for weights inside an If/Loop/Scan body.
        public var inSubgraph: Bool
        public var isParameter: Bool { WeightInventory.isParameterType(dtype) }
    }

    public enum Kind: String, Sendable {
        case initializer
        case constantNode
        case constantOfShape
    }

    public var entries: [Entry] = []

    public static func isParameterType(_ dtype: DType) -> Bool {
        (dtype.isFloatingPoint || dtype.isInteger) && dtype != .int64
    }

    public var parameterCount: Int { entries.lazy.filter(\.isParameter).map(\.elements).reduce(0, +) }
    public var parameterBytes: Int { entries.lazy.filter(\.isParameter).map(\.bytes).reduce(0, +) }
    public var constantElementCount: Int { entries.lazy.filter { !$0.isParameter }.map(\.elements).reduce(0, +) }
    public var totalBytes: Int { entries.lazy.map(\.bytes).reduce(0, +) }

    /// Bytes and elements per element type, all weights.
    public var byDType: [DType: (elements: Int, bytes: Int, tensors: Int)] {
        var map: [DType: (elements: Int, bytes: Int, tensors: Int)] = [:]
        for e in entries {
            let old = map[e.dtype] ?? (0, 0, 0)
            map[e.dtype] = (old.elements + e.elements, old.bytes + e.bytes, old.tensors + 1)
        }
        return map
    }

    /// Lookup by name (the main-graph or subgraph storage name).
    public var byName: [String: Entry] {
        var map: [String: Entry] = [:]
        for e in entries where map[e.name] == nil { map[e.name] = e }
        return map
    }

    public init(model: Model, shapes: ShapeInferenceResult) {
        for weight in model.graph.weights(recursive: true) {
            let t = weight.tensor
            let bytes = t.dtype == .string ? t.strings.reduce(0) { $0 + $1.count } : t.dtype.byteCount(elements: t.elementCount)
            let kind: Kind = { if case .initializer = weight.location.kind { return .initializer }; return .constantNode }()
            entries.append(Entry(name: weight.location.name, dtype: t.dtype, shape: t.shape, elements: t.elementCount,
                                 bytes: bytes, kind: kind, inSubgraph: !weight.location.graphPath.isEmpty))
        }
        collectGenerated(model.graph, shapes: shapes, inSubgraph: false)
    }

    private mutating func collectGenerated(_ graph: Graph, shapes: ShapeInferenceResult, inSubgraph: Bool) {
        for node in graph.nodes {
            if node.opType == "ConstantOfShape", node.isStandardDomain, let out = node.outputs.first, !out.isEmpty,
               shapes.staticValues.contains(out), let type = shapes.types[out], let shape = type.fixedShape,
               let elements = DimMath.product(shape), elements < 1 << 56 {
                entries.append(Entry(name: out, dtype: type.elementType, shape: shape, elements: elements,
                                     bytes: type.elementType.byteCount(elements: elements), kind: .constantOfShape,
                                     inSubgraph: inSubgraph))
            }
            for sub in node.subgraphs { collectGenerated(sub, shapes: shapes, inSubgraph: true) }
        }
    }

    /// Parameter tensors whose bytes equal an earlier tensor's of the same type and shape (in
    /// storage order): weights a deduplicating exporter would share. They still count in
    /// `parameterCount`, which counts storage; this says how much sharing could save.
    public static func duplicates(in model: Model) -> (tensors: Int, elements: Int, bytes: Int) {
        struct Key: Hashable { var dtype: DType; var shape: [Int] }
        var groups: [Key: [Tensor]] = [:]
        var result = (tensors: 0, elements: 0, bytes: 0)
        for weight in model.graph.weights(recursive: true) {
            let t = weight.tensor
            guard isParameterType(t.dtype), t.elementCount > 1 else { continue }
            let key = Key(dtype: t.dtype, shape: t.shape)
            let seen = groups[key, default: []]
            // Tensor equality compares bytes (cheap when storage is shared, exact otherwise).
            if seen.contains(where: { $0 == t }) {
                result.tensors += 1
                result.elements += t.elementCount
                result.bytes += t.byteCount
            } else {
                groups[key, default: []].append(t)
            }
        }
        return result
    }
}
