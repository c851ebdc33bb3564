import EdgeIR
@testable import EdgeTransforms
import XCTest

final class ConvertOpsetTests: XCTestCase {
    func testMigratesAttributesToInputsFrom10To18() throws {
        let m = T.model([
            T.node("Unsqueeze", ["x"], ["a"], [Attribute("axes", .ints([0]))]),
            T.node("Clip", ["a"], ["b"], [Attribute("min", .float(-0.5)), Attribute("max", .float(0.5))]),
            T.node("Split", ["b"], ["s1", "s2"], [Attribute("axis", .int(2)), Attribute("split", .ints([1, 3]))]),
            T.node("ReduceSum", ["s2"], ["r1"], [Attribute("axes", .ints([2])), Attribute("keepdims", .int(1))]),
            T.node("ReduceMean", ["s1"], ["r2"], [Attribute("axes", .ints([-1])), Attribute("keepdims", .int(1))]),
            T.node("Squeeze", ["r1"], ["q"], [Attribute("axes", .ints([0]))]),
            T.node("Add", ["r2", "q"], ["y"]),
        ], inputs: [T.input("x", [3, 4, 5])], outputs: ["y"], opset: 10)
        let (out, result) = try T.run(ConvertOpset(target: 18), on: m)
        XCTAssertEqual(result.rewrites, 6)
        XCTAssertEqual(out.onnxOpsetVersion, 18)
        for node in out.graph.nodes {
            XCTAssertNil(node.attribute("axes"), node.opType)
            XCTAssertNil(node.attribute("split"))
            XCTAssertNil(node.attribute("min"))
        }
        XCTAssertEqual(out.graph.nodes.first { $0.opType == "Clip" }?.inputs.count, 3)
        try T.assertEquivalent(m, out)
    }

    func testSoftmaxBelow13KeepsCoerced2DSemantics() throws {
        // Softmax-11 on [2,3,4] with axis=1 normalizes over the 12 trailing elements together.
        let m = T.model([T.node("Softmax", ["x"], ["y"], [Attribute("axis", .int(1))])],
                        inputs: [T.input("x", [2, 3, 4])], outputs: ["y"], opset: 11)
        let (out, _) = try T.run(ConvertOpset(target: 13), on: m)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Flatten", "Shape", "Softmax", "Reshape"])
        try T.assertEquivalent(m, out)
    }

    func testSoftmaxOnLastAxisOnlyGetsAnExplicitAxis() throws {
        let m = T.model([T.node("Softmax", ["x"], ["y"])], inputs: [T.input("x", [2, 5])], outputs: ["y"], opset: 12)
        let (out, _) = try T.run(ConvertOpset(target: 13), on: m)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Softmax"])
        XCTAssertEqual(out.graph.nodes[0].int("axis"), 1)
        try T.assertEquivalent(m, out)
    }

    func testRefusesRemovedOperators() {
        let m = T.model([T.node("Upsample", ["x", "s"], ["y"])], inputs: [T.input("x", [1, 1, 2, 2])], outputs: ["y"],
                        initializers: ["s": Tensor(shape: [4], scalars: [Float(1), 1, 2, 2])], opset: 9)
        XCTAssertThrowsError(try T.run(ConvertOpset(target: 13), on: m)) { error in
            XCTAssertTrue("\(error)".contains("Upsample"))
        }
    }
}
