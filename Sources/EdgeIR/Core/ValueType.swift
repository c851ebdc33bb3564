/// One dimension of a tensor shape as a model declares it.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    /// A named dynamic dimension such as "batch" (ONNX `dim_param`).
    case symbolic(String)
    /// Neither value nor name is known.
    case unknown

    public var value: Int? {
        if case .fixed(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .symbolic(let s): return s
        case .unknown: return "?"
        }
    }
}

/// Element type and (possibly partial) shape of a tensor value. `shape == nil` means the rank
/// itself is unknown.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var elementType: DType
    public var shape: [Dim]?

    public init(_ elementType: DType, _ shape: [Dim]?) {
        self.elementType = elementType
        self.shape = shape
    }

    public init(_ elementType: DType, fixed shape: [Int]) {
        self.init(elementType, shape.map(Dim.fixed))
    }

    /// The concrete shape, when every dimension is known.
    public var fixedShape: [Int]? {
        guard let shape else { return nil }
        var dims: [Int] = []
        for d in shape {
            guard let v = d.value else { return nil }
            dims.append(v)
        }
        return dims
    }

    public var description: String {
        guard let shape else { return "\(elementType)[*]" }
        return "\(elementType)[\(shape.map(\.description).joined(separator: ","))]"
    }
}

/// The type of a graph value (ONNX `TypeProto`).
public indirect enum ValueType: Hashable, Sendable, CustomStringConvertible {
    case tensor(TensorType)
    case sparseTensor(TensorType)
    case sequence(ValueType?)
    case optional(ValueType?)
    case map(key: DType, value: ValueType?)

    public var tensorType: TensorType? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    public var description: String {
        switch self {
        case .tensor(let t): return t.description
        case .sparseTensor(let t): return "sparse \(t)"
        case .sequence(let e): return "seq(\(e?.description ?? "?"))"
        case .optional(let e): return "optional(\(e?.description ?? "?"))"
        case .map(let k, let v): return "map(\(k),\(v?.description ?? "?"))"
        }
    }
}

/// A named, typed value: a graph input, output or intermediate with declared type.
public struct ValueInfo: Hashable, Sendable {
    public var name: String
    public var type: ValueType?
    public var docString: String
    public var metadataProps: [MetadataEntry]

    public init(name: String, type: ValueType?, docString: String = "", metadataProps: [MetadataEntry] = []) {
        self.name = name
        self.type = type
        self.docString = docString
        self.metadataProps = metadataProps
    }

    public init(name: String, tensor: TensorType) {
        self.init(name: name, type: .tensor(tensor))
    }

    public var tensorType: TensorType? { type?.tensorType }
}

/// A key/value pair of ONNX `metadata_props`, order preserved.
public struct MetadataEntry: Hashable, Sendable, Codable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
