/// One operator application. Inputs and outputs are value names; an empty name marks an omitted
/// optional input or output, exactly as in ONNX.
public struct Node: Sendable, Equatable {
    public var name: String
    public var opType: String
    /// "" (equivalently "ai.onnx") for standard operators.
    public var domain: String
    public var overload: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public var docString: String
    public var metadataProps: [MetadataEntry]

    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [Attribute] = [], docString: String = "", overload: String = "",
                metadataProps: [MetadataEntry] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.overload = overload
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.docString = docString
        self.metadataProps = metadataProps
    }

    /// True for the default ONNX operator domain.
    public var isStandardDomain: Bool { domain.isEmpty || domain == "ai.onnx" }

    /// A name for messages: the node name, or op type and first output when unnamed.
    public var displayName: String {
        name.isEmpty ? "\(opType)→\(outputs.first ?? "?")" : name
    }

    public func attribute(_ name: String) -> AttributeValue? { attributes[name] }

    public func int(_ name: String) -> Int64? {
        if case .int(let v)? = attributes[name] { return v }
        return nil
    }

    public func float(_ name: String) -> Float? {
        if case .float(let v)? = attributes[name] { return v }
        return nil
    }

    public func ints(_ name: String) -> [Int64]? {
        if case .ints(let v)? = attributes[name] { return v }
        return nil
    }

    public func floats(_ name: String) -> [Float]? {
        if case .floats(let v)? = attributes[name] { return v }
        return nil
    }

    public func string(_ name: String) -> String? {
        if case .string(let v)? = attributes[name] { return String(decoding: v, as: UTF8.self) }
        return nil
    }

    public func tensor(_ name: String) -> Tensor? {
        if case .tensor(let v)? = attributes[name] { return v }
        return nil
    }

    public func graph(_ name: String) -> Graph? {
        if case .graph(let v)? = attributes[name] { return v }
        return nil
    }

    public mutating func setAttribute(_ name: String, _ value: AttributeValue) {
        if let i = attributes.firstIndex(where: { $0.name == name }) {
            attributes[i].value = value
        } else {
            attributes.append(Attribute(name, value))
        }
    }

    public mutating func removeAttribute(_ name: String) {
        attributes.removeAll { $0.name == name }
    }

    /// Input at `index`, or nil when absent or omitted ("").
    public func input(_ index: Int) -> String? {
        index < inputs.count && !inputs[index].isEmpty ? inputs[index] : nil
    }

    /// Subgraphs held in attributes (If branches, Loop/Scan bodies), in attribute order.
    public var subgraphs: [Graph] {
        attributes.flatMap { attribute -> [Graph] in
            switch attribute.value {
            case .graph(let g): return [g]
            case .graphs(let gs): return gs
            default: return []
            }
        }
    }
}
