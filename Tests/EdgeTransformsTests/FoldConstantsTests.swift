import EdgeIR
@testable import EdgeTransforms
import XCTest

final class FoldConstantsTests: XCTestCase {
    func testFoldsWeightArithmeticWithTheEngine() throws {
        let w = T.random([3, 4], seed: 11)
        let m = T.model([
            T.node("Transpose", ["w"], ["wt"], [Attribute("perm", .ints([1, 0]))]),
            T.node("Mul", ["wt", "two"], ["w2"]),
            T.node("MatMul", ["x", "w2"], ["y"]),
        ], inputs: [T.input("x", [2, 4])], outputs: ["y"], initializers: ["w": w, "two": .scalar(Float(2))])
        let (out, result) = try T.run(FoldConstants(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["MatMul"])
        let folded = try XCTUnwrap(out.graph.initializers["w2"])
        XCTAssertEqual(folded.shape, [4, 3])
        let src = w.scalars(as: Float.self), got = folded.scalars(as: Float.self)
        for r in 0..<4 { for c in 0..<3 { XCTAssertEqual(got[r * 3 + c], 2 * src[c * 4 + r]) } }
        try T.assertEquivalent(m, out)
    }

    func testFoldsShapeChainFromDeclaredInputShape() throws {
        // x:[2,3,4] → Shape → Gather(0) → Unsqueeze → Concat([-1]) → Reshape: the classic
        // exporter flatten; with a fixed input shape the target shape is the constant [2, 12].
        let m = T.model([
            T.node("Shape", ["x"], ["s"]),
            T.node("Gather", ["s", "zero"], ["n"], [Attribute("axis", .int(0))]),
            T.node("Unsqueeze", ["n", "axes"], ["n1"]),
            T.node("Concat", ["n1", "minus1"], ["target"], [Attribute("axis", .int(0))]),
            T.node("Reshape", ["x", "target"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 4])], outputs: ["y"],
           initializers: ["zero": .scalar(Int64(0)), "axes": T.ints([0]), "minus1": T.ints([-1])])
        let (out, result) = try T.run(FoldConstants(), on: m)
        XCTAssertGreaterThanOrEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Reshape"])
        XCTAssertEqual(out.graph.initializers[out.graph.nodes[0].inputs[1]]?.int64Values(), [2, -1])
        try T.assertEquivalent(m, out)
    }

    func testDoesNotMaterializeGrowingConstantOfShape() throws {
        // 16 bytes of shape would become 256 KiB of zeros: onnxsim #309.
        let m = T.model([
            Node(name: "cos", opType: "ConstantOfShape", inputs: ["shape"], outputs: ["z"],
                 attributes: [Attribute("value", .tensor(Tensor(shape: [1], scalars: [Float(1)])))]),
            T.node("Add", ["x", "z"], ["y"]),
        ], inputs: [T.input("x", [256, 256])], outputs: ["y"], initializers: ["shape": T.ints([256, 256])])
        let (out, result) = try T.run(FoldConstants(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertLessThanOrEqual(out.graph.weightBytes, m.graph.weightBytes)
        XCTAssertEqual(T.count(out, "ConstantOfShape"), 1)
    }

    func testFoldsConstantOfShapeThroughAConsumerOfWeightSize() throws {
        // W + ConstantOfShape(shape of W): the result has W's size, so it is folded and the
        // generator disappears; the model does not grow.
        let w = T.random([64, 64], seed: 12)
        let m = T.model([
            Node(name: "cos", opType: "ConstantOfShape", inputs: ["shape"], outputs: ["z"],
                 attributes: [Attribute("value", .tensor(Tensor(shape: [1], scalars: [Float(0.5)])))]),
            T.node("Add", ["w", "z"], ["w2"]),
            T.node("MatMul", ["x", "w2"], ["y"]),
        ], inputs: [T.input("x", [2, 64])], outputs: ["y"], initializers: ["shape": T.ints([64, 64]), "w": w])
        let (out, result) = try T.run(FoldConstants(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["MatMul"])
        XCTAssertLessThanOrEqual(out.graph.weightBytes, m.graph.weightBytes)
        XCTAssertEqual(out.graph.initializers["w2"]?.scalars(as: Float.self).first, w.scalars(as: Float.self)[0] + 0.5)
        try T.assertEquivalent(m, out)
    }

    func testNeverFoldsRandomOperators() throws {
        let m = T.model([
            T.node("RandomNormal", [], ["r"], [Attribute("shape", .ints([3])), Attribute("seed", .float(1))]),
            T.node("Add", ["x", "r"], ["y"]),
        ], inputs: [T.input("x", [3])], outputs: ["y"])
        let (_, result) = try T.run(FoldConstants(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}
