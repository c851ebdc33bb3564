import Foundation
import ONNXProto
import OrderedCollections
import SwiftProtobuf

/// ModelProto / GraphProto / NodeProto / AttributeProto / TypeProto → IR. Nothing the IR can hold
/// is dropped; messages the IR does not model (training info, device configurations) are kept as
/// their serialized bytes.
extension ProtoImporter {
    func model(_ proto: Onnx_ModelProto) throws -> Model {
        let graph = try self.graph(proto.graph, scope: "main graph", isMain: true)
        let functions = try proto.functions.map { try function($0) }
        let trainingInfo = try proto.trainingInfo.map { try Data($0.serializedBytes() as [UInt8]) }
        let configurations = try proto.configuration.map { try Data($0.serializedBytes() as [UInt8]) }
        return Model(irVersion: proto.irVersion,
                     opsetImports: proto.opsetImport.map { OpsetImport(domain: $0.domain, version: $0.version) },
                     producerName: proto.producerName, producerVersion: proto.producerVersion,
                     domain: proto.domain, modelVersion: proto.modelVersion, docString: proto.docString,
                     metadataProps: metadata(proto.metadataProps), graph: graph, functions: functions,
                     opaqueTrainingInfo: trainingInfo, opaqueDeviceConfigurations: configurations)
    }

    /// `isMain`: the model's own graph, whose large raw data `RawDataLocator` may have left in the file.
    func graph(_ proto: Onnx_GraphProto, scope: String, isMain: Bool = false) throws -> Graph {
        let fileRanges = isMain ? located : nil
        let graphLabel = proto.name.isEmpty ? scope : "graph '\(proto.name)'"
        var initializers = OrderedDictionary<String, Tensor>()
        initializers.reserveCapacity(proto.initializer.count)
        for (i, t) in proto.initializer.enumerated() {
            let value = try tensor(t, what: "initializer of \(graphLabel)", fileRange: fileRanges?.initializers[i])
            guard initializers.updateValue(value, forKey: t.name) == nil else {
                throw fail("\(graphLabel): initializer '\(t.name)' is defined twice")
            }
        }
        let sparse = try proto.sparseInitializer.map { try sparseTensor($0, what: "sparse initializer of \(graphLabel)") }
        var nodes: [Node] = []
        nodes.reserveCapacity(proto.node.count)
        for (i, n) in proto.node.enumerated() {
            nodes.append(try node(n, graphLabel: graphLabel) { fileRanges?.attributes[.init(node: i, attribute: $0)] })
        }
        return Graph(name: proto.name, docString: proto.docString,
                     inputs: try proto.input.map { try valueInfo($0) },
                     outputs: try proto.output.map { try valueInfo($0) },
                     valueInfo: try proto.valueInfo.map { try valueInfo($0) },
                     initializers: initializers, sparseInitializers: sparse, nodes: nodes,
                     quantizationAnnotations: proto.quantizationAnnotation.map {
                         TensorAnnotation(tensorName: $0.tensorName, quantParameterTensorNames: metadata($0.quantParameterTensorNames))
                     },
                     metadataProps: metadata(proto.metadataProps))
    }

    func node(_ proto: Onnx_NodeProto, graphLabel: String,
              fileRange: (_ attribute: Int) -> Range<Int>? = { _ in nil }) throws -> Node {
        let label = proto.name.isEmpty
            ? "\(proto.opType) node producing '\(proto.output.first ?? "")' in \(graphLabel)"
            : "node '\(proto.name)' (\(proto.opType))"
        return Node(name: proto.name, opType: proto.opType, domain: proto.domain, inputs: proto.input,
                    outputs: proto.output,
                    attributes: try proto.attribute.enumerated().map { try attribute($1, owner: label, fileRange: fileRange($0)) },
                    docString: proto.docString, overload: proto.overload,
                    metadataProps: metadata(proto.metadataProps))
    }

