import EdgeTestSupport
import Foundation
import ONNXProto
import OrderedCollections
import XCTest
@testable import EdgeIR

/// IR → ONNXWriter → ONNXReader gives back the same IR: graphs nested in If/Loop, functions,
/// metadata everywhere, sparse tensors, every kind of value type, and external data.
final class ONNXRoundTripTests: XCTestCase {
    /// A model exercising everything the IR holds.
    static func richModel() -> Model {
        let weight = Tensor(shape: [2, 2], scalars: [Float(1), 2, 3, 4])
        let bias = Tensor(shape: [2], scalars: [Float(0.5), -0.5])
        let thenBranch = Graph(name: "then", outputs: [ValueInfo(name: "t_out", tensor: TensorType(.float, nil))],
                               initializers: ["then_w": Tensor(shape: [2], scalars: [Float(10), 20])],
                               nodes: [Node(name: "then_add", opType: "Add", inputs: ["h", "then_w"], outputs: ["t_out"])])
        let elseBranch = Graph(name: "else", outputs: [ValueInfo(name: "e_out", tensor: TensorType(.float, nil))],
                               nodes: [Node(name: "else_const", opType: "Constant", inputs: [], outputs: ["e_out"],
                                            attributes: [Attribute("value", .tensor(Tensor(shape: [2], scalars: [Float(7), 8])))])])
        let loopBody = Graph(
            name: "body",
            inputs: [ValueInfo(name: "i", tensor: TensorType(.int64, fixed: [])),
                     ValueInfo(name: "cond_in", tensor: TensorType(.bool, fixed: [])),
                     ValueInfo(name: "acc", tensor: TensorType(.float, [.symbolic("n")]))],
            outputs: [ValueInfo(name: "cond_out", tensor: TensorType(.bool, fixed: [])),
                      ValueInfo(name: "acc_out", tensor: TensorType(.float, [.symbolic("n")]))],
            nodes: [Node(opType: "Identity", inputs: ["cond_in"], outputs: ["cond_out"]),
                    Node(opType: "Add", inputs: ["acc", "out_if"], outputs: ["acc_out"])])
        let sparse = SparseTensor(name: "sp", values: Tensor(shape: [2], scalars: [Float(3), 4]),
                                  indices: Tensor(shape: [2], scalars: [Int64(1), 6]), dims: [2, 4])
        let graph = Graph(
            name: "main", docString: "the main graph",
            inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float, [.symbolic("batch"), .fixed(2)])), docString: "input x",
                               metadataProps: [MetadataEntry(key: "vi", value: "1")]),
                     ValueInfo(name: "flag", tensor: TensorType(.bool, fixed: []))],
            outputs: [ValueInfo(name: "y", tensor: TensorType(.float, [.unknown, .fixed(2)])),
                      ValueInfo(name: "loop_out", tensor: TensorType(.float, nil)),
                      ValueInfo(name: "seq", type: .sequence(.tensor(TensorType(.float, nil)))),
                      ValueInfo(name: "opt", type: .optional(.tensor(TensorType(.int64, fixed: [3])))),
                      ValueInfo(name: "custom_out", type: nil)],
            valueInfo: [ValueInfo(name: "h", tensor: TensorType(.float, [.symbolic("batch"), .fixed(2)])),
                        ValueInfo(name: "m", type: .map(key: .int64, value: .tensor(TensorType(.float, fixed: []))))],
            initializers: ["W": weight, "B": bias, "trip": Tensor.scalar(Int64(3)),
                           "names": Tensor(strings: [Array("a".utf8), [0xFF]], shape: [2])],
            sparseInitializers: [sparse],
            nodes: [
                Node(name: "mm", opType: "MatMul", inputs: ["x", "W"], outputs: ["mm_out"], docString: "matmul",
                     metadataProps: [MetadataEntry(key: "origin", value: "fc1")]),
                Node(name: "add", opType: "Add", inputs: ["mm_out", "B"], outputs: ["h"]),
                Node(name: "if", opType: "If", inputs: ["flag"], outputs: ["out_if"],
                     attributes: [Attribute("then_branch", .graph(thenBranch)), Attribute("else_branch", .graph(elseBranch))]),
                Node(name: "loop", opType: "Loop", inputs: ["trip", "", "h"], outputs: ["loop_out"],
                     attributes: [Attribute("body", .graph(loopBody))]),
                Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["y"]),
                Node(name: "seq", opType: "SequenceConstruct", inputs: ["h", "y"], outputs: ["seq"]),
                Node(name: "opt", opType: "Optional", inputs: ["trip"], outputs: ["opt"],
                     attributes: [Attribute("type", .type(.tensor(TensorType(.int64, fixed: []))))]),
                Node(name: "custom", opType: "MyOp", domain: "com.example", inputs: ["y", ""], outputs: ["custom_out", ""],
                     attributes: [Attribute("alpha", .float(0.5)), Attribute("k", .int(-3)), Attribute("mode", .string(Array("fast".utf8))),
                                  Attribute("fs", .floats([1, 2.5])), Attribute("is", .ints([1, -1])),
                                  Attribute("ss", .strings([Array("a".utf8), []])),
                                  Attribute("ts", .tensors([Tensor.scalar(Float(1)), Tensor.scalar(Int8(-2))])),
                                  Attribute("sp", .sparseTensor(sparse)), Attribute("sps", .sparseTensors([sparse])),
                                  Attribute("tys", .types([.sequence(nil), .map(key: .string, value: nil)])),
                                  Attribute("gs", .graphs([elseBranch]), docString: "graphs attribute")],
                     overload: "v2"),
                Node(name: "sparse_const", opType: "Constant", inputs: [], outputs: ["sc"], attributes: [Attribute("sparse_value", .sparseTensor(sparse))]),
                Node(name: "call", opType: "Scale", domain: "local", inputs: ["h"], outputs: ["scaled"], attributes: [Attribute("factor", .float(3))]),
            ],
            quantizationAnnotations: [TensorAnnotation(tensorName: "h", quantParameterTensorNames: [MetadataEntry(key: "SCALE_TENSOR", value: "s")])],
            metadataProps: [MetadataEntry(key: "graph_key", value: "graph_value")])
        let function = Function(
            name: "Scale", domain: "local", inputs: ["a"], outputs: ["b"], attributeNames: ["factor"],
            attributeDefaults: [Attribute("bias", .float(0))],
            nodes: [Node(opType: "Constant", inputs: [], outputs: ["f"], attributes: [Attribute("value_float", .float(0), refAttrName: "factor")]),
                    Node(opType: "Mul", inputs: ["a", "f"], outputs: ["b"])],
            opsetImports: [OpsetImport(domain: "", version: 17)], valueInfo: [ValueInfo(name: "f", tensor: TensorType(.float, fixed: []))],
            docString: "scales", metadataProps: [MetadataEntry(key: "fn", value: "meta")])
        var trainingInfo = Onnx_TrainingInfoProto()
        var binding = Onnx_StringStringEntryProto()
        binding.key = "W"
        binding.value = "W_new"
        trainingInfo.updateBinding = [binding]
        return Model(irVersion: 9, opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: "com.example", version: 1),
                                                  OpsetImport(domain: "local", version: 1)],
                     producerName: "edgeopt", producerVersion: EdgeOptVersion.string, domain: "org.test", modelVersion: 42,
                     docString: "model doc", metadataProps: [MetadataEntry(key: "author", value: "test"), MetadataEntry(key: "license", value: "MIT")],
                     graph: graph, functions: [function], opaqueTrainingInfo: [try! Data(trainingInfo.serializedBytes() as [UInt8])])
    }

    func testRichModelSurvivesARoundTrip() throws {
        let model = Self.richModel()
        let bytes = try ONNXWriter.serialize(model)
        let back = try ONNXReader.read(data: bytes, baseDirectory: nil)
        XCTAssertEqual(back.graph.nodes, model.graph.nodes)
        XCTAssertEqual(back.graph, model.graph)
        XCTAssertEqual(back.functions, model.functions)
        XCTAssertEqual(back, model)
        // Writing the re-read model gives the same bytes (deterministic, and a fixed point).
        XCTAssertEqual(try ONNXWriter.serialize(back), bytes)
    }

    func testStreamedBytesEqualWholeMessageSerialization() throws {
        // The writer streams the main graph field by field; swift-protobuf serializing the
        // whole message is the reference for the exact bytes.
        var model = Self.richModel()
        model.graph.initializers["big"] = Tensor(shape: [300_000], scalars: (0..<300_000).map { Float($0) })
        model.graph.nodes.append(Node(name: "big_const", opType: "Constant", inputs: [], outputs: ["bc"],
                                      attributes: [Attribute("value", .tensor(Tensor(shape: [300_000], scalars: [Float](repeating: 2, count: 300_000))))]))
        let reference: Data = try ProtoExporter(external: nil).model(model).serializedBytes()
        XCTAssertEqual(try ONNXWriter.serialize(model), reference)
    }

    func testProducerIsEdgeopt() throws {
        var model = Self.richModel()
        model.producerName = "pytorch"
        model.producerVersion = "2.5"
        let proto = try Onnx_ModelProto(serializedBytes: ONNXWriter.serialize(model))
        XCTAssertEqual(proto.producerName, "edgeopt")
        XCTAssertEqual(proto.producerVersion, EdgeOptVersion.string)
    }

    func testWeightsKeepTheirStorageForm() throws {
        let back = try ONNXReader.read(data: ONNXWriter.serialize(Self.richModel()), baseDirectory: nil)
        let kinds = back.graph.weights().map { "\($0.location.kind)" }
        XCTAssertEqual(kinds.filter { $0.hasPrefix("constantNode") }.count, 3)  // else-branch ×2 (If, "gs") + sparse Constant
        XCTAssertEqual(Set(back.graph.initializers.keys), ["W", "B", "trip", "names"])
    }

    func testExternalDataAlwaysWritesSidecarAndReadsBack() throws {
        let dir = try TemporaryDirectory()
        var model = Self.richModel()
        let big = Tensor(shape: [256], scalars: (0..<256).map { Float($0) })
        model.graph.initializers["big"] = big
        model.graph.initializers["alias"] = big  // same storage: written once
        let path = dir.path("out.onnx")
        try ONNXWriter.write(model, to: path, externalData: .always(threshold: 1024))
        let data = dir.path("out.onnx.data")
        XCTAssertTrue(FileManager.default.fileExists(atPath: data))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int, 1024)
        let proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: path)))
        let external = proto.graph.initializer.filter { $0.dataLocation == .external }.map(\.name)
        XCTAssertEqual(external, ["big", "alias"])
        let back = try ONNXReader.read(path: path)
        XCTAssertEqual(back, model)
        XCTAssertTrue(back.graph.initializers["big"]!.storage is MappedStorage)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted(), ["out.onnx", "out.onnx.data"])
    }

    func testNeverAndAutomaticKeepSmallModelsInline() throws {
        let dir = try TemporaryDirectory()
        for (name, policy) in [("a.onnx", ExternalDataPolicy.never), ("b.onnx", .automatic)] {
            try ONNXWriter.write(Self.richModel(), to: dir.path(name), externalData: policy)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path(name))), try ONNXWriter.serialize(Self.richModel()))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted(), ["a.onnx", "b.onnx"])
    }

    func testRewritingAModelOverItsOwnExternalDataIsSafe() throws {
        let dir = try TemporaryDirectory()
        var model = Self.richModel()
        model.graph.initializers["big"] = Tensor(shape: [1024], scalars: (0..<1024).map { Float($0) })
        let path = dir.path("m.onnx")
        try ONNXWriter.write(model, to: path, externalData: .always(threshold: 1024))
        let loaded = try ONNXReader.read(path: path)  // maps m.onnx.data
        try ONNXWriter.write(loaded, to: path, externalData: .always(threshold: 1024))
        XCTAssertEqual(loaded.graph.initializers["big"]?.scalars(as: Float.self).last, 1023)
        XCTAssertEqual(try ONNXReader.read(path: path), model)
    }

    func testModelsDirectoryRoundTripsExactly() throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: models.path).filter { $0.hasSuffix(".onnx") }.sorted()
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let model = try ONNXReader.read(path: models.appendingPathComponent(file).path)
            var expected = model
            expected.producerName = "edgeopt"
            expected.producerVersion = EdgeOptVersion.string
            XCTAssertEqual(try ONNXReader.read(data: ONNXWriter.serialize(model), baseDirectory: nil), expected, file)
        }
    }
}
