import Foundation
import ONNXProto
import SwiftProtobuf

/// IR → ModelProto. Optional string fields are set only when non-empty so that a round trip
/// does not add empty fields, and nothing depends on hash order, so output is deterministic.
final class ProtoExporter {
    let external: ExternalDataSink?

    init(external: ExternalDataSink?) {
        self.external = external
    }

    func model(_ model: Model, includeGraph: Bool = true) throws -> Onnx_ModelProto {
        var proto = Onnx_ModelProto()
        proto.irVersion = model.irVersion
        proto.opsetImport = model.opsetImports.map(opset)
        proto.producerName = "edgeopt"
        proto.producerVersion = EdgeOptVersion.string
        if !model.domain.isEmpty { proto.domain = model.domain }
        if model.modelVersion != 0 { proto.modelVersion = model.modelVersion }
        if !model.docString.isEmpty { proto.docString = model.docString }
        proto.metadataProps = metadata(model.metadataProps)
        if includeGraph { proto.graph = try graph(model.graph) }
        proto.functions = try model.functions.map(function)
        do {
            proto.trainingInfo = try model.opaqueTrainingInfo.map { try Onnx_TrainingInfoProto(serializedBytes: $0) }
            proto.configuration = try model.opaqueDeviceConfigurations.map { try Onnx_DeviceConfigurationProto(serializedBytes: $0) }
        } catch {
            throw EdgeError.internalError("stored training info or device configuration no longer decodes: \(error)")
        }
        return proto
    }

    func graph(_ graph: Graph) throws -> Onnx_GraphProto {
        try self.graph(graph, includeNodesAndInitializers: true)
    }

    func graph(_ graph: Graph, includeNodesAndInitializers: Bool) throws -> Onnx_GraphProto {
        var proto = Onnx_GraphProto()
        if !graph.name.isEmpty { proto.name = graph.name }
        if !graph.docString.isEmpty { proto.docString = graph.docString }
        proto.input = graph.inputs.map(valueInfo)
        proto.output = graph.outputs.map(valueInfo)
        proto.valueInfo = graph.valueInfo.map(valueInfo)
        if includeNodesAndInitializers {
            proto.initializer = try graph.initializers.map { name, tensor in
                try self.tensor(tensor, name: name, mayGoExternal: true)
            }
            proto.node = try graph.nodes.map(node)
        }
        proto.sparseInitializer = try graph.sparseInitializers.map(sparseTensor)
        proto.quantizationAnnotation = graph.quantizationAnnotations.map { a in
            var p = Onnx_TensorAnnotation()
            p.tensorName = a.tensorName
            p.quantParameterTensorNames = metadata(a.quantParameterTensorNames)
            return p
        }
        proto.metadataProps = metadata(graph.metadataProps)
        return proto
    }

    func node(_ node: Node) throws -> Onnx_NodeProto {
        var proto = Onnx_NodeProto()
        proto.input = node.inputs
        proto.output = node.outputs
        if !node.name.isEmpty { proto.name = node.name }
        proto.opType = node.opType
        if !node.domain.isEmpty { proto.domain = node.domain }
        if !node.overload.isEmpty { proto.overload = node.overload }
        proto.attribute = try node.attributes.map(attribute)
        if !node.docString.isEmpty { proto.docString = node.docString }
        proto.metadataProps = metadata(node.metadataProps)
        return proto
    }

