import EdgeIR
@testable import EdgeTransforms
import XCTest

/// `fuse-activations` records a residual Add after a Conv (Gemm) as FusedConv's (FusedGemm's)
/// fourth input Z, then the activation after it; the engine runs the fused node to the same
/// numbers, and export writes Conv → Add → act (standard) or com.microsoft::FusedConv(X, W, B, Z)
/// (contrib; a Gemm is always written in the standard form).
final class FuseResidualTests: XCTestCase {
    /// x [1, 4, 5, 5] → Conv(3×3, pad 1, 4 → 4) → c → Add(addInputs) → s (→ tail) → y.
    func model(addInputs: [String], tail: [Node], outputs: [String] = ["y"], skipShape: [Int] = [1, 4, 5, 5]) -> Model {
        T.model([T.node("Conv", ["x", "w", "b"], ["c"], [Attribute("pads", .ints([1, 1, 1, 1]))]),
                 T.node("Add", addInputs, ["s"])] + tail,
                inputs: [T.input("x", [1, 4, 5, 5]), T.input("skip", skipShape)], outputs: outputs,
                initializers: ["w": T.random([4, 4, 3, 3], seed: 80, scale: 0.5), "b": T.random([4], seed: 81)])
    }

    func testResidualAndReluBecomeOneFusedConv() throws {
        for order in [["c", "skip"], ["skip", "c"]] {
            let m = model(addInputs: order, tail: [T.node("Relu", ["s"], ["y"])])
            let (out, result) = try T.run(FuseActivations(), on: m)
            XCTAssertEqual(result.rewrites, 2)
            XCTAssertEqual(out.graph.nodes.map(\.opType), ["FusedConv"])
            let fused = out.graph.nodes[0]
            XCTAssertEqual(fused.inputs, ["x", "w", "b", "skip"])
            XCTAssertEqual(fused.string("activation"), "Relu")
            XCTAssertEqual(fused.outputs, ["y"])
            try T.assertEquivalent(m, out)
            // Standard export restores the three nodes and their value names.
            let lowered = FusedExport.lower(out)
            XCTAssertEqual(lowered.graph.nodes.map(\.opType), ["Conv", "Add", "Relu"])
            XCTAssertEqual(lowered.graph.nodes.map(\.outputs), [["c"], ["s"], ["y"]])
            XCTAssertEqual(lowered.graph.nodes[1].name, "Add_s")
            try T.assertEquivalent(m, lowered)
            let contrib = FusedExport.lower(out, style: .onnxruntimeContrib)
            XCTAssertEqual(contrib.graph.nodes.map(\.opType), ["FusedConv"])
            XCTAssertEqual(contrib.graph.nodes[0].domain, "com.microsoft")
            XCTAssertEqual(contrib.graph.nodes[0].inputs, ["x", "w", "b", "skip"])
            XCTAssertNil(contrib.graph.nodes[0].string("residual_input"))
        }
    }

    func testResidualWithoutActivation() throws {
        // MobileNetV2's blocks end in a plain Add.
        let m = model(addInputs: ["skip", "c"], tail: [], outputs: ["s"])
        let (out, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["FusedConv"])
        XCTAssertNil(out.graph.nodes[0].string("activation"))
        try T.assertEquivalent(m, out)
        let lowered = FusedExport.lower(out)
        XCTAssertEqual(lowered.graph.nodes.map(\.opType), ["Conv", "Add"])
        try T.assertEquivalent(m, lowered)
        let contrib = FusedExport.lower(out, style: .onnxruntimeContrib)
        XCTAssertEqual(contrib.graph.nodes.map(\.opType), ["FusedConv"])
        XCTAssertNil(contrib.graph.nodes[0].string("activation"))
    }

