import EdgeIR
@testable import EdgeTransforms
import XCTest

final class EliminateNoOpsTests: XCTestCase {
    func testRemovesNoOpCastReshapeTransposePadSlice() throws {
        let m = T.model([
            T.node("Cast", ["x"], ["a"], [Attribute("to", .int(Int64(DType.float.rawValue)))]),
            T.node("Reshape", ["a", "shape"], ["b"]),
            T.node("Transpose", ["b"], ["c"], [Attribute("perm", .ints([0, 1, 2]))]),
            T.node("Pad", ["c", "pads"], ["d"]),
            T.node("Slice", ["d", "starts", "ends", "axes"], ["e"]),
            T.node("Relu", ["e"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 4])], outputs: ["y"], initializers: [
            "shape": T.ints([0, 3, -1]), "pads": T.ints([0, 0, 0, 0, 0, 0]),
            "starts": T.ints([0, 0]), "ends": T.ints([Int64.max, 4]), "axes": T.ints([1, -1]),
        ])
        let (out, result) = try T.run(EliminateNoOps(), on: m)
        XCTAssertEqual(result.rewrites, 5)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Relu"])
        XCTAssertTrue(out.graph.initializers.isEmpty)
        try T.assertEquivalent(m, out)
    }

    func testKeepsRealCastReshapeTransposeAndSlice() throws {
        let m = T.model([
            T.node("Cast", ["x"], ["a"], [Attribute("to", .int(Int64(DType.double.rawValue)))]),
            T.node("Cast", ["a"], ["b"], [Attribute("to", .int(Int64(DType.float.rawValue)))]),
            T.node("Reshape", ["b", "shape"], ["c"]),
            T.node("Transpose", ["c"], ["d"], [Attribute("perm", .ints([1, 0]))]),
            T.node("Slice", ["d", "starts", "ends"], ["y"]),
        ], inputs: [T.input("x", [2, 12])], outputs: ["y"], initializers: [
            "shape": T.ints([4, 6]), "starts": T.ints([1]), "ends": T.ints([6]),
        ])
        let (out, result) = try T.run(EliminateNoOps(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.nodes.count, 5)
    }
}

final class EliminateCommonSubexpressionsTests: XCTestCase {
    func testMergesIdenticalNodesAndTheirChains() throws {
        let m = T.model([
            T.node("Relu", ["x"], ["a1"]),
            T.node("Relu", ["x"], ["a2"]),
            T.node("Mul", ["a1", "w"], ["b1"]),
            T.node("Mul", ["a2", "w"], ["b2"]),
            T.node("LeakyRelu", ["x"], ["c1"], [Attribute("alpha", .float(0.1))]),
            T.node("LeakyRelu", ["x"], ["c2"], [Attribute("alpha", .float(0.2))]),
            T.node("Sum", ["b1", "b2", "c1", "c2"], ["y"]),
        ], inputs: [T.input("x", [5])], outputs: ["y"], initializers: ["w": T.random([5], seed: 4)])
        let (out, result) = try T.run(EliminateCommonSubexpressions(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(T.count(out, "Relu"), 1)
        XCTAssertEqual(T.count(out, "Mul"), 1)
        XCTAssertEqual(T.count(out, "LeakyRelu"), 2, "different attributes are different expressions")
        try T.assertEquivalent(m, out)
    }
}

final class DeduplicateWeightsTests: XCTestCase {
    func testMergesIdenticalInitializersAndConstants() throws {
        let w = T.random([3], seed: 5)
        let m = T.model([
            Node(name: "c", opType: "Constant", inputs: [], outputs: ["k"], attributes: [Attribute("value", .tensor(w))]),
            T.node("Mul", ["x", "w1"], ["a"]),
            T.node("Mul", ["a", "w2"], ["b"]),
            T.node("Add", ["b", "k"], ["c"]),
            T.node("Add", ["c", "other"], ["y"]),
        ], inputs: [T.input("x", [3])], outputs: ["y"],
           initializers: ["w1": w, "w2": w, "other": T.random([3], seed: 6)])
        let (out, result) = try T.run(DeduplicateWeights(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.initializers.count, 2)
        XCTAssertEqual(T.count(out, "Constant"), 0)
        XCTAssertEqual(out.graph.weightBytes, 24)
        try T.assertEquivalent(m, out)
    }
}