    func attribute(_ attribute: Attribute) throws -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = attribute.name
        if !attribute.docString.isEmpty { proto.docString = attribute.docString }
        typealias Kind = Onnx_AttributeProto.AttributeType
        let kind: Kind
        switch attribute.value {
        case .float: kind = .float
        case .int: kind = .int
        case .string: kind = .string
        case .tensor: kind = .tensor
        case .graph: kind = .graph
        case .sparseTensor: kind = .sparseTensor
        case .type: kind = .typeProto
        case .floats: kind = .floats
        case .ints: kind = .ints
        case .strings: kind = .strings
        case .tensors: kind = .tensors
        case .graphs: kind = .graphs
        case .sparseTensors: kind = .sparseTensors
        case .types: kind = .typeProtos
        }
        proto.type = kind
        if let ref = attribute.refAttrName {
            // A reference to the calling node's attribute: type only, no value.
            proto.refAttrName = ref
            return proto
        }
        switch attribute.value {
        case .float(let v): proto.f = v
        case .int(let v): proto.i = v
        case .string(let v): proto.s = Data(v)
        case .tensor(let t): proto.t = try tensor(t, name: nil, mayGoExternal: false)
        case .graph(let g): proto.g = try graph(g)
        case .sparseTensor(let s): proto.sparseTensor = try sparseTensor(s)
        case .type(let t): proto.tp = typeProto(t)
        case .floats(let v): proto.floats = v
        case .ints(let v): proto.ints = v
        case .strings(let v): proto.strings = v.map { Data($0) }
        case .tensors(let ts): proto.tensors = try ts.map { try tensor($0, name: nil, mayGoExternal: false) }
        case .graphs(let gs): proto.graphs = try gs.map(graph)
        case .sparseTensors(let ss): proto.sparseTensors = try ss.map(sparseTensor)
        case .types(let ts): proto.typeProtos = ts.map(typeProto)
        }
        return proto
    }

    /// Constant-node and other attribute tensors stay inline: not every runtime resolves external
    /// data inside attributes, and they keep their storage form (a Constant stays a Constant).
    func tensor(_ tensor: Tensor, name: String?, mayGoExternal: Bool) throws -> Onnx_TensorProto {
        var (proto, raw) = try tensorWithoutRawData(tensor, name: name, mayGoExternal: mayGoExternal)
        if let raw { proto.rawData = raw.withUnsafeBytes { Data($0) } }
        return proto
    }

    /// The TensorProto minus its `raw_data`, and the tensor whose bytes belong there (nil for
    /// strings and external data). `raw_data` is field 9 and nothing after it is set, so the bytes
    /// may be appended to the serialized header as-is.
    func tensorWithoutRawData(_ tensor: Tensor, name: String?, mayGoExternal: Bool) throws -> (Onnx_TensorProto, Tensor?) {
        var proto = Onnx_TensorProto()
        proto.dims = tensor.shape.map(Int64.init)
        proto.dataType = Int32(tensor.dtype.rawValue)
        if let name { proto.name = name }
        if tensor.dtype == .string {
            proto.stringData = tensor.strings.map { Data($0) }
            return (proto, nil)
        }
        let expected = tensor.dtype.byteCount(elements: tensor.elementCount)
        guard tensor.byteCount == expected else {
            throw EdgeError.internalError(
                "tensor '\(name ?? "")' of type \(tensor.dtype)\(tensor.shape) holds \(tensor.byteCount) bytes, expected \(expected)")
        }
        if mayGoExternal, let external, tensor.byteCount >= external.threshold, tensor.byteCount > 0 {
            proto.externalData = try external.append(tensor)
            proto.dataLocation = .external
            return (proto, nil)
        }
        return (proto, tensor)
    }

    func sparseTensor(_ sparse: SparseTensor) throws -> Onnx_SparseTensorProto {
        var proto = Onnx_SparseTensorProto()
        proto.values = try tensor(sparse.values, name: sparse.name, mayGoExternal: false)
        proto.indices = try tensor(sparse.indices, name: nil, mayGoExternal: false)
        proto.dims = sparse.dims.map(Int64.init)
        return proto
    }

    func valueInfo(_ info: ValueInfo) -> Onnx_ValueInfoProto {
        var proto = Onnx_ValueInfoProto()
        proto.name = info.name
        if let type = info.type { proto.type = typeProto(type) }
        if !info.docString.isEmpty { proto.docString = info.docString }
        proto.metadataProps = metadata(info.metadataProps)
        return proto
    }

    func typeProto(_ type: ValueType) -> Onnx_TypeProto {
        var proto = Onnx_TypeProto()
        switch type {
        case .tensor(let t):
            var p = Onnx_TypeProto.Tensor()
            if t.elementType != .undefined { p.elemType = Int32(t.elementType.rawValue) }
            if let shape = t.shape { p.shape = shapeProto(shape) }
            proto.tensorType = p
        case .sparseTensor(let t):
            var p = Onnx_TypeProto.SparseTensor()
            if t.elementType != .undefined { p.elemType = Int32(t.elementType.rawValue) }
            if let shape = t.shape { p.shape = shapeProto(shape) }
            proto.sparseTensorType = p
        case .sequence(let element):
            var p = Onnx_TypeProto.Sequence()
            if let element { p.elemType = typeProto(element) }
            proto.sequenceType = p
        case .optional(let element):
            var p = Onnx_TypeProto.Optional()
            if let element { p.elemType = typeProto(element) }
            proto.optionalType = p
        case .map(let key, let value):
            var p = Onnx_TypeProto.Map()
            p.keyType = Int32(key.rawValue)
            if let value { p.valueType = typeProto(value) }
            proto.mapType = p
        }
        return proto
    }

    private func shapeProto(_ shape: [Dim]) -> Onnx_TensorShapeProto {
        var proto = Onnx_TensorShapeProto()
        proto.dim = shape.map { d in
            var p = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .fixed(let v): p.dimValue = Int64(v)
            case .symbolic(let s): p.dimParam = s
            case .unknown: break
            }
            return p
        }
        return proto
    }

    func function(_ function: Function) throws -> Onnx_FunctionProto {
        var proto = Onnx_FunctionProto()
        proto.name = function.name
        if !function.domain.isEmpty { proto.domain = function.domain }
        if !function.overload.isEmpty { proto.overload = function.overload }
        proto.input = function.inputs
        proto.output = function.outputs
        proto.attribute = function.attributeNames
        proto.attributeProto = try function.attributeDefaults.map(attribute)
        proto.node = try function.nodes.map(node)
        proto.opsetImport = function.opsetImports.map(opset)
        proto.valueInfo = function.valueInfo.map(valueInfo)
        if !function.docString.isEmpty { proto.docString = function.docString }
        proto.metadataProps = metadata(function.metadataProps)
        return proto
    }

    private func opset(_ o: OpsetImport) -> Onnx_OperatorSetIdProto {
        var p = Onnx_OperatorSetIdProto()
        p.domain = o.domain
        p.version = o.version
        return p
    }

    private func metadata(_ entries: [MetadataEntry]) -> [Onnx_StringStringEntryProto] {
        entries.map { e in
            var p = Onnx_StringStringEntryProto()
            p.key = e.key
            p.value = e.value
            return p
        }
    }
}
