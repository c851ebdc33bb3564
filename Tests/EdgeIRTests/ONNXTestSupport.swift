import Foundation
import ONNXProto
import SwiftProtobuf
@testable import EdgeIR

/// Small builders for ONNX protobuf messages, so tests can state exactly which fields a file
/// holds (typed fields, external data, broken sizes) independently of `ONNXWriter`.
enum ProtoBuild {
    static func tensor(_ name: String, _ type: Onnx_TensorProto.DataType, dims: [Int64],
                       _ fill: (inout Onnx_TensorProto) -> Void) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = Int32(type.rawValue)
        t.dims = dims
        fill(&t)
        return t
    }

    static func valueInfo(_ name: String, _ elem: Onnx_TensorProto.DataType, _ dims: [Int64]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var tt = Onnx_TypeProto.Tensor()
        tt.elemType = Int32(elem.rawValue)
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = d
            return dim
        }
        tt.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tt
        v.type = type
        return v
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "",
                     attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        n.output = outputs
        if !name.isEmpty { n.name = name }
        n.attribute = attributes
        return n
    }

    static func tensorAttribute(_ name: String, _ t: Onnx_TensorProto) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .tensor
        a.t = t
        return a
    }

    static func graphAttribute(_ name: String, _ g: Onnx_GraphProto) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .graph
        a.g = g
        return a
    }

    static func graph(_ name: String, nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto] = [],
                      outputs: [Onnx_ValueInfoProto], initializers: [Onnx_TensorProto] = []) -> Onnx_GraphProto {
        var g = Onnx_GraphProto()
        g.name = name
        g.node = nodes
        g.input = inputs
        g.output = outputs
        g.initializer = initializers
        return g
    }

    static func model(_ graph: Onnx_GraphProto, opset: Int64 = 17) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.domain = ""
        o.version = opset
        m.opsetImport = [o]
        m.graph = graph
        return m
    }

    /// A model whose graph is just `Identity(initializer)` → "y".
    static func modelHolding(_ t: Onnx_TensorProto) -> Onnx_ModelProto {
        var out = Onnx_ValueInfoProto()
        out.name = "y"
        return model(graph("g", nodes: [node("Identity", [t.name], ["y"])], outputs: [out], initializers: [t]))
    }

    static func bytes(_ message: some SwiftProtobuf.Message) -> Data {
        try! message.serializedBytes()
    }
}

extension Data {
    init<T>(values: [T]) {
        self = values.withUnsafeBytes { Data($0) }
    }
}

extension Tensor {
    var rawBytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// The thrown error, which must be `EdgeError.badInput` (exit status 65).
func badInputError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> EdgeError? {
    do {
        try body()
    } catch let error as EdgeError {
        return error.exitStatus == .badInput ? error : nil
    } catch {
        return nil
    }
    return nil
}
