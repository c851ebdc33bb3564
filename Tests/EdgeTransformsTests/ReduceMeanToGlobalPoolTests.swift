import EdgeIR
@testable import EdgeTransforms
import XCTest

final class ReduceMeanToGlobalPoolTests: XCTestCase {
    func testSpatialMeanWithKeptDimsBecomesGlobalAveragePool() throws {
        // Squeeze-excitation style: mean over H, W (attribute axes, opset 17), scaled back onto x.
        let m = T.model([
            T.node("ReduceMean", ["x"], ["m"], [Attribute("axes", .ints([2, 3]))]),
            T.node("Mul", ["x", "m"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 5, 4])], outputs: ["y"])
        let (out, result) = try T.run(ReduceMeanToGlobalPool(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["GlobalAveragePool", "Mul"])
        XCTAssertEqual(out.graph.nodes[0].inputs, ["x"])
        XCTAssertEqual(out.graph.nodes[0].outputs, ["m"])
        try T.assertEquivalent(m, out)
    }

    func testAxesInputAtOpset18NegativeAxesAndRank5() throws {
        let m = T.model([
            T.node("ReduceMean", ["x", "axes"], ["y"], [Attribute("keepdims", .int(1))]),
        ], inputs: [T.input("x", [1, 2, 3, 4, 5])], outputs: ["y"], initializers: ["axes": T.ints([-1, 2, -2])], opset: 18)
        let (out, result) = try T.run(ReduceMeanToGlobalPool(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["GlobalAveragePool"])
        XCTAssertTrue(out.graph.initializers.isEmpty, "the axes constant is dead")
        try T.assertEquivalent(m, out)
    }

    func testLeavesDroppedDimsOtherAxesAndIntegers() throws {
        let m = T.model([
            T.node("ReduceMean", ["x"], ["a"], [Attribute("axes", .ints([2, 3])), Attribute("keepdims", .int(0))]),
            T.node("ReduceMean", ["x"], ["b"], [Attribute("axes", .ints([1, 2, 3]))]),
            T.node("ReduceMean", ["x"], ["c"], [Attribute("axes", .ints([3]))]),
            T.node("ReduceMean", ["i"], ["d"], [Attribute("axes", .ints([2, 3]))]),
        ], inputs: [T.input("x", [1, 2, 3, 4]), T.input("i", [1, 2, 3, 4], .int32)], outputs: ["a", "b", "c", "d"])
        let (out, result) = try T.run(ReduceMeanToGlobalPool(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.nodes.map(\.opType), Array(repeating: "ReduceMean", count: 4))
    }
}
