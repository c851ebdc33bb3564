import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

/// The accuracy-budget metrics score every output and keep the worst: a two-output model whose
/// second output is wrecked must fail the budget even though its first output is exact. The
/// expected values are recomputed here from the engine's raw outputs.
final class MetricEvaluatorTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// digits_cnn with a second output "second" = op(logits).
    func twoOutputs(_ op: String) throws -> Model {
        var m = try ONNXReader.read(path: Self.root.appendingPathComponent("models/digits_cnn.onnx").path)
        var info = m.graph.outputs[0]
        info.name = "second"
        m.graph.outputs.append(info)
        m.graph.nodes.append(Node(name: "second_op", opType: op, inputs: ["logits"], outputs: ["second"]))
        return m
    }

    func argmaxRows(_ v: [Float], width: Int) -> [Int] {
        (0..<(v.count / width)).map { r in
            let row = v[(r * width)..<(r * width + width)]
            return row.firstIndex(of: row.max()!)! - r * width
        }
    }

    func testWorstOutputCounts() throws {
        let reference = try twoOutputs("Identity")
        let candidate = try twoOutputs("Neg")  // first output exact, second negated
        let eval = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_eval.npz").path, model: reference, batchSize: 397)
        let feed = Array(eval.batches())[0]
        let logits: [Float] = try Session(model: reference, options: SessionOptions(threads: 1)).run(feed)["logits"]!.scalars()
        let truth = argmaxRows(logits, width: 10)
        let negated = argmaxRows(logits.map { -$0 }, width: 10)
        let labels = try eval.extra(named: "label").scalars(as: Int64.self).map(Int.init)
        let agreementNegated = Double(zip(truth, negated).filter { $0 == $1 }.count) / Double(truth.count)
        let top1 = Double(zip(truth, labels).filter { $0 == $1 }.count) / Double(labels.count)
        let top1Negated = Double(zip(negated, labels).filter { $0 == $1 }.count) / Double(labels.count)

        let agreement = try MetricEvaluator(reference: reference, data: eval, metric: .agreement, labels: nil, threads: 1)
        XCTAssertEqual(agreement.outputs, ["logits", "second"])
        let a = try agreement.scores(candidate)
        XCTAssertEqual(a.perOutput.map(\.output), ["logits", "second"])
        XCTAssertEqual(a.perOutput[0].value, 1)
        XCTAssertEqual(try XCTUnwrap(a.perOutput[1].value), agreementNegated, accuracy: 1e-12)
        XCTAssertEqual(a.worst, agreementNegated, accuracy: 1e-12)
        XCTAssertLessThan(a.worst, 0.5)
        XCTAssertFalse(AccuracyBudget(metric: .agreement, limit: .absolute(50)).isMet(a.worst, reference: agreement.referenceValue))

        // Cosine of −r with r is −1; SQNR of −r is 10·log10(Σr²/Σ(2r)²) = −6.02 dB.
        let cosine = try MetricEvaluator(reference: reference, data: eval, metric: .cosine, labels: nil, threads: 1)
        XCTAssertEqual(try cosine.score(candidate), -1, accuracy: 1e-9)
        let sqnr = try MetricEvaluator(reference: reference, data: eval, metric: .sqnr, labels: nil, threads: 1)
        let s = try sqnr.scores(candidate)
        XCTAssertNil(s.perOutput[0].value)  // identical: +∞
        XCTAssertEqual(s.worst, -10 * log10(4.0), accuracy: 1e-9)

        // Top-1: the worst drop, on the lowest reference (both are the float top-1 here).
        let t = try MetricEvaluator(reference: reference, data: eval, metric: .top1, labels: "label", threads: 1)
        XCTAssertEqual(t.referenceValues.count, 2)
        XCTAssertEqual(t.referenceValue, top1, accuracy: 1e-12)
        let ts = try t.scores(candidate)
        XCTAssertEqual(try XCTUnwrap(ts.perOutput[0].value), top1, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ts.perOutput[1].value), top1Negated, accuracy: 1e-12)
        XCTAssertEqual(ts.worst, top1Negated, accuracy: 1e-12)
        // The exact model meets a 0% budget on both outputs.
        XCTAssertTrue(AccuracyBudget(metric: .top1, limit: .absolute(0)).isMet(try t.score(reference), reference: t.referenceValue))
    }
}
