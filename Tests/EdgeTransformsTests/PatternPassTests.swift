import EdgeIR
@testable import EdgeTransforms
import XCTest

final class FuseSiLUTests: XCTestCase {
    func testXTimesSigmoidXBecomesSiLUAndThenAConvEpilogue() throws {
        let m = T.model([
            T.node("Conv", ["x", "w"], ["c"]),
            T.node("Sigmoid", ["c"], ["s"]),
            T.node("Mul", ["c", "s"], ["y"]),
        ], inputs: [T.input("x", [1, 2, 4, 4])], outputs: ["y"], initializers: ["w": T.random([3, 2, 3, 3], seed: 120)])
        let (silu, result) = try T.run(FuseSiLU(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(silu.graph.nodes.map(\.opType), ["Conv", "SiLU"])
        try T.assertEquivalent(m, silu)
        let (fused, _) = try T.run(FuseActivations(), on: silu)
        XCTAssertEqual(fused.graph.nodes.map(\.opType), ["FusedConv"])
        try T.assertEquivalent(m, fused)
    }
}

final class FuseHardSwishTests: XCTestCase {
    func testXTimesHardSigmoidBecomesHardSwish() throws {
        let m = T.model([
            T.node("HardSigmoid", ["x"], ["h"], [Attribute("alpha", .float(Float(1.0 / 6.0))), Attribute("beta", .float(0.5))]),
            T.node("Mul", ["h", "x"], ["y"]),
        ], inputs: [T.input("x", [4, 8])], outputs: ["y"], opset: 14)
        let (out, result) = try T.run(FuseHardSwish(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["HardSwish"])
        try T.assertEquivalent(m, out, tolerance: 1e-6)
    }

    func testDefaultHardSigmoidIsNotHardSwish() throws {
        let m = T.model([T.node("HardSigmoid", ["x"], ["h"]), T.node("Mul", ["h", "x"], ["y"])],
                        inputs: [T.input("x", [4])], outputs: ["y"], opset: 14)
        XCTAssertEqual(try T.run(FuseHardSwish(), on: m).1.rewrites, 0)
    }
}

final class FuseGeluTests: XCTestCase {
    func testErfGeluBecomesGeluAtOpset20() throws {
        let m = T.model([
            T.node("Div", ["x", "sqrt2"], ["d"]),
            T.node("Erf", ["d"], ["e"]),
            T.node("Add", ["e", "one"], ["a"]),
            T.node("Mul", ["x", "a"], ["m"]),
            T.node("Mul", ["m", "half"], ["y"]),
        ], inputs: [T.input("x", [2, 16])], outputs: ["y"], initializers: [
            "sqrt2": .scalar(Float(1.4142135)), "one": .scalar(Float(1)), "half": .scalar(Float(0.5)),
        ], opset: 20)
        let (out, result) = try T.run(FuseGelu(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Gelu"])
        try T.assertEquivalent(m, out)
        // Below opset 20 there is no Gelu: nothing happens.
        var old = m
        old.opsetImports = [OpsetImport(domain: "", version: 17)]
        XCTAssertEqual(try T.run(FuseGelu(), on: old).1.rewrites, 0)
    }

    func testTanhGeluBecomesApproximateGelu() throws {
        let m = T.model([
            T.node("Mul", ["x", "half"], ["h"]),
            T.node("Pow", ["x", "three"], ["p"]),
            T.node("Mul", ["p", "c"], ["pc"]),
            T.node("Add", ["x", "pc"], ["inner"]),
            T.node("Mul", ["inner", "k"], ["u"]),
            T.node("Tanh", ["u"], ["t"]),
            T.node("Add", ["t", "one"], ["a"]),
            T.node("Mul", ["h", "a"], ["y"]),
        ], inputs: [T.input("x", [2, 16])], outputs: ["y"], initializers: [
            "half": .scalar(Float(0.5)), "three": .scalar(Float(3)), "c": .scalar(Float(0.044715)),
            "k": .scalar(Float(0.7978845608)), "one": .scalar(Float(1)),
        ], opset: 20)
        let (out, result) = try T.run(FuseGelu(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Gelu"])
        XCTAssertEqual(out.graph.nodes[0].string("approximate"), "tanh")
        try T.assertEquivalent(m, out)
    }
}

final class FuseLayerNormTests: XCTestCase {
    func layerNorm(opset: Int64, affine: Bool) -> Model {
        let axes: [Attribute] = opset < 18 ? [Attribute("axes", .ints([-1]))] : []
        let axisInput: [String] = opset < 18 ? [] : ["axes"]
        var nodes = [
            T.node("ReduceMean", ["x"] + axisInput, ["mu"], axes),
            T.node("Sub", ["x", "mu"], ["d"]),
            T.node("Pow", ["d", "two"], ["p"]),
            T.node("ReduceMean", ["p"] + axisInput, ["v"], axes),
            T.node("Add", ["v", "eps"], ["ve"]),
            T.node("Sqrt", ["ve"], ["s"]),
            T.node("Div", ["d", "s"], affine ? ["n"] : ["y"]),
        ]
        if affine { nodes += [T.node("Mul", ["n", "gamma"], ["g"]), T.node("Add", ["g", "beta"], ["y"])] }
        return T.model(nodes, inputs: [T.input("x", [2, 5, 16])], outputs: ["y"], initializers: [
            "two": .scalar(Float(2)), "eps": .scalar(Float(1e-5)), "axes": T.ints([-1]),
            "gamma": T.random([16], seed: 130, scale: 0.2, offset: 1), "beta": T.random([16], seed: 131),
        ], opset: opset)
    }

    func testDecomposedLayerNormBecomesLayerNormalization() throws {
        for (opset, affine) in [(Int64(17), true), (18, true), (17, false)] {
            let m = layerNorm(opset: opset, affine: affine)
            let (out, result) = try T.run(FuseLayerNorm(), on: m)
            XCTAssertEqual(result.rewrites, 1, "opset \(opset)")
            XCTAssertEqual(out.graph.nodes.map(\.opType), ["LayerNormalization"])
            XCTAssertEqual(out.graph.nodes[0].int("axis"), 2)
            XCTAssertEqual(out.graph.nodes[0].float("epsilon"), 1e-5)
            try T.assertEquivalent(m, out)
        }
    }

    func testNothingBelowOpset17() throws {
        XCTAssertEqual(try T.run(FuseLayerNorm(), on: layerNorm(opset: 16, affine: true)).1.rewrites, 0)
    }
}
