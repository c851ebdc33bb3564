import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

final class BiasCorrectionTests: XCTestCase {
    /// x (non-negative, as after a ReLU) ─ Conv 8→6 (3×3, pads 1) ─ y, with one outlier weight so
    /// that per-tensor int8 rounding of the others is coarse (step 4/127).
    func layer() -> (Model, CalibrationDataSet) {
        var r = TestRandom(state: 7)
        var w = r.values(6 * 8 * 9, -1, 1)
        w[0] = 4
        var graph = Graph(name: "layer", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, [.symbolic("n"), .fixed(8), .fixed(6), .fixed(6)]))],
                          outputs: [ValueInfo(name: "y", type: nil)],
                          nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                                       attributes: [Attribute("pads", .ints([1, 1, 1, 1]))])])
        graph.initializers["w"] = Tensor(shape: [6, 8, 3, 3], scalars: w)
        graph.initializers["b"] = Tensor(shape: [6], scalars: r.values(6, -0.2, 0.2))
        let samples = 64
        let x = Tensor(shape: [samples, 8, 6, 6], scalars: r.values(samples * 8 * 36, 0, 1))
        let data = CalibrationDataSet(source: "test", storage: .arrays(["x": x], samples: samples), extras: [:], batchSize: 16)
        return (Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph), data)
    }

    /// Mean over channels of |E[y_quantized − y_float]| (expectation over samples and positions).
    func meanOutputBias(_ float: Model, _ quantized: Model, _ data: CalibrationDataSet) throws -> Double {
        let a = try Session(model: float, options: SessionOptions(threads: 1))
        let b = try Session(model: quantized, options: SessionOptions(threads: 1))
        var sums = [Double](repeating: 0, count: 6)
        var count = 0
        for feed in data.batches() {
            let ya: [Float] = try a.run(feed)["y"]!.scalars(), yb: [Float] = try b.run(feed)["y"]!.scalars()
            for i in ya.indices { sums[(i / 36) % 6] += Double(yb[i] - ya[i]) }
            count += ya.count / 6
        }
        return sums.map { abs($0) / Double(count) }.reduce(0, +) / 6
    }

    func testBiasCorrectionReducesMeanOutputError() throws {
        let (model, data) = layer()
        var options = StaticQuantizationOptions()
        options.scheme = .perTensor
        options.threads = 1
        let (plain, _) = try StaticQuantizer.quantize(model, data: data, options: options)
        options.biasCorrection = true
        let (corrected, summary) = try StaticQuantizer.quantize(model, data: data, options: options)
        XCTAssertEqual(summary.biasCorrectedLayers, 1)
        let before = try meanOutputBias(model, plain, data), after = try meanOutputBias(model, corrected, data)
        // Expected size of the weight-rounding bias: √72 · (4/127)/√12 · E[x] ≈ 0.04 per channel.
        XCTAssertGreaterThan(before, 0.01)
        XCTAssertLessThan(after, before / 4, "mean |bias| \(before) → \(after)")
    }

    func testAddsBiasToConvWithoutOne() throws {
        var (model, data) = layer()
        model.graph.nodes[0].inputs.removeLast()
        model.graph.initializers.removeValue(forKey: "b")
        var options = StaticQuantizationOptions()
        options.scheme = .perTensor
        options.biasCorrection = true
        options.threads = 1
        let (corrected, summary) = try StaticQuantizer.quantize(model, data: data, options: options)
        XCTAssertEqual(summary.biasCorrectedLayers, 1)
        XCTAssertEqual(summary.quantizedBiases, 1)  // the new bias is int32 like any other
        XCTAssertEqual(corrected.graph.nodes.first { $0.opType == "Conv" }!.inputs.count, 3)
        var plainOptions = options
        plainOptions.biasCorrection = false
        let (plain, _) = try StaticQuantizer.quantize(model, data: data, options: plainOptions)
        XCTAssertLessThan(try meanOutputBias(model, corrected, data), try meanOutputBias(model, plain, data) / 4)
    }
}