    func testBasicBlockWhoseSkipComesFromAFusedConv() throws {
        // conv → Relu (fused first, into ai.edgeopt::FusedConv) → r; conv(r) → Add(·, r) → Relu:
        // the Add's shapes come through the fused node, as in every block of a ResNet.
        let m = T.model([T.node("Conv", ["x", "w", "b"], ["c0"], [Attribute("pads", .ints([1, 1, 1, 1]))]),
                         T.node("Relu", ["c0"], ["r"]),
                         T.node("Conv", ["r", "w", "b"], ["c1"], [Attribute("pads", .ints([1, 1, 1, 1]))]),
                         T.node("Add", ["c1", "r"], ["s"]), T.node("Relu", ["s"], ["y"])],
                        inputs: [T.input("x", [1, 4, 5, 5])], outputs: ["y"],
                        initializers: ["w": T.random([4, 4, 3, 3], seed: 82, scale: 0.5), "b": T.random([4], seed: 83)])
        let (out, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 3)
        XCTAssertEqual(out.graph.nodes.map(\.inputs), [["x", "w", "b"], ["r", "w", "b", "r"]])
        try T.assertEquivalent(m, out)
        try T.assertEquivalent(m, FusedExport.lower(out))
    }

    func testBroadcastAddIsNotFused() throws {
        let m = model(addInputs: ["c", "skip"], tail: [T.node("Relu", ["s"], ["y"])], skipShape: [1, 4, 1, 1])
        let (out, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Conv", "Add", "Relu"])
    }

    func testConvOutputReadElsewhereIsNotFused() throws {
        let m = model(addInputs: ["c", "skip"], tail: [T.node("Relu", ["s"], ["y"])], outputs: ["y", "c"])
        let (out, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Conv", "Add", "Relu"])
    }

    /// x [6, 10] → Gemm(W [8, 10], transB, bias C [8]) → g → Add(g, skip [6, 8]) → s → Relu → y:
    /// a residual MLP block's tail.
    func gemmModel(bias: Bool) -> Model {
        var inits = ["w": T.random([8, 10], seed: 84, scale: 0.5)]
        if bias { inits["c"] = T.random([8], seed: 85) }
        return T.model([T.node("Gemm", bias ? ["x", "w", "c"] : ["x", "w"], ["g"], [Attribute("transB", .int(1))]),
                        T.node("Add", ["skip", "g"], ["s"]), T.node("Relu", ["s"], ["y"])],
                       inputs: [T.input("x", [6, 10]), T.input("skip", [6, 8])], outputs: ["y"], initializers: inits)
    }

    func testGemmResidualAndReluBecomeOneFusedGemm() throws {
        for bias in [true, false] {
            let m = gemmModel(bias: bias)
            let (out, result) = try T.run(FuseActivations(), on: m)
            XCTAssertEqual(result.rewrites, 2)
            XCTAssertEqual(out.graph.nodes.map(\.opType), ["FusedGemm"])
            let fused = out.graph.nodes[0]
            XCTAssertEqual(fused.inputs, ["x", "w", bias ? "c" : "", "skip"])
            XCTAssertEqual(fused.string("activation"), "Relu")
            XCTAssertEqual(fused.int("transB"), 1)
            try T.assertEquivalent(m, out)
            // ORT's FusedGemm has no Z: both export styles write Gemm → Add → Relu with the original names.
            for style in FusedExport.Style.allCases {
                let lowered = FusedExport.lower(out, style: style)
                XCTAssertEqual(lowered.graph.nodes.map(\.opType), ["Gemm", "Add", "Relu"])
                XCTAssertEqual(lowered.graph.nodes.map(\.outputs), [["g"], ["s"], ["y"]])
                XCTAssertEqual(lowered.graph.nodes[1].inputs, ["g", "skip"])
                XCTAssertFalse(lowered.opsetImports.contains { $0.domain == "ai.edgeopt" || $0.domain == "com.microsoft" })
                try T.assertEquivalent(m, lowered)
            }
        }
    }

    func testGemmResidualWithBroadcastSkipIsNotFused() throws {
        var m = gemmModel(bias: true)
        m.graph.inputs[1] = T.input("skip", [1, 8])
        let (out, result) = try T.run(FuseActivations(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Gemm", "Add", "Relu"])
    }
}
