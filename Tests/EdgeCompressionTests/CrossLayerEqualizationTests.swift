import EdgeIR
import EdgeRuntime
import EdgeTransforms
import XCTest
@testable import EdgeCompression

/// Seeded uniform numbers for test weights (no Foundation randomness: results must repeat).
struct TestRandom {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24)
    }
    mutating func values(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<n).map { _ in lo + (hi - lo) * next() } }
}

/// A depthwise-separable block whose channel ranges differ by orders of magnitude:
/// x ─ Conv 3→8 (3×3) ─ Relu ─ Conv depthwise 8 (3×3, group 8) ─ [Relu | Clip(0,6)] ─ Conv 8→4 (1×1) ─ y
func separableBlock(secondActivation: String = "Relu", seed: UInt64 = 1) -> Model {
    var r = TestRandom(state: seed)
    // Channel c of the depthwise conv is scaled by 10^(c mod 4 − 2): ranges from 0.01 to 10, as in
    // trained MobileNets whose depthwise channels differ by orders of magnitude (BatchNorm folded
    // into them), and the projection's weights reading channel c by 10^(2 − c mod 4), so that every
    // channel matters equally to y.
    func spread(_ values: [Float], channels: Int) -> [Float] {
        let inner = values.count / channels
        return values.enumerated().map { i, v in v * Float(pow(10.0, Double((i / inner) % 4) - 2)) }
    }
    let w1 = r.values(8 * 3 * 9, -1, 1), b1 = r.values(8, -0.5, 0.5)
    let w2 = spread(r.values(8 * 9, -1, 1), channels: 8), b2 = r.values(8, -0.1, 0.1)
    let w3 = r.values(4 * 8, -1, 1).enumerated().map { i, v in v * Float(pow(10.0, 2 - Double((i % 8) % 4))) }
    let b3 = r.values(4, -0.1, 0.1)
    var nodes = [
        Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
        Node(name: "relu1", opType: "Relu", inputs: ["c1"], outputs: ["a1"]),
        Node(name: "dw", opType: "Conv", inputs: ["a1", "w2", "b2"], outputs: ["c2"],
             attributes: [Attribute("group", .int(8)), Attribute("pads", .ints([1, 1, 1, 1]))]),
    ]
    var initializers: [(String, Tensor)] = [
        ("w1", Tensor(shape: [8, 3, 3, 3], scalars: w1)), ("b1", Tensor(shape: [8], scalars: b1)),
        ("w2", Tensor(shape: [8, 1, 3, 3], scalars: w2)), ("b2", Tensor(shape: [8], scalars: b2)),
        ("w3", Tensor(shape: [4, 8, 1, 1], scalars: w3)), ("b3", Tensor(shape: [4], scalars: b3)),
    ]
    if secondActivation == "Clip" {
        nodes.append(Node(name: "relu6", opType: "Clip", inputs: ["c2", "lo", "hi"], outputs: ["a2"]))
        initializers += [("lo", .scalar(Float(0))), ("hi", .scalar(Float(6)))]
    } else {
        nodes.append(Node(name: "relu2", opType: "Relu", inputs: ["c2"], outputs: ["a2"]))
    }
    nodes.append(Node(name: "project", opType: "Conv", inputs: ["a2", "w3", "b3"], outputs: ["y"]))
    var graph = Graph(name: "block", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [2, 3, 6, 6]))],
                      outputs: [ValueInfo(name: "y", tensor: TensorType(.float, fixed: [2, 4, 6, 6]))], nodes: nodes)
    for (name, t) in initializers { graph.initializers[name] = t }
    return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
}

final class CrossLayerEqualizationTests: XCTestCase {
    func testEqualizationKeepsFloatOutputsAndBalancesRanges() throws {
        let model = separableBlock()
        let outcome = CrossLayerEqualization.apply(model.graph)
        XCTAssertEqual(outcome.pairs, 2)  // conv1→dw, dw→project
        XCTAssertGreaterThan(outcome.sweeps, 1)
        var equalized = model
        equalized.graph = outcome.graph
        // Float outputs equal within 1e-5 (relative ∞-norm) on seeded random inputs.
        let check = try EquivalenceCheck(reference: model, tolerance: 1e-5, randomSets: 3)
        let result = check.compare(equalized)
        XCTAssertTrue(result.passed, result.summary)

        // The spread of per-channel ranges (max / median). At convergence channel c has the same
        // range x_c in all three layers, and their product is fixed (r1·r2·r3 is invariant under the
        // rescaling): 10^k·10^−k, so the depthwise spread of 10 becomes that of random weights.
        let before = CrossLayerEqualization.rangeSpread(model.graph), after = CrossLayerEqualization.rangeSpread(outcome.graph)
        XCTAssertGreaterThan(before["dw"]!, 8)
        XCTAssertLessThan(after["dw"]!, before["dw"]! / 3)
        XCTAssertLessThan(after.values.max()!, before.values.max()! / 3)

        // At convergence each pair is balanced: r1_i = r2_i for every channel of conv1→dw.
        let w1: [Float] = outcome.graph.initializers["w1"]!.scalars(), w2: [Float] = outcome.graph.initializers["w2"]!.scalars()
        for c in 0..<8 {
            let r1 = w1[(c * 27)..<((c + 1) * 27)].map(abs).max()!
            let r2 = w2[(c * 9)..<((c + 1) * 9)].map(abs).max()!
            // dw is also the first conv of dw→project, so the sweep ends within tolerance, not exactly.
            XCTAssertEqual(r1 / r2, 1, accuracy: 1e-2, "channel \(c)")
        }
    }