    func attribute(_ proto: Onnx_AttributeProto, owner: String, fileRange: Range<Int>? = nil) throws -> Attribute {
        let what = "attribute '\(proto.name)' of \(owner)"
        typealias Kind = Onnx_AttributeProto.AttributeType
        var kind = proto.type
        if !proto.hasType || kind == .undefined {
            // IR versions before 2 did not set `type`; infer it from the populated field.
            if proto.hasF { kind = .float } else if proto.hasI { kind = .int } else if proto.hasS { kind = .string }
            else if proto.hasT { kind = .tensor } else if proto.hasG { kind = .graph }
            else if proto.hasSparseTensor { kind = .sparseTensor } else if proto.hasTp { kind = .typeProto }
            else if !proto.floats.isEmpty { kind = .floats } else if !proto.ints.isEmpty { kind = .ints }
            else if !proto.strings.isEmpty { kind = .strings } else if !proto.tensors.isEmpty { kind = .tensors }
            else if !proto.graphs.isEmpty { kind = .graphs } else if !proto.sparseTensors.isEmpty { kind = .sparseTensors }
            else if !proto.typeProtos.isEmpty { kind = .typeProtos }
            else { throw fail("\(what) has no type and no value") }
        }
        if proto.hasRefAttrName {
            // A function-body attribute that refers to the caller's attribute carries no value.
            return Attribute(proto.name, placeholderValue(kind), refAttrName: proto.refAttrName, docString: proto.docString)
        }
        let value: AttributeValue
        switch kind {
        case .float: value = .float(proto.f)
        case .int: value = .int(proto.i)
        case .string: value = .string([UInt8](proto.s))
        case .tensor: value = .tensor(try tensor(proto.t, what: what, fileRange: fileRange))
        case .graph: value = .graph(try graph(proto.g, scope: "body of \(what)"))
        case .sparseTensor: value = .sparseTensor(try sparseTensor(proto.sparseTensor, what: what))
        case .typeProto: value = .type(try valueType(proto.tp) ?? .tensor(TensorType(.undefined, nil)))
        case .floats: value = .floats(proto.floats)
        case .ints: value = .ints(proto.ints)
        case .strings: value = .strings(proto.strings.map { [UInt8]($0) })
        case .tensors: value = .tensors(try proto.tensors.map { try tensor($0, what: what) })
        case .graphs:
            value = .graphs(try proto.graphs.enumerated().map { try graph($1, scope: "body \($0) of \(what)") })
        case .sparseTensors: value = .sparseTensors(try proto.sparseTensors.map { try sparseTensor($0, what: what) })
        case .typeProtos:
            value = .types(try proto.typeProtos.map { try valueType($0) ?? .tensor(TensorType(.undefined, nil)) })
        case .undefined:
            throw fail("\(what) has unknown attribute type \(proto.type.rawValue)")
        }
        return Attribute(proto.name, value, refAttrName: proto.hasRefAttrName ? proto.refAttrName : nil,
                         docString: proto.docString)
    }

    /// A typed empty value for a reference attribute; the writer emits only its type.
    private func placeholderValue(_ kind: Onnx_AttributeProto.AttributeType) -> AttributeValue {
        switch kind {
        case .float: return .float(0)
        case .int, .undefined: return .int(0)
        case .string: return .string([])
        case .tensor: return .tensor(Tensor(zeros: .float, shape: []))
        case .graph: return .graph(Graph())
        case .sparseTensor:
            return .sparseTensor(SparseTensor(name: "", values: Tensor(zeros: .float, shape: [0]),
                                              indices: Tensor(zeros: .int64, shape: [0]), dims: [0]))
        case .typeProto: return .type(.tensor(TensorType(.undefined, nil)))
        case .floats: return .floats([])
        case .ints: return .ints([])
        case .strings: return .strings([])
        case .tensors: return .tensors([])
        case .graphs: return .graphs([])
        case .sparseTensors: return .sparseTensors([])
        case .typeProtos: return .types([])
        }
    }

    static let maxSparseDenseElements = 1 << 28

