import Foundation

/// An operator-set import: which version of a domain's operators the model uses.
public struct OpsetImport: Hashable, Sendable, Codable {
    /// "" for the default ONNX domain.
    public var domain: String
    public var version: Int64
    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A model-local function (ONNX `FunctionProto`).
public struct Function: Sendable, Equatable {
    public var name: String
    public var domain: String
    public var overload: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributeNames: [String]
    public var attributeDefaults: [Attribute]
    public var nodes: [Node]
    public var opsetImports: [OpsetImport]
    public var valueInfo: [ValueInfo]
    public var docString: String
    public var metadataProps: [MetadataEntry]

    public init(name: String, domain: String, overload: String = "", inputs: [String], outputs: [String],
                attributeNames: [String] = [], attributeDefaults: [Attribute] = [], nodes: [Node],
                opsetImports: [OpsetImport], valueInfo: [ValueInfo] = [], docString: String = "",
                metadataProps: [MetadataEntry] = []) {
        self.name = name
        self.domain = domain
        self.overload = overload
        self.inputs = inputs
        self.outputs = outputs
        self.attributeNames = attributeNames
        self.attributeDefaults = attributeDefaults
        self.nodes = nodes
        self.opsetImports = opsetImports
        self.valueInfo = valueInfo
        self.docString = docString
        self.metadataProps = metadataProps
    }
}

/// A whole ONNX model: header fields, opset imports, the main graph and local functions.
public struct Model: Sendable, Equatable {
    public var irVersion: Int64
    public var opsetImports: [OpsetImport]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int64
    public var docString: String
    public var metadataProps: [MetadataEntry]
    public var graph: Graph
    public var functions: [Function]
    /// Serialized `TrainingInfoProto` and `DeviceConfigurationProto` messages, carried through
    /// untouched (edgeopt neither reads nor edits them).
    public var opaqueTrainingInfo: [Data]
    public var opaqueDeviceConfigurations: [Data]

    public init(irVersion: Int64 = 8, opsetImports: [OpsetImport], producerName: String = "edgeopt",
                producerVersion: String = EdgeOptVersion.string, domain: String = "", modelVersion: Int64 = 0,
                docString: String = "", metadataProps: [MetadataEntry] = [], graph: Graph,
                functions: [Function] = [], opaqueTrainingInfo: [Data] = [], opaqueDeviceConfigurations: [Data] = []) {
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.metadataProps = metadataProps
        self.graph = graph
        self.functions = functions
        self.opaqueTrainingInfo = opaqueTrainingInfo
        self.opaqueDeviceConfigurations = opaqueDeviceConfigurations
    }

    /// Version of the default ONNX domain ("" or "ai.onnx"), or nil when not imported.
    public var onnxOpsetVersion: Int64? {
        opsetImports.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version
    }

    public func opsetVersion(domain: String) -> Int64? {
        if domain.isEmpty || domain == "ai.onnx" { return onnxOpsetVersion }
        return opsetImports.first { $0.domain == domain }?.version
    }
}

public enum EdgeOptVersion {
    public static let string = "0.1.0"
}
