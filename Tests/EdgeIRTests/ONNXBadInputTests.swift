import EdgeTestSupport
import Foundation
import ONNXProto
import XCTest
@testable import EdgeIR

/// Hostile and broken files: every one is `EdgeError.badInput` naming the file, never a crash.
final class ONNXBadInputTests: XCTestCase {
    private func readError(_ bytes: Data, name: String = "bad.onnx") throws -> EdgeError? {
        let dir = try TemporaryDirectory()
        let path = dir.path(name)
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = badInputError { _ = try ONNXReader.read(path: path) }
        XCTAssertTrue(error?.description.contains(path) ?? false, "file not named: \(error?.description ?? "no error")")
        return error
    }

    private var validModel: Data {
        let t = ProtoBuild.tensor("w", .float, dims: [64]) { $0.rawData = Data(values: [Float](repeating: 1, count: 64)) }
        return ProtoBuild.bytes(ProtoBuild.modelHolding(t))
    }

    func testEmptyFile() throws {
        XCTAssertTrue(try readError(Data())?.message.contains("empty file") ?? false)
    }

    func testTruncatedFileAtEveryLength() throws {
        let bytes = validModel
        // Any prefix must fail cleanly (or, at a message boundary, decode as a different but valid model).
        for length in stride(from: 1, to: bytes.count, by: 7) {
            let dir = try TemporaryDirectory()
            let path = dir.path("t.onnx")
            try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ONNXReader.read(path: path)
            } catch let error as EdgeError {
                XCTAssertEqual(error.exitStatus, .badInput)
            }
        }
        XCTAssertTrue(try readError(bytes.prefix(bytes.count - 10))?.message.contains("not a valid ONNX model") ?? false)
    }

    func testRandomBytesAndOtherFormats() throws {
        var generator = SystemRandomNumberGenerator()
        let random = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        XCTAssertNotNil(try readError(random))
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0])
        XCTAssertNotNil(try readError(png, name: "image.png"))
        let text = Data("ir_version: 8\ngraph { name: \"g\" }\n".utf8)
        XCTAssertNotNil(try readError(text))
    }

    func testProtobufWithoutGraphIsNotAModel() throws {
        // A TensorProto holding only dims decodes as a ModelProto with an ir_version and nothing else.
        var tensor = Onnx_TensorProto()
        tensor.dims = [3]
        let message = try readError(ProtoBuild.bytes(tensor))?.message ?? "no error"
        XCTAssertTrue(message.contains("not an ONNX model: no graph field"), message)
    }

    /// Protobuf wire encoding by hand: swift-protobuf itself recurses per nesting level when
    /// encoding, so a bomb deep enough to matter has to be assembled as bytes.
    private func varint(_ value: Int) -> [UInt8] {
        var v = UInt64(value)
        var out: [UInt8] = []
        repeat {
            out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
            v >>= 7
        } while v != 0
        return out
    }

    private func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(payload.count) + payload
    }

    private func field(_ number: Int, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }

    func testDeeplyNestedIfIsRejectedWithoutCrashing() throws {
        // 5,000 If nodes, each holding the next graph as its then_branch.
        let output = field(1, "y")  // ValueInfoProto.name
        var graph = field(1, field(1, "x") + field(2, "y") + field(4, "Identity")) + field(2, "leaf") + field(12, output)
        for level in 0..<5000 {
            let attribute = field(1, "then_branch") + varint(20 << 3) + varint(5) + field(6, graph)  // type = GRAPH
            let node = field(1, "c") + field(2, "y") + field(3, "if\(level)") + field(4, "If") + field(5, attribute)
            graph = field(1, node) + field(2, "g\(level)") + field(12, output)
        }
        let model = varint(1 << 3) + varint(8) + field(7, graph) + field(8, field(1, "") + varint(2 << 3) + varint(17))
        let error = try readError(Data(model))
        XCTAssertTrue(error?.message.contains("nested") ?? false, error?.message ?? "no error")
    }

    func testMutatedModelsNeverCrash() throws {
        // Seeded byte flips and truncations of a model whose large weights go through
        // RawDataLocator's wire scan: every result is a model or an EdgeError, never a crash.
        let big = ProtoBuild.tensor("w", .float, dims: [2048]) { $0.rawData = Data(values: (0..<2048).map { Float($0) }) }
        var constant = ProtoBuild.node("Constant", [], ["k"], name: "k",
                                       attributes: [ProtoBuild.tensorAttribute("value", ProtoBuild.tensor("", .int64, dims: [600]) {
                                           $0.rawData = Data(values: [Int64](repeating: 7, count: 600))
                                       })])
        constant.docString = "constant"
        var model = ProtoBuild.modelHolding(big)
        model.graph.node.insert(constant, at: 0)
        let original = ProtoBuild.bytes(model)
        var rng = SplitMix64(seed: 42)
        let dir = try TemporaryDirectory()
        let path = dir.path("fuzz.onnx")
        var outcomes = [0, 0]
        for round in 0..<400 {
            var bytes = original
            // Mutations concentrate on the small header region where lengths and tags live.
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let position = Int(rng.next() % UInt64(round % 2 == 0 ? min(bytes.count, 200) : bytes.count))
                bytes[position] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
            if round % 5 == 0 { bytes = bytes.prefix(Int(rng.next() % UInt64(bytes.count))) }
            try bytes.write(to: URL(fileURLWithPath: path))
            do {
                _ = try ONNXReader.read(path: path)
                outcomes[0] += 1
            } catch let error as EdgeError {
                XCTAssertEqual(error.exitStatus, .badInput, error.description)
                outcomes[1] += 1
            }
        }
        XCTAssertGreaterThan(outcomes[1], 100, "most mutations should be rejected")
    }

    func testSparseTensorWithAbsurdDenseShapeIsRejected() throws {
        var sparse = Onnx_SparseTensorProto()
        sparse.values = ProtoBuild.tensor("sp", .float, dims: [1]) { $0.floatData = [1] }
        sparse.indices = ProtoBuild.tensor("", .int64, dims: [1]) { $0.int64Data = [0] }
        sparse.dims = [1 << 20, 1 << 20]
        var attribute = Onnx_AttributeProto()
        attribute.name = "sparse_value"
        attribute.type = .sparseTensor
        attribute.sparseTensor = sparse
        var out = Onnx_ValueInfoProto()
        out.name = "y"
        let model = ProtoBuild.model(ProtoBuild.graph("g", nodes: [ProtoBuild.node("Constant", [], ["y"], attributes: [attribute])], outputs: [out]))
        let message = try readError(ProtoBuild.bytes(model))?.message ?? "no error"
        XCTAssertTrue(message.contains("'sp'") && message.contains("too large to densify"), message)
    }

    func testDuplicateInitializerIsBadInput() throws {
        let t = ProtoBuild.tensor("w", .float, dims: [1]) { $0.floatData = [1] }
        var model = ProtoBuild.modelHolding(t)
        model.graph.initializer.append(t)
        XCTAssertTrue(try readError(ProtoBuild.bytes(model))?.message.contains("defined twice") ?? false)
    }

    func testMissingFileIsBadInput() {
        let error = badInputError { _ = try ONNXReader.read(path: "/nonexistent/dir/model.onnx") }
        XCTAssertTrue(error?.description.contains("/nonexistent/dir/model.onnx") ?? false, error?.description ?? "no error")
    }
}
