import EdgeTestSupport
import Foundation
import ONNXProto
import XCTest
@testable import EdgeIR

/// Large raw_data in a model file is not copied by the decoder: `RawDataLocator` takes it out
/// of the message and the tensor maps it from the file (or copies it once when misaligned).
final class ONNXZeroCopyImportTests: XCTestCase {
    private func write(_ model: Onnx_ModelProto, in dir: TemporaryDirectory) throws -> String {
        let path = dir.path("m.onnx")
        try ProtoBuild.bytes(model).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func values(_ n: Int, seed: Float) -> [Float] { (0..<n).map { Float($0) * 0.25 + seed } }

    func testLargeInitializersComeFromTheFileWithIdenticalValues() throws {
        let dir = try TemporaryDirectory()
        // Names of four lengths shift the raw data through every offset modulo 4.
        let names = ["a", "bb", "ccc", "dddd"]
        let tensors = names.enumerated().map { i, name in
            ProtoBuild.tensor(name, .float, dims: [2048]) { $0.rawData = Data(values: values(2048, seed: Float(i))) }
        }
        var out = Onnx_ValueInfoProto()
        out.name = "y"
        let nodes = names.enumerated().map { i, name in ProtoBuild.node("Identity", [name], [i == 0 ? "y" : "y\(i)"]) }
        let path = try write(ProtoBuild.model(ProtoBuild.graph("g", nodes: nodes, outputs: [out], initializers: tensors)), in: dir)
        let model = try ONNXReader.read(path: path)
        var mapped = 0
        for (i, name) in names.enumerated() {
            let t = try XCTUnwrap(model.graph.initializers[name])
            XCTAssertEqual(t.scalars(as: Float.self), values(2048, seed: Float(i)), name)
            if t.storage is MappedStorage {
                mapped += 1
                XCTAssertEqual(Int(bitPattern: t.storage.baseAddress) % 4, 0, "mapped tensors are aligned")
            } else {
                XCTAssertTrue(t.storage is OwnedStorage, "misaligned data is copied once into owned storage")
            }
        }
        XCTAssertGreaterThanOrEqual(mapped, 1)
        // And the model is the same as when decoded entirely by swift-protobuf.
        let decoded = try ONNXReader.read(data: Data(contentsOf: URL(fileURLWithPath: path)), baseDirectory: dir.url.path)
        XCTAssertEqual(model, decoded)
    }

    func testLargeConstantNodeValueComesFromTheFile() throws {
        let dir = try TemporaryDirectory()
        let big = ProtoBuild.tensor("", .int64, dims: [1000]) { $0.rawData = Data(values: (0..<1000).map { Int64($0 * 3) }) }
        var out = Onnx_ValueInfoProto()
        out.name = "y"
        let constant = ProtoBuild.node("Constant", [], ["y"], name: "k", attributes: [ProtoBuild.tensorAttribute("value", big)])
        let path = try write(ProtoBuild.model(ProtoBuild.graph("g", nodes: [constant], outputs: [out])), in: dir)
        let model = try ONNXReader.read(path: path)
        let value = try XCTUnwrap(model.graph.nodes[0].tensor("value"))
        XCTAssertEqual(value.scalars(as: Int64.self), (0..<1000).map { Int64($0 * 3) })
        XCTAssertTrue(value.storage is MappedStorage || value.storage is OwnedStorage)
        XCTAssertFalse(value.storage is DataStorage, "the decoder should not have copied this tensor")
    }

    func testOverwritingTheMappedModelFileIsSafe() throws {
        // The IR maps the old file; writing to the same path renames a new file over it, so the
        // mapped bytes (the old inode) stay intact while they are read for the new file.
        let dir = try TemporaryDirectory()
        let weights = values(100_000, seed: 3)
        let t = ProtoBuild.tensor("w", .float, dims: [100_000]) { $0.rawData = Data(values: weights) }
        let path = try write(ProtoBuild.modelHolding(t), in: dir)
        let model = try ONNXReader.read(path: path)
        try ONNXWriter.write(model, to: path)
        XCTAssertEqual(model.graph.initializers["w"]?.scalars(as: Float.self), weights)
        XCTAssertEqual(try ONNXReader.read(path: path).graph.initializers["w"]?.scalars(as: Float.self), weights)
    }

    func testSizeMismatchIsStillReportedForMappedData() throws {
        let dir = try TemporaryDirectory()
        let t = ProtoBuild.tensor("w", .float, dims: [4096]) { $0.rawData = Data(count: 8000) }
        let path = try write(ProtoBuild.modelHolding(t), in: dir)
        let error = badInputError { _ = try ONNXReader.read(path: path) }
        XCTAssertTrue(error?.message.contains("raw_data holds 8000 bytes but float32[4096] needs 16384") ?? false,
                      error?.message ?? "no error")
    }

    func testLastRawDataFieldWinsAsInProtobuf() throws {
        // Two raw_data fields in one TensorProto: protobuf keeps the last. A large one followed by a
        // small one must give the small one.
        let dir = try TemporaryDirectory()
        var bytes = ProtoBuild.bytes(ProtoBuild.tensor("w", .uint8, dims: [4]) { $0.rawData = Data(repeating: 9, count: 8192) })
        bytes.append(contentsOf: [9 << 3 | 2, 4, 1, 2, 3, 4])  // raw_data = [1, 2, 3, 4]
        XCTAssertEqual(try Onnx_TensorProto(serializedBytes: bytes).rawData, Data([1, 2, 3, 4]))
        // Re-serializing would drop the duplicate, so the model is assembled as bytes:
        // ModelProto header fields, then graph (7) = graph fields + initializer (5) = those bytes.
        var output = Onnx_ValueInfoProto()
        output.name = "y"
        var graphBytes = ProtoBuild.bytes(ProtoBuild.graph("g", nodes: [ProtoBuild.node("Identity", ["w"], ["y"])], outputs: [output]))
        graphBytes.append(5 << 3 | 2)
        graphBytes.append(contentsOf: varint(bytes.count))
        graphBytes.append(bytes)
        var header = ProtoBuild.model(Onnx_GraphProto())
        header.clearGraph()
        var full = ProtoBuild.bytes(header)
        full.append(7 << 3 | 2)
        full.append(contentsOf: varint(graphBytes.count))
        full.append(graphBytes)
        let path = dir.path("dup.onnx")
        try full.write(to: URL(fileURLWithPath: path))
        let read = try ONNXReader.read(path: path)
        XCTAssertEqual(read.graph.initializers["w"]?.rawBytes, [1, 2, 3, 4])
    }

    private func varint(_ value: Int) -> [UInt8] {
        var v = UInt(value)
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }
}
