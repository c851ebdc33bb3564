import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

/// Accuracy budgets and the INT8 → FP16 → FP32 fallback search on the trained models in
/// `models/`. Every budget outcome is re-measured here from the returned model with the
/// engine, independently of the search's own bookkeeping.
final class MixedPrecisionTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func path(_ name: String) -> String { Self.root.appendingPathComponent("models/\(name)").path }

    func testBudgetSyntax() throws {
        let abs = try AccuracyBudget.parseDrop("0.5%", metric: .top1)
        XCTAssertEqual(abs.limit, .absolute(0.5))
        XCTAssertEqual(abs.floor(reference: 392.0 / 397), 392.0 / 397 - 0.005, accuracy: 1e-12)
        let rel = try AccuracyBudget.parseDrop("2%rel", metric: .agreement)
        XCTAssertEqual(rel.floor(reference: 0.9), 0.882, accuracy: 1e-12)
        XCTAssertTrue(rel.isMet(0.882, reference: 0.9))
        XCTAssertFalse(rel.isMet(0.8819, reference: 0.9))
        XCTAssertEqual(try AccuracyBudget.parseDrop("0.5", metric: .top1).limit, .absolute(0.5))
        XCTAssertEqual(try AccuracyBudget.parseDrop("1points", metric: .top1).limit, .absolute(1))
        for bad in ["-1%", "101%", "abc%", "2%relative", "0.5%%"] {
            XCTAssertThrowsError(try AccuracyBudget.parseDrop(bad, metric: .top1), bad)
        }
        XCTAssertThrowsError(try AccuracyBudget.parseDrop("1%", metric: .sqnr))
        XCTAssertTrue(AccuracyBudget(metric: .sqnr, limit: .minimumSQNR(30)).isMet(.infinity, reference: .infinity))
    }

    func search(_ name: String, budget: AccuracyBudget, fp16: Bool = true, maxTrials: Int? = nil, timeLimit: Double? = nil) throws -> (Model, CalibrationDataSet, MixedPrecisionResult) {
        let model = try ONNXReader.read(path: path(name))
        let calib = try CalibrationDataSet.load(path: path("digits_calib.npz"), model: model, batchSize: 100)
        let eval = try CalibrationDataSet.load(path: path("digits_eval.npz"), model: model, batchSize: 397)
        var options = MixedPrecisionOptions(budget: budget)
        options.quantization.threads = 1
        options.allowFP16 = fp16
        options.maxTrials = maxTrials
        options.timeLimit = timeLimit
        options.labels = "label"
        return (model, eval, try MixedPrecisionSearch.run(model, calibration: calib, evaluation: eval, options: options))
    }

    /// SQNR (dB) of the candidate's logits against the float model's, and its top-1.
    func measure(_ reference: Model, _ candidate: Model, _ eval: CalibrationDataSet) throws -> (sqnr: Double, top1: Double) {
        let feed = Array(eval.batches())[0]
        let r: [Float] = try Session(model: reference, options: SessionOptions(threads: 1)).run(feed)["logits"]!.scalars()
        let c: [Float] = try Session(model: candidate, options: SessionOptions(threads: 1)).run(feed)["logits"]!.scalars()
        var s = 0.0, n = 0.0
        for i in r.indices { s += Double(r[i]) * Double(r[i]); n += (Double(r[i]) - Double(c[i])) * (Double(r[i]) - Double(c[i])) }
        let labels = try eval.extra(named: "label").scalars(as: Int64.self)
        var correct = 0
        for row in 0..<labels.count {
            let v = c[(row * 10)..<(row * 10 + 10)]
            if Int64(v.firstIndex(of: v.max()!)! - row * 10) == labels[row] { correct += 1 }
        }
        return (10 * log10(s / n), Double(correct) / Double(labels.count))
    }

    /// A 0.5-point top-1 budget on the ViT holds with every layer INT8 (one trial).
    func testTop1BudgetMetOnDigitsAttention() throws {
        let (model, eval, r) = try search("digits_attention.onnx", budget: try .parseDrop("0.5%", metric: .top1))
        XCTAssertTrue(r.met)
        XCTAssertEqual(r.trials.count, 1)
        XCTAssertEqual(r.referenceValue, 392.0 / 397, accuracy: 1e-12)
        XCTAssertTrue(r.layers.allSatisfy { $0.precision == .int8 })
        let measured = try measure(model, r.model, eval)
        XCTAssertEqual(measured.top1, r.finalValue, accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(measured.top1, 392.0 / 397 - 0.005)
    }

    /// All-INT8 digits_cnn reaches 36.1 dB; a 45 dB floor needs the most sensitive layers in FP16
    /// (measured: 3 of 4, 47.5 dB). The written model holds float16 weights for exactly those
    /// layers and int8 weights for the rest.
    func testSQNRBudgetFallsBackToFP16OnDigitsCNN() throws {
        let (model, eval, r) = try search("digits_cnn.onnx", budget: AccuracyBudget(metric: .sqnr, limit: .minimumSQNR(45)))
        XCTAssertTrue(r.met)
        XCTAssertLessThan(r.int8Value, 45)
        let fp16 = r.layers.filter { $0.precision == .fp16 }
        XCTAssertFalse(fp16.isEmpty)
        XCTAssertLessThan(fp16.count, r.layers.count)
        XCTAssertFalse(r.layers.contains { $0.precision == .fp32 })
        // The fallback layers are the top of the sensitivity order.
        XCTAssertEqual(Set(fp16.map(\.rank)), Set(1...fp16.count))
        let measured = try measure(model, r.model, eval)
        XCTAssertEqual(measured.sqnr, r.finalValue, accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(measured.sqnr, 45)
        let nodes = Dictionary(uniqueKeysWithValues: r.model.graph.nodes.map { ($0.name, $0) })
        let weights = Dictionary(uniqueKeysWithValues: r.model.graph.weights().map { ($0.location.name, $0.tensor) })
        for layer in r.layers {
            let node = try XCTUnwrap(nodes[layer.node], layer.node)
            let w = node.inputs[1]
            if layer.precision == .fp16 {
                XCTAssertEqual(weights[w]?.dtype, .float16, layer.node)
            } else {
                XCTAssertNil(weights[w], "INT8 weight '\(w)' of \(layer.node) comes from a DequantizeLinear")
            }
        }
    }

    /// With --precision int8 a budget may only fall back to FP32; same 45 dB floor.
    func testInt8BudgetFallsBackOnlyToFP32() throws {
        let (model, eval, r) = try search("digits_cnn.onnx", budget: AccuracyBudget(metric: .sqnr, limit: .minimumSQNR(45)), fp16: false)
        XCTAssertTrue(r.met)
        XCTAssertFalse(r.layers.contains { $0.precision == .fp16 })
        XCTAssertTrue(r.layers.contains { $0.precision == .fp32 })
        XCTAssertFalse(r.model.graph.nodes.contains { $0.opType == "Cast" })
        XCTAssertGreaterThanOrEqual(try measure(model, r.model, eval).sqnr, 45)
    }

    /// A trial limit that stops the search before the budget holds returns the best model
    /// tried, with the distance to the budget.
    func testTrialLimitReturnsBestModelAndShortfall() throws {
        let (_, _, r) = try search("digits_cnn.onnx", budget: AccuracyBudget(metric: .sqnr, limit: .minimumSQNR(45)), maxTrials: 2)
        XCTAssertFalse(r.met)
        XCTAssertEqual(r.trials.count, 2)
        XCTAssertEqual(r.stoppedBy, "trial limit (2)")
        let best = r.trials.compactMap(\.value).max()!
        XCTAssertEqual(r.finalValue, best, accuracy: 1e-12)
        XCTAssertEqual(r.shortfall, 45 - best, accuracy: 1e-12)
    }

    /// A time limit shorter than calibration still gives the all-INT8 trial, then stops.
    func testTimeLimitStopsAfterTheInt8Trial() throws {
        let (_, _, r) = try search("digits_cnn.onnx", budget: AccuracyBudget(metric: .sqnr, limit: .minimumSQNR(45)), timeLimit: 1e-3)
        XCTAssertFalse(r.met)
        XCTAssertEqual(r.trials.count, 1)
        XCTAssertEqual(r.stoppedBy, "time limit (0.001 s)")
        XCTAssertTrue(r.layers.allSatisfy { $0.precision == .int8 })
        XCTAssertEqual(r.shortfall, 45 - r.int8Value, accuracy: 1e-12)
    }
}
