/// A node attribute value (ONNX `AttributeProto`).
public indirect enum AttributeValue: Sendable, Equatable {
    case float(Float)
    case int(Int64)
    case string([UInt8])
    case tensor(Tensor)
    case graph(Graph)
    case sparseTensor(SparseTensor)
    case type(ValueType)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([Graph])
    case sparseTensors([SparseTensor])
    case types([ValueType])
}

public struct Attribute: Sendable, Equatable {
    public var name: String
    public var value: AttributeValue
    /// Inside a function body: the caller's attribute this one refers to (`ref_attr_name`).
    public var refAttrName: String?
    public var docString: String

    public init(_ name: String, _ value: AttributeValue, refAttrName: String? = nil, docString: String = "") {
        self.name = name
        self.value = value
        self.refAttrName = refAttrName
        self.docString = docString
    }
}

extension Array where Element == Attribute {
    public subscript(name: String) -> AttributeValue? {
        first { $0.name == name }?.value
    }
}
