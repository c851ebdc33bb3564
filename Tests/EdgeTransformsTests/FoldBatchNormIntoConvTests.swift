import EdgeIR
@testable import EdgeTransforms
import XCTest

final class FoldBatchNormIntoConvTests: XCTestCase {
    func bnInitializers(_ c: Int, seed: UInt64) -> [String: Tensor] {
        ["gamma": T.random([c], seed: seed, scale: 0.5, offset: 1), "beta": T.random([c], seed: seed + 1),
         "mean": T.random([c], seed: seed + 2, scale: 0.3), "var": T.positive([c], seed: seed + 3)]
    }

    func testFoldsBatchNormWithEpsilonAndAffineIntoConvWithBias() throws {
        var inits = bnInitializers(4, seed: 20)
        inits["w"] = T.random([4, 3, 3, 3], seed: 30, scale: 0.3)
        inits["b"] = T.random([4], seed: 31)
        let m = T.model([
            T.node("Conv", ["x", "w", "b"], ["c"], [Attribute("pads", .ints([1, 1, 1, 1]))]),
            T.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"], [Attribute("epsilon", .float(1e-3))]),
        ], inputs: [T.input("x", [1, 3, 6, 6])], outputs: ["y"], initializers: inits)
        let (out, result) = try T.run(FoldBatchNormIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Conv"])
        XCTAssertEqual(out.graph.nodes[0].outputs, ["y"])
        XCTAssertEqual(out.graph.initializers.count, 2, "old W, b and the BN parameters are gone")
        // b' = (b − μ)·γ/√(σ²+ε) + β, checked on channel 2 by hand.
        let g = inits["gamma"]!.doubleValues()[2], be = inits["beta"]!.doubleValues()[2]
        let mu = inits["mean"]!.doubleValues()[2], v = inits["var"]!.doubleValues()[2], b = inits["b"]!.doubleValues()[2]
        let expected = (b - mu) * g / (v + Double(Float(1e-3))).squareRoot() + be
        let bias = out.graph.initializers[out.graph.nodes[0].inputs[2]]!.doubleValues()[2]
        XCTAssertEqual(bias, expected, accuracy: 1e-5)
        try T.assertEquivalent(m, out)
    }

    func testFoldsIntoConvWithoutBiasAndGroups() throws {
        var inits = bnInitializers(6, seed: 40)
        inits["w"] = T.random([6, 1, 3, 3], seed: 41)
        let m = T.model([
            T.node("Conv", ["x", "w"], ["c"], [Attribute("group", .int(6)), Attribute("strides", .ints([2, 2]))]),
            T.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"]),
        ], inputs: [T.input("x", [2, 6, 7, 7])], outputs: ["y"], initializers: inits)
        let (out, result) = try T.run(FoldBatchNormIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes[0].inputs.count, 3)
        try T.assertEquivalent(m, out)
    }

    func testFoldsIntoConvTransposeOutputChannels() throws {
        var inits = bnInitializers(6, seed: 50)
        inits["w"] = T.random([4, 3, 2, 2], seed: 51)  // C_in 4, C_out/group 3, group 2 → C_out 6
        let m = T.model([
            T.node("ConvTranspose", ["x", "w"], ["c"], [Attribute("group", .int(2)), Attribute("strides", .ints([2, 2]))]),
            T.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"]),
        ], inputs: [T.input("x", [1, 4, 3, 3])], outputs: ["y"], initializers: inits)
        let (out, result) = try T.run(FoldBatchNormIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["ConvTranspose"])
        try T.assertEquivalent(m, out)
    }

    func testLeavesConvWhoseOutputIsAlsoReadElsewhere() throws {
        var inits = bnInitializers(2, seed: 60)
        inits["w"] = T.random([2, 2, 1, 1], seed: 61)
        let m = T.model([
            T.node("Conv", ["x", "w"], ["c"]),
            T.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"]),
            T.node("Relu", ["c"], ["z"]),
        ], inputs: [T.input("x", [1, 2, 3, 3])], outputs: ["y", "z"], initializers: inits)
        let (_, result) = try T.run(FoldBatchNormIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}
