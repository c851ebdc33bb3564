import OrderedCollections

/// A computation graph (ONNX `GraphProto`): nodes in file order, named values, weights.
/// The Graph is the single source of truth between pipeline steps; passes edit it in place.
public struct Graph: Sendable, Equatable {
    public var name: String
    public var docString: String
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Declared types of intermediate values.
    public var valueInfo: [ValueInfo]
    /// Weights stored as initializers, in file order. Weights held by `Constant` nodes live in
    /// those nodes' `value` attributes; `Weights.swift` enumerates both kinds.
    public var initializers: OrderedDictionary<String, Tensor>
    public var sparseInitializers: [SparseTensor]
    public var nodes: [Node]
    /// ONNX `quantization_annotation`, kept so that a round trip is lossless.
    public var quantizationAnnotations: [TensorAnnotation]
    public var metadataProps: [MetadataEntry]

    public init(name: String = "", docString: String = "", inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                valueInfo: [ValueInfo] = [], initializers: OrderedDictionary<String, Tensor> = [:],
                sparseInitializers: [SparseTensor] = [], nodes: [Node] = [],
                quantizationAnnotations: [TensorAnnotation] = [], metadataProps: [MetadataEntry] = []) {
        self.name = name
        self.docString = docString
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
        self.initializers = initializers
        self.sparseInitializers = sparseInitializers
        self.nodes = nodes
        self.quantizationAnnotations = quantizationAnnotations
        self.metadataProps = metadataProps
    }

    /// Graph inputs that are not initializers (older exporters list weights as inputs too).
    public var runtimeInputs: [ValueInfo] {
        inputs.filter { initializers[$0.name] == nil }
    }

    /// Declared type of a value, from inputs, outputs or value_info.
    public func declaredType(of name: String) -> ValueType? {
        if let v = inputs.first(where: { $0.name == name }) { return v.type }
        if let v = valueInfo.first(where: { $0.name == name }) { return v.type }
        if let v = outputs.first(where: { $0.name == name }) { return v.type }
        return nil
    }

    /// Index of the node producing each value name.
    public func producerIndex() -> [String: Int] {
        var map: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { map[output] = i }
        }
        return map
    }

    /// Indices of the nodes consuming each value name (including uses inside subgraphs, which
    /// capture outer values by name).
    public func consumerIndices() -> [String: [Int]] {
        var map: [String: [Int]] = [:]
        for (i, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty { map[input, default: []].append(i) }
            for sub in node.subgraphs {
                for name in sub.outerScopeReferences() { map[name, default: []].append(i) }
            }
        }
        return map
    }

    /// Names a subgraph reads but does not define itself: values captured from enclosing scopes.
    public func outerScopeReferences() -> Set<String> {
        var defined = Set(inputs.map(\.name))
        defined.formUnion(initializers.keys)
        defined.formUnion(sparseInitializers.map(\.name))
        var used = Set<String>()
        for node in nodes {
            for input in node.inputs where !input.isEmpty { used.insert(input) }
            for sub in node.subgraphs { used.formUnion(sub.outerScopeReferences()) }
            for output in node.outputs where !output.isEmpty { defined.insert(output) }
        }
        for output in outputs { used.insert(output.name) }
        return used.subtracting(defined)
    }
}

/// ONNX `TensorAnnotation`: quantization parameter tensor names for one tensor.
public struct TensorAnnotation: Sendable, Equatable {
    public var tensorName: String
    public var quantParameterTensorNames: [MetadataEntry]
    public init(tensorName: String, quantParameterTensorNames: [MetadataEntry]) {
        self.tensorName = tensorName
        self.quantParameterTensorNames = quantParameterTensorNames
    }
}
