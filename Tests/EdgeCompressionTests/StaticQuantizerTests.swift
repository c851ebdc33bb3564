import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

/// End to end on the trained models in `models/` (the quantizer's accuracy and size targets).
final class StaticQuantizerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func path(_ name: String) -> String { Self.root.appendingPathComponent("models/\(name)").path }

    func top1(_ model: Model, _ data: CalibrationDataSet) throws -> Double {
        let session = try Session(model: model, options: SessionOptions(threads: 1))
        let labels = try data.extra(named: "label").scalars(as: Int64.self)
        var correct = 0, seen = 0
        for feed in data.batches() {
            let y: [Float] = try session.run(feed)["logits"]!.scalars()
            for row in 0..<(y.count / 10) {
                let scores = y[(row * 10)..<(row * 10 + 10)]
                if Int64(scores.firstIndex(of: scores.max()!)! - row * 10) == labels[seen] { correct += 1 }
                seen += 1
            }
        }
        return Double(correct) / Double(seen)
    }

    func quantize(_ name: String, scheme: QuantizationScheme, method: CalibrationMethod) throws -> (Model, StaticQuantizationSummary, Model) {
        let model = try ONNXReader.read(path: path(name))
        let calib = try CalibrationDataSet.load(path: path("digits_calib.npz"), model: model, batchSize: 50)
        var options = StaticQuantizationOptions()
        options.scheme = scheme
        options.method = method
        options.threads = 1
        let (q, summary) = try StaticQuantizer.quantize(model, data: calib, options: options)
        return (model, summary, q)
    }

    func testConstantNodeModelShrinksAndKeepsAccuracy() throws {
        let (model, summary, q) = try quantize("digits_cnn_constants.onnx", scheme: .default, method: .minMax)
        XCTAssertEqual(summary.opsetBefore, 12)
        XCTAssertEqual(q.onnxOpsetVersion, 13)
        // No float tensor with more than one element is left among the weights.
        let floatWeights = q.graph.weights().filter { $0.tensor.dtype == .float && $0.tensor.elementCount > 1 && !$0.location.name.hasSuffix("_scale") }
        XCTAssertEqual(floatWeights.map(\.location.name), [])
        XCTAssertGreaterThanOrEqual(Double(summary.weightBytesBefore) / Double(summary.weightBytesAfter), 3.8)
        XCTAssertEqual(summary.quantizedWeights, 4)
        XCTAssertEqual(summary.quantizedBiases, 4)
        XCTAssertFalse(q.graph.nodes.contains { $0.opType == "BatchNormalization" })
        let eval = try CalibrationDataSet.load(path: path("digits_eval.npz"), model: model, batchSize: 100)
        let before = try top1(model, eval), after = try top1(q, eval)
        XCTAssertEqual(before, 392.0 / 397, accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(after, before - 0.005)
    }

    func testSymmetricSchemeUsesInt8ZeroPointZero() throws {
        let (_, summary, q) = try quantize("digits_cnn.onnx", scheme: .symmetric, method: .entropy)
        XCTAssertEqual(summary.method, "entropy")
        for node in q.graph.nodes where node.opType == "QuantizeLinear" {
            let zero = q.graph.initializers[node.inputs[2]]!
            XCTAssertEqual(zero.dtype, .int8)
            XCTAssertEqual(zero.scalars(as: Int8.self), [0])
        }
        for r in summary.ranges { XCTAssertEqual(r.zeroPoint, 0) }
    }
}
