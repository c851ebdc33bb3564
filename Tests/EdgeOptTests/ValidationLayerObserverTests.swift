import EdgeCompression
import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeOpt

/// `edgeopt validate`'s per-layer table observes the layers in the engines' arenas. Its figures
/// must equal, bit for bit, those computed from the capture it replaced: every layer appended to
/// both models' graph outputs (computed here independently, with the same Σ r², Σ c², Σ r·c,
/// Σ (r − c)² accumulation in double).
final class ValidationLayerObserverTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The two models run in lockstep (`LockstepComparison`); whatever the budget for layer copies
    /// (0: the side that is ahead waits at every layer; the default: it rarely waits), the report
    /// must be the same, and equal to the capture's figures.
    func testLayerMetricsMatchGraphOutputCapture() throws {
        for budget in [0, 4096, LockstepComparison.defaultBudgetBytes] {
            try checkLayerMetrics(budget: budget)
        }
    }

    func checkLayerMetrics(budget: Int) throws {
        let float = try ONNXReader.read(path: Self.root.appendingPathComponent("models/digits_cnn.onnx").path)
        let calib = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_calib.npz").path, model: float, batchSize: 64)
        var options = StaticQuantizationOptions()
        options.threads = 2
        let quantized = try StaticQuantizer.quantize(float, data: calib, options: options).model
        let eval = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_eval.npz").path, model: float, batchSize: 100)
        var validateOptions = ModelValidator.Options()
        validateOptions.threads = 2
        validateOptions.layerBudgetBytes = budget
        let report = try ModelValidator.validate(reference: float, candidate: quantized, data: eval,
                                                 names: ("float", "int8"), options: validateOptions)
        XCTAssertGreaterThanOrEqual(report.layers.count, 4)

        var r = float, c = quantized
        let layers = report.layers.map(\.tensor)
        r.graph.outputs += layers.map { ValueInfo(name: $0, type: nil) }
        c.graph.outputs += layers.map { ValueInfo(name: $0, type: nil) }
        let rs = try Session(model: r, options: SessionOptions(threads: 2)), cs = try Session(model: c, options: SessionOptions(threads: 2))
        var sums: [String: (rr: Double, cc: Double, rc: Double, ee: Double, maxAbs: Double)] = [:]
        for feed in eval.batches() {
            let a = try rs.run(feed), b = try cs.run(feed)
            for name in layers {
                let x: [Float] = a[name]!.scalars(), y: [Float] = b[name]!.scalars()
                var s = sums[name] ?? (0, 0, 0, 0, 0)
                for i in x.indices {
                    let p = Double(x[i]), q = Double(y[i]), e = p - q
                    s.rr += p * p; s.cc += q * q; s.rc += p * q; s.ee += e * e
                    s.maxAbs = max(s.maxAbs, abs(e))
                }
                sums[name] = s
            }
        }
        for layer in report.layers {
            let s = try XCTUnwrap(sums[layer.tensor])
            XCTAssertEqual(layer.maxAbsError, s.maxAbs, layer.tensor)
            XCTAssertEqual(layer.cosine, s.rc / (s.rr * s.cc).squareRoot(), layer.tensor)
            XCTAssertEqual(layer.sqnrDB, s.ee == 0 ? nil : 10 * log10(max(s.rr, .leastNonzeroMagnitude) / s.ee), layer.tensor)
            XCTAssertGreaterThan(s.ee, 0, "int8 differs from float at \(layer.tensor)")
        }
    }

    /// Observing layers keeps the candidate's Q/DQ pairs from integer lowering; the output figures
    /// must still be those of the integer arithmetic, i.e. equal to a run without layers.
    func testOutputMetricsWithLayersAreTheIntegerModels() throws {
        let float = try ONNXReader.read(path: Self.root.appendingPathComponent("models/digits_cnn.onnx").path)
        let calib = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_calib.npz").path, model: float, batchSize: 64)
        let quantized = try StaticQuantizer.quantize(float, data: calib, options: StaticQuantizationOptions()).model
        let eval = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_eval.npz").path, model: float, batchSize: 100)
        let withLayers = ModelValidator.Options()
        var withoutLayers = ModelValidator.Options()
        withoutLayers.layers = false
        let a = try ModelValidator.validate(reference: float, candidate: quantized, data: eval, names: ("f", "q"), options: withLayers)
        let b = try ModelValidator.validate(reference: float, candidate: quantized, data: eval, names: ("f", "q"), options: withoutLayers)
        XCTAssertFalse(a.layers.isEmpty)
        XCTAssertEqual(a.outputs.map(\.sqnrDB), b.outputs.map(\.sqnrDB))
        XCTAssertEqual(a.outputs.map(\.maxAbsError), b.outputs.map(\.maxAbsError))
        XCTAssertEqual(a.outputs.map(\.top1Agreement), b.outputs.map(\.top1Agreement))
    }
}
