import EdgeIR
@testable import EdgeTransforms
import XCTest

final class FuseActivationsTests: XCTestCase {
    func convModel(_ activation: [Node], opset: Int64 = 17, extra: [String: Tensor] = [:]) -> Model {
        var inits = extra
        inits["w"] = T.random([4, 3, 3, 3], seed: 70, scale: 0.5)
        inits["b"] = T.random([4], seed: 71)
        return T.model([T.node("Conv", ["x", "w", "b"], ["c"], [Attribute("pads", .ints([1, 1, 1, 1]))])] + activation,
                       inputs: [T.input("x", [1, 3, 5, 5])], outputs: ["y"], initializers: inits, opset: opset)
    }

    func testFusesEachActivationIntoConvAndMatchesNumerically() throws {
        let cases: [(String, [Node], [String: Tensor])] = [
            ("Relu", [T.node("Relu", ["c"], ["y"])], [:]),
            ("Clip", [T.node("Clip", ["c", "lo", "hi"], ["y"])], ["lo": .scalar(Float(0)), "hi": .scalar(Float(6))]),
            ("LeakyRelu", [T.node("LeakyRelu", ["c"], ["y"], [Attribute("alpha", .float(0.2))])], [:]),
            ("Sigmoid", [T.node("Sigmoid", ["c"], ["y"])], [:]),
            ("HardSigmoid", [T.node("HardSigmoid", ["c"], ["y"], [Attribute("alpha", .float(0.3)), Attribute("beta", .float(0.4))])], [:]),
            ("HardSwish", [T.node("HardSwish", ["c"], ["y"])], [:]),
            ("Tanh", [T.node("Tanh", ["c"], ["y"])], [:]),
        ]
        for (name, nodes, extra) in cases {
            let m = convModel(nodes, extra: extra)
            let (out, result) = try T.run(FuseActivations(), on: m)
            XCTAssertEqual(result.rewrites, 1, name)
            XCTAssertEqual(out.graph.nodes.count, 1, name)
            XCTAssertEqual(out.graph.nodes[0].opType, "FusedConv", name)
            XCTAssertEqual(out.graph.nodes[0].string("activation"), name)
            XCTAssertEqual(out.opsetVersion(domain: "ai.edgeopt"), 1)
            try T.assertEquivalent(m, out)
            // Written back as standard ONNX: Conv + the activation, same numbers.
            let lowered = FusedExport.lower(out)
            XCTAssertEqual(lowered.graph.opCounts()["Conv"], 1, name)
            XCTAssertNil(lowered.opsetVersion(domain: "ai.edgeopt"))
            XCTAssertTrue(lowered.graph.nodes.allSatisfy(\.isStandardDomain))
            try T.assertEquivalent(m, lowered)
        }
    }

    func testFusesSiLUAndLowersItToSigmoidMul() throws {
        let m = convModel([T.node("SiLU", ["c"], ["y"], domain: "ai.edgeopt")])
        var withDomain = m
        withDomain.opsetImports.append(OpsetImport(domain: "ai.edgeopt", version: 1))
        let (out, result) = try T.run(FuseActivations(), on: withDomain)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes[0].string("activation"), "SiLU")
        let lowered = FusedExport.lower(out)
        XCTAssertEqual(lowered.graph.nodes.map(\.opType), ["Conv", "Sigmoid", "Mul"])
        try T.assertEquivalent(withDomain, lowered)
        try T.assertEquivalent(withDomain, out)
    }

    func testFusesGemmWithLeakyReluAndBroadcastBias() throws {
        let m = T.model([
            T.node("Gemm", ["x", "w", "b"], ["g"], [Attribute("transB", .int(1)), Attribute("alpha", .float(0.5)), Attribute("beta", .float(2))]),
            T.node("LeakyRelu", ["g"], ["y"], [Attribute("alpha", .float(0.1))]),
        ], inputs: [T.input("x", [3, 8])], outputs: ["y"],
           initializers: ["w": T.random([5, 8], seed: 72), "b": T.random([1, 5], seed: 73)])
        let (out, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes[0].opType, "FusedGemm")
        try T.assertEquivalent(m, out)
        try T.assertEquivalent(m, FusedExport.lower(out))
    }

    func testContribExportUsesOnnxruntimeFusedConv() throws {
        let m = convModel([T.node("Relu", ["c"], ["y"])])
        let (out, _) = try T.run(FuseActivations(), on: m)
        let contrib = FusedExport.lower(out, style: .onnxruntimeContrib)
        XCTAssertEqual(contrib.graph.nodes.map(\.opType), ["FusedConv"])
        XCTAssertEqual(contrib.graph.nodes[0].domain, "com.microsoft")
        XCTAssertEqual(contrib.opsetVersion(domain: "com.microsoft"), 1)
        XCTAssertEqual(contrib.graph.nodes[0].string("activation"), "Relu")
    }

    func testClipOpset11WithNonConstantBoundIsNotFused() throws {
        let m = T.model([
            T.node("Conv", ["x", "w"], ["c"]),
            T.node("Clip", ["c", "lo"], ["y"]),
        ], inputs: [T.input("x", [1, 1, 3, 3]), T.input("lo", [])], outputs: ["y"], initializers: ["w": T.random([1, 1, 1, 1], seed: 74)])
        let (_, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}
