import EdgeTestSupport
import Foundation
import XCTest

/// `edgeopt quantize --precision fp16|mixed` and accuracy budgets through the built binary:
/// exit statuses, the written model, and the JSON report.
final class QuantizePrecisionCommandTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func model(_ name: String) -> String { Self.repo.appendingPathComponent("models/\(name)").path }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let binary = EdgeOptProcess.binary else { throw XCTSkip("edgeopt binary not built next to the tests") }
        let r = try EdgeOptProcess.run(binary, arguments)
        return (r.status, r.stdout, r.stderr)
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// FP16 halves the digits CNN's weights and keeps its top-1 (98.74%, 392 of 397).
    func testFP16HalvesWeightsAndKeepsTop1() throws {
        let dir = try TemporaryDirectory()
        let r = try Self.run(["quantize", model("digits_cnn.onnx"), "--precision", "fp16", "-o", dir.path("half.onnx"),
                              "--eval", model("digits_eval.npz"), "--labels", "label", "--format", "json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try json(r.stdout)
        XCTAssertEqual(report["weightBytesBefore"] as? Int, 104_808)
        XCTAssertEqual(report["weightBytesAfter"] as? Int, 52_404)
        XCTAssertEqual(try XCTUnwrap(report["referenceValue"] as? Double), 392.0 / 397, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(report["finalValue"] as? Double), 392.0 / 397, accuracy: 1e-9)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: dir.path("half.onnx"))[.size] as? Int)
        XCTAssertEqual(report["fileBytesAfter"] as? Int, size)
        XCTAssertLessThan(Double(size), 0.55 * 107_038)
    }

    /// A budget no quantized model meets (cosine identical to the float model's) exits 1, still
    /// writes the best model found, and says how far it is from the budget.
    func testImpossibleBudgetExitsOneAndWritesBestModel() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path("best.onnx")
        let r = try Self.run(["quantize", model("digits_cnn.onnx"), "--calib", model("digits_calib.npz"), "--precision", "int8",
                              "--max-accuracy-drop", "0%", "--metric", "cosine", "--eval", model("digits_eval.npz"),
                              "--format", "json", "--threads", "1", "-o", out])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        XCTAssertTrue(r.stderr.contains("not met"), r.stderr)
        let report = try json(r.stdout)
        XCTAssertEqual(report["budgetMet"] as? Bool, false)
        let shortfall = try XCTUnwrap(report["shortfall"] as? Double)
        let final = try XCTUnwrap(report["finalValue"] as? Double)
        XCTAssertGreaterThan(shortfall, 0)
        XCTAssertEqual(final + shortfall, 1, accuracy: 1e-12)
        let layers = try XCTUnwrap(report["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, 4)
        // INT8 with a budget falls back to FP32 only, and never to an all-FP32 model.
        XCTAssertFalse(layers.contains { $0["precision"] as? String == "fp16" })
        XCTAssertTrue(layers.contains { $0["precision"] as? String == "int8" })
    }

    func testUsageErrors() throws {
        let m = model("digits_cnn.onnx"), c = model("digits_calib.npz"), e = model("digits_eval.npz")
        let cases: [[String]] = [
            ["--precision", "mixed", "--calib", c, "--eval", e],                                  // no budget
            ["--precision", "mixed", "--calib", c, "--max-accuracy-drop", "1%"],                  // no --eval
            ["--precision", "mixed", "--calib", c, "--eval", e, "--max-accuracy-drop", "0.5pt"],  // unknown unit
            ["--precision", "mixed", "--calib", c, "--eval", e, "--max-accuracy-drop", "1%", "--metric", "top1"], // no --labels
            ["--precision", "mixed", "--calib", c, "--eval", e, "--max-accuracy-drop", "1%", "--metric", "sqnr"],
            ["--precision", "mixed", "--eval", e, "--max-accuracy-drop", "1%"],                   // no --calib
            ["--precision", "int3", "--calib", c],
        ]
        for args in cases {
            let r = try Self.run(["quantize", m, "-o", "/dev/null"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
    }
}
