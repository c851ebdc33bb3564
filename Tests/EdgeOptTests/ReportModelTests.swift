import EdgeIR
import EdgeOpt
import EdgeTestSupport
import Foundation
import XCTest

/// `ModelReport` on the committed models and on small written files.
final class ReportModelTests: XCTestCase {
    private var modelsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models").path
    }

    func testConstantNodeTwinReportsTheSameParametersAndCost() throws {
        let a = modelsDirectory + "/digits_cnn.onnx", b = modelsDirectory + "/digits_cnn_constants.onnx"
        guard FileManager.default.fileExists(atPath: a), FileManager.default.fileExists(atPath: b) else {
            throw XCTSkip("models/digits_cnn*.onnx not present")
        }
        let ra = try ModelReport.make(path: a, dims: ["batch": 1]), rb = try ModelReport.make(path: b, dims: ["batch": 1])
        XCTAssertGreaterThan(ra.parameters.count, 0)
        XCTAssertEqual(ra.parameters.count, rb.parameters.count)
        XCTAssertEqual(ra.parameters.bytes, rb.parameters.bytes)
        XCTAssertGreaterThan(rb.parameters.fromConstantNodes, 0)
        XCTAssertEqual(ra.compute.macs, rb.compute.macs)
        XCTAssertGreaterThan(ra.compute.macs, 0)
        XCTAssertEqual(ra.compute.nodesWithUnknownCost, 0)
    }

    func testReportOfAWrittenModelCountsAndComparesExactly() throws {
        // x[N,3,8,8] → Conv(4 filters 3×3, pad 1, bias) → Relu → y. Params 4·3·9 + 4 = 112.
        let w = Tensor(zeros: .float, shape: [4, 3, 3, 3]), b = Tensor(zeros: .float, shape: [4])
        let graph = Graph(name: "tiny", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, [.symbolic("N"), .fixed(3), .fixed(8), .fixed(8)]))],
                          outputs: [ValueInfo(name: "y", type: nil)], initializers: ["w": w, "b": b],
                          nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
                                  Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["y"])])
        let dir = try TemporaryDirectory()
        let path = dir.path("tiny.onnx")
        try ONNXWriter.write(Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph), to: path)

        let r = try ModelReport.make(path: path, dims: ["N": 2], perLayer: true)
        XCTAssertEqual(r.parameters.count, 112)
        XCTAssertEqual(r.parameters.bytes, 448)
        XCTAssertEqual(r.compute.macs, 2 * 4 * 8 * 8 * 27) // out elements × C_in × 3 × 3
        XCTAssertEqual(r.outputs.first?.type, TensorTypeValue(TensorType(.float, fixed: [2, 4, 8, 8])))
        XCTAssertEqual(r.layers?.map(\.name), ["conv", "relu"])
        XCTAssertEqual(r.layers?.first?.parameters, 112)
        XCTAssertEqual(r.opCounts, ["Conv": 1, "Relu": 1])
        // Input 2·3·64·4 = 1536 B and two 2·4·64·4 = 2048 B activations; at most two live at once.
        XCTAssertEqual(r.memory.naiveBytes, 1536 + 2 * 2048)
        XCTAssertEqual(r.memory.peakLiveBytes, 2048 + 2048)

        let same = ComparisonReport(model: r, baseline: r)
        XCTAssertTrue(same.metrics.allSatisfy { $0.delta == 0 })
        var halved = r
        halved.parameters.bytes /= 2
        let cmp = ComparisonReport(model: halved, baseline: r)
        XCTAssertEqual(cmp.metrics.first { $0.name == "parameterBytes" }?.ratio, 2.0)
        XCTAssertEqual(cmp.metrics.first { $0.name == "parameterBytes" }?.delta, -224)

        // JSON round-trips and is byte-identical for the same input.
        let json = try r.rendered(as: .json)
        XCTAssertEqual(json, try ModelReport.make(path: path, dims: ["N": 2], perLayer: true).rendered(as: .json))
        let decoded = try JSONDecoder().decode(ModelReport.self, from: Data(json.utf8))
        XCTAssertEqual(decoded, r)
        XCTAssertTrue(try r.rendered(as: .table).contains("112 (112)"))
    }

    func testUnreadableFileIsBadInputNamingIt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("junk.onnx")
        try Data("not a model at all".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ModelReport.make(path: path)) { error in
            XCTAssertEqual((error as? EdgeError)?.exitStatus, .badInput)
            XCTAssertTrue("\(error)".contains("junk.onnx"), "\(error)")
        }
    }
}