    /// With one weight scale per tensor, the depthwise conv's small channels round to almost
    /// nothing; equalized, they keep their precision. Error measured by the engine against float.
    func testEqualizationReducesPerTensorQuantizationError() throws {
        let model = separableBlock()
        var r = TestRandom(state: 3)
        let samples = 64
        let x = Tensor(shape: [samples, 3, 6, 6], scalars: r.values(samples * 108, -1, 1))
        let data = CalibrationDataSet(source: "test", storage: .arrays(["x": x], samples: samples), extras: [:], batchSize: 2)
        var options = StaticQuantizationOptions()
        options.scheme = .perTensor
        options.threads = 1
        func relativeError(_ q: Model) throws -> Double {
            let a = try Session(model: model, options: SessionOptions(threads: 1)), b = try Session(model: q, options: SessionOptions(threads: 1))
            var error = 0.0, norm = 0.0
            for feed in data.batches() {
                let ya: [Float] = try a.run(feed)["y"]!.scalars(), yb: [Float] = try b.run(feed)["y"]!.scalars()
                for i in ya.indices { error += Double((ya[i] - yb[i]) * (ya[i] - yb[i])); norm += Double(ya[i] * ya[i]) }
            }
            return (error / norm).squareRoot()
        }
        let plain = try relativeError(StaticQuantizer.quantize(model, data: data, options: options).model)
        options.equalization = .skip
        let (equalized, summary) = try StaticQuantizer.quantize(model, data: data, options: options)
        XCTAssertEqual(summary.equalizedPairs, 2)
        XCTAssertLessThanOrEqual(summary.equalizationFloatError!, 1e-5)
        let after = try relativeError(equalized)
        XCTAssertLessThan(after, plain / 2, "relative RMS error \(plain) → \(after)")
    }

    func testRelu6PairIsSkippedUnlessReplaced() throws {
        let model = separableBlock(secondActivation: "Clip")
        let skipped = CrossLayerEqualization.apply(model.graph, relu6: .skip)
        XCTAssertEqual(skipped.pairs, 1)
        XCTAssertEqual(skipped.relu6Skipped, 1)
        var exact = model
        exact.graph = skipped.graph
        XCTAssertTrue(try EquivalenceCheck(reference: model, tolerance: 1e-5, randomSets: 2).compare(exact).passed)

        let replaced = CrossLayerEqualization.apply(model.graph, relu6: .replaceWithRelu)
        XCTAssertEqual(replaced.pairs, 2)
        XCTAssertEqual(replaced.relu6Replaced, 1)
        XCTAssertFalse(replaced.graph.nodes.contains { $0.opType == "Clip" })
    }

    func testBoundedRelu6StaysExactOnCalibrationData() throws {
        let model = separableBlock(secondActivation: "Clip")
        var r = TestRandom(state: 5)
        // Inputs scaled so that some depthwise channels (the ×10 ones) pass 6 and others do not.
        let x = Tensor(shape: [16, 3, 6, 6], scalars: r.values(16 * 108, -1, 1))
        let data = CalibrationDataSet(source: "test", storage: .arrays(["x": x], samples: 16), extras: [:], batchSize: 2)
        let maxima = try StaticQuantizer.channelMaxima(model, tensors: CrossLayerEqualization.relu6Inputs(model.graph), data: data)
        let m = maxima["c2"]!
        XCTAssertTrue(m.contains { $0 > 6 } && m.contains { $0 < 6 }, "maxima \(m)")
        let outcome = CrossLayerEqualization.apply(model.graph, relu6: .bounded, observedMax: maxima)
        XCTAssertEqual(outcome.pairs, 2)
        XCTAssertEqual(outcome.relu6Replaced, 0)
        XCTAssertTrue(outcome.graph.nodes.contains { $0.opType == "Clip" })
        // A channel that reached the clip keeps its depthwise weights; the others moved.
        let before: [Float] = model.graph.initializers["w2"]!.scalars(), after: [Float] = outcome.graph.initializers["w2"]!.scalars()
        let project: [Float] = model.graph.initializers["w3"]!.scalars(), projectAfter: [Float] = outcome.graph.initializers["w3"]!.scalars()
        for c in 0..<8 where m[c] > 6 {
            // dw's output channel c is not rescaled (its input channel may be, by conv1→dw).
            for o in 0..<4 { XCTAssertEqual(projectAfter[o * 8 + c], project[o * 8 + c], accuracy: 0) }
        }
        XCTAssertNotEqual(before, after)
        var equalized = model
        equalized.graph = outcome.graph
        let feeds = Array(data.batches())
        let check = try EquivalenceCheck(reference: model, tolerance: 1e-5, randomSets: 0, data: feeds)
        XCTAssertTrue(check.compare(equalized).passed, check.compare(equalized).summary)
    }

    func testSharedWeightIsLeftAlone() throws {
        var model = separableBlock()
        // A second reader of w2 makes the depthwise conv's weight off limits.
        model.graph.nodes.append(Node(name: "other", opType: "Conv", inputs: ["a1", "w2"], outputs: ["z"], attributes: [Attribute("group", .int(8))]))
        model.graph.outputs.append(ValueInfo(name: "z", type: nil))
        let outcome = CrossLayerEqualization.apply(model.graph)
        XCTAssertEqual(outcome.pairs, 0)
        XCTAssertEqual(outcome.graph, model.graph)
    }
}
