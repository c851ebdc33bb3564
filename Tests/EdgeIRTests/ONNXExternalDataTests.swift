import EdgeTestSupport
import Foundation
import ONNXProto
import XCTest
@testable import EdgeIR

/// External tensor data: resolved relative to the model file, memory-mapped, and every way a
/// reference can be wrong reported as bad input naming the file and the tensor.
final class ONNXExternalDataTests: XCTestCase {
    private func externalTensor(_ name: String, dims: [Int64], location: String, offset: Int? = nil,
                                length: Int? = nil) -> Onnx_TensorProto {
        ProtoBuild.tensor(name, .float, dims: dims) { t in
            t.dataLocation = .external
            var entries: [(String, String)] = [("location", location)]
            if let offset { entries.append(("offset", String(offset))) }
            if let length { entries.append(("length", String(length))) }
            t.externalData = entries.map { k, v in
                var e = Onnx_StringStringEntryProto()
                e.key = k
                e.value = v
                return e
            }
        }
    }

    /// Writes `weights.bin` (16 bytes of padding, then 1…6 as float32) and a model referencing it.
    private func writeModel(in dir: TemporaryDirectory, tensor: Onnx_TensorProto) throws -> String {
        var bytes = Data(count: 16)
        bytes.append(Data(values: (1...6).map { Float($0) }))
        try bytes.write(to: URL(fileURLWithPath: dir.path("weights.bin")))
        let path = dir.path("model.onnx")
        try ProtoBuild.bytes(ProtoBuild.modelHolding(tensor)).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testReadsExternalDataAtOffsetWithoutCopying() throws {
        let dir = try TemporaryDirectory()
        let path = try writeModel(in: dir, tensor: externalTensor("w", dims: [2, 3], location: "weights.bin", offset: 16, length: 24))
        let model = try ONNXReader.read(path: path)
        let w = try XCTUnwrap(model.graph.initializers["w"])
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertEqual(w.scalars(as: Float.self), [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(w.storage is MappedStorage)
    }

    func testMissingLengthReadsTheTensorsSize() throws {
        let dir = try TemporaryDirectory()
        let path = try writeModel(in: dir, tensor: externalTensor("w", dims: [2], location: "weights.bin", offset: 20))
        XCTAssertEqual(try ONNXReader.read(path: path).graph.initializers["w"]?.scalars(as: Float.self), [2, 3])
    }

    private func assertBadInput(_ tensor: Onnx_TensorProto, mentions needles: [String],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try TemporaryDirectory()
        let path = try writeModel(in: dir, tensor: tensor)
        let error = badInputError { _ = try ONNXReader.read(path: path) }
        XCTAssertNotNil(error, "expected bad input", file: file, line: line)
        let text = error?.description ?? ""
        for needle in needles + ["model.onnx"] {
            XCTAssertTrue(text.contains(needle), "'\(needle)' missing from: \(text)", file: file, line: line)
        }
    }

    func testMissingExternalFileNamesFileAndTensor() throws {
        try assertBadInput(externalTensor("fc.weight", dims: [2], location: "gone.bin"),
                           mentions: ["fc.weight", "gone.bin", "does not exist"])
    }

    func testOffsetPastEndOfFile() throws {
        try assertBadInput(externalTensor("w", dims: [2], location: "weights.bin", offset: 1000),
                           mentions: ["'w'", "weights.bin", "beyond the end"])
    }

    func testRangePastEndOfFile() throws {
        try assertBadInput(externalTensor("w", dims: [6], location: "weights.bin", offset: 24, length: 24),
                           mentions: ["'w'", "beyond the end"])
    }

    func testLengthThatDoesNotMatchDims() throws {
        try assertBadInput(externalTensor("w", dims: [6], location: "weights.bin", offset: 16, length: 20),
                           mentions: ["'w'", "holds 20 bytes", "needs 24"])
    }

    func testPathsEscapingTheModelDirectoryAreRejected() throws {
        try assertBadInput(externalTensor("w", dims: [1], location: "../weights.bin"), mentions: ["escapes"])
        try assertBadInput(externalTensor("w", dims: [1], location: "/etc/passwd"), mentions: ["absolute"])
        try assertBadInput(externalTensor("w", dims: [1], location: "sub/../../x"), mentions: ["escapes"])
    }

    func testSymlinkLeadingOutsideIsRejected() throws {
        let outside = try TemporaryDirectory()
        try Data(count: 64).write(to: URL(fileURLWithPath: outside.path("secret.bin")))
        let dir = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: dir.path("link.bin"), withDestinationPath: outside.path("secret.bin"))
        let path = try writeModel(in: dir, tensor: externalTensor("w", dims: [1], location: "link.bin"))
        let error = badInputError { _ = try ONNXReader.read(path: path) }
        XCTAssertTrue(error?.message.contains("outside the model's directory") ?? false, error?.message ?? "no error")
    }

    func testExternalDataNeedsAFileContext() {
        let bytes = ProtoBuild.bytes(ProtoBuild.modelHolding(externalTensor("w", dims: [1], location: "weights.bin")))
        let error = badInputError { _ = try ONNXReader.read(data: bytes, baseDirectory: nil) }
        XCTAssertTrue(error?.message.contains("not read from a file") ?? false, error?.message ?? "no error")
    }
}