    func sparseTensor(_ proto: Onnx_SparseTensorProto, what: String) throws -> SparseTensor {
        let label = "sparse tensor '\(proto.values.name)' (\(what))"
        let values = try tensor(proto.values, what: "values of \(label)")
        let indices = try tensor(proto.indices, what: "indices of \(label)")
        let dims = try checkedShape(proto.dims, label: label)
        // Sparse data is cheap to declare and expensive to densify (Constant values are densified
        // to count weights), so the dense size must stay plausible: at most 2^28 elements.
        guard dims.reduce(1, *) <= Self.maxSparseDenseElements else {
            throw fail("\(label): dense shape \(dims) is too large to densify (more than \(Self.maxSparseDenseElements) elements)")
        }
        guard values.rank == 1 else { throw fail("\(label): values must be 1-D, got shape \(values.shape)") }
        let nnz = values.shape[0]
        guard indices.dtype == .int64 else { throw fail("\(label): indices must be int64, got \(indices.dtype)") }
        guard indices.shape == [nnz] || indices.shape == [nnz, dims.count] else {
            throw fail("\(label): indices of shape \(indices.shape) do not match \(nnz) values in \(dims.count) dimensions")
        }
        return SparseTensor(name: proto.values.name, values: values, indices: indices, dims: dims)
    }

    func valueInfo(_ proto: Onnx_ValueInfoProto) throws -> ValueInfo {
        ValueInfo(name: proto.name, type: proto.hasType ? try valueType(proto.type) : nil, docString: proto.docString,
                  metadataProps: metadata(proto.metadataProps))
    }

    /// nil for a TypeProto with no value set, and for opaque types (which the IR does not model).
    func valueType(_ proto: Onnx_TypeProto) throws -> ValueType? {
        switch proto.value {
        case .tensorType(let t)?:
            return .tensor(try tensorType(elemType: t.elemType, shape: t.hasShape ? t.shape : nil))
        case .sparseTensorType(let t)?:
            return .sparseTensor(try tensorType(elemType: t.elemType, shape: t.hasShape ? t.shape : nil))
        case .sequenceType(let s)?:
            return .sequence(s.hasElemType ? try valueType(s.elemType) : nil)
        case .optionalType(let o)?:
            return .optional(o.hasElemType ? try valueType(o.elemType) : nil)
        case .mapType(let m)?:
            guard let key = DType(rawValue: Int(m.keyType)) else { throw fail("map type has unknown key type \(m.keyType)") }
            return .map(key: key, value: m.hasValueType ? try valueType(m.valueType) : nil)
        case .opaqueType?, nil:
            return nil
        }
    }

    private func tensorType(elemType: Int32, shape: Onnx_TensorShapeProto?) throws -> TensorType {
        guard let dtype = DType(rawValue: Int(elemType)) else {
            throw fail("tensor type has unknown element type \(elemType)")
        }
        let dims = shape?.dim.map { d -> Dim in
            switch d.value {
            case .dimValue(let v)?: return v >= 0 ? .fixed(Int(v)) : .unknown
            case .dimParam(let p)?: return p.isEmpty ? .unknown : .symbolic(p)
            case nil: return .unknown
            }
        }
        return TensorType(dtype, dims)
    }

    func function(_ proto: Onnx_FunctionProto) throws -> Function {
        let label = "function '\(proto.domain).\(proto.name)'"
        return Function(name: proto.name, domain: proto.domain, overload: proto.overload, inputs: proto.input,
                        outputs: proto.output, attributeNames: proto.attribute,
                        attributeDefaults: try proto.attributeProto.map { try attribute($0, owner: label) },
                        nodes: try proto.node.map { try node($0, graphLabel: label) },
                        opsetImports: proto.opsetImport.map { OpsetImport(domain: $0.domain, version: $0.version) },
                        valueInfo: try proto.valueInfo.map { try valueInfo($0) }, docString: proto.docString,
                        metadataProps: metadata(proto.metadataProps))
    }

    func metadata(_ entries: [Onnx_StringStringEntryProto]) -> [MetadataEntry] {
        entries.map { MetadataEntry(key: $0.key, value: $0.value) }
    }
}
