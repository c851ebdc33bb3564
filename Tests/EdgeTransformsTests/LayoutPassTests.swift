import EdgeIR
@testable import EdgeTransforms
import XCTest

final class CancelTransposesTests: XCTestCase {
    func testRemovesInversePairAndMergesOthers() throws {
        let m = T.model([
            T.node("Transpose", ["x"], ["a"], [Attribute("perm", .ints([0, 2, 3, 1]))]),
            T.node("Transpose", ["a"], ["b"], [Attribute("perm", .ints([0, 3, 1, 2]))]),  // inverse: identity
            T.node("Transpose", ["b"], ["c"], [Attribute("perm", .ints([1, 0, 2, 3]))]),
            T.node("Transpose", ["c"], ["y"], [Attribute("perm", .ints([0, 1, 3, 2]))]),
        ], inputs: [T.input("x", [2, 3, 4, 5])], outputs: ["y"])
        let (out, result) = try T.run(CancelTransposes(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.count, 1)
        XCTAssertEqual(out.graph.nodes[0].ints("perm"), [1, 0, 3, 2])
        try T.assertEquivalent(m, out)
    }
}

final class CancelReshapesTests: XCTestCase {
    func testCollapsesReshapeChains() throws {
        let m = T.model([
            T.node("Flatten", ["x"], ["a"], [Attribute("axis", .int(1))]),
            T.node("Reshape", ["a", "s1"], ["b"]),
            T.node("Reshape", ["b", "s2"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 4])], outputs: ["y"], initializers: ["s1": T.ints([6, 4]), "s2": T.ints([4, -1])])
        let (out, result) = try T.run(CancelReshapes(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Reshape"])
        XCTAssertEqual(out.graph.nodes[0].inputs[0], "x")
        try T.assertEquivalent(m, out)
    }

    func testKeepsReshapeCopyingDimensionsOfTheIntermediate() throws {
        let m = T.model([
            T.node("Reshape", ["x", "s1"], ["b"]),
            T.node("Reshape", ["b", "s2"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 4])], outputs: ["y"], initializers: ["s1": T.ints([6, 4]), "s2": T.ints([0, 2, 2])])
        let (_, result) = try T.run(CancelReshapes(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}

final class GemmPassTests: XCTestCase {
    func testMatMulPlusBiasBecomesGemm() throws {
        let m = T.model([
            T.node("MatMul", ["x", "w"], ["t"]),
            T.node("Add", ["b", "t"], ["y"]),
        ], inputs: [T.input("x", [3, 8])], outputs: ["y"], initializers: ["w": T.random([8, 5], seed: 90), "b": T.random([5], seed: 91)])
        let (out, result) = try T.run(FuseMatMulAdd(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Gemm"])
        try T.assertEquivalent(m, out)
    }

    func testBatchedMatMulIsNotTurnedIntoGemm() throws {
        let m = T.model([
            T.node("MatMul", ["x", "w"], ["t"]),
            T.node("Add", ["t", "b"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 8])], outputs: ["y"], initializers: ["w": T.random([8, 5], seed: 92), "b": T.random([5], seed: 93)])
        let (_, result) = try T.run(FuseMatMulAdd(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }

    func testTransposeFoldsIntoGemmFlags() throws {
        let m = T.model([
            T.node("Transpose", ["x"], ["xt"], [Attribute("perm", .ints([1, 0]))]),
            T.node("Transpose", ["w"], ["wt"], [Attribute("perm", .ints([1, 0]))]),
            T.node("Gemm", ["xt", "wt", "b"], ["y"], [Attribute("transB", .int(1))]),
        ], inputs: [T.input("x", [8, 3])], outputs: ["y"], initializers: ["w": T.random([8, 5], seed: 94), "b": T.random([5], seed: 95)])
        let (out, result) = try T.run(FoldTransposeIntoGemm(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Gemm"])
        XCTAssertEqual(out.graph.nodes[0].int("transA"), 1)
        XCTAssertEqual(out.graph.nodes[0].int("transB"), 0)
        try T.assertEquivalent(m, out)
    }
}

final class FoldAffineIntoConvTests: XCTestCase {
    func testFoldsPerChannelMulAndAddIntoConv() throws {
        let m = T.model([
            T.node("Conv", ["x", "w", "b"], ["c"]),
            T.node("Mul", ["c", "s"], ["d"]),
            T.node("Add", ["a", "d"], ["y"]),
        ], inputs: [T.input("x", [1, 2, 5, 5])], outputs: ["y"], initializers: [
            "w": T.random([3, 2, 3, 3], seed: 100), "b": T.random([3], seed: 101),
            "s": T.random([3, 1, 1], seed: 102), "a": T.random([1, 3, 1, 1], seed: 103),
        ])
        let (out, result) = try T.run(FoldAffineIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Conv"])
        try T.assertEquivalent(m, out)
    }

    func testFoldsScalarMulIntoGemmWithBeta() throws {
        let m = T.model([
            T.node("Gemm", ["x", "w", "b"], ["g"], [Attribute("beta", .float(0.5)), Attribute("transB", .int(1))]),
            T.node("Mul", ["g", "s"], ["y"]),
        ], inputs: [T.input("x", [2, 4])], outputs: ["y"], initializers: [
            "w": T.random([3, 4], seed: 104), "b": T.random([3], seed: 105), "s": .scalar(Float(-1.5)),
        ])
        let (out, result) = try T.run(FoldAffineIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 1)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Gemm"])
        try T.assertEquivalent(m, out)
    }

    func testLeavesSpatiallyVaryingConstant() throws {
        let m = T.model([
            T.node("Conv", ["x", "w"], ["c"]),
            T.node("Mul", ["c", "s"], ["y"]),
        ], inputs: [T.input("x", [1, 2, 3, 3])], outputs: ["y"], initializers: [
            "w": T.random([3, 2, 1, 1], seed: 106), "s": T.random([1, 3, 3, 3], seed: 107),
        ])
        let (_, result) = try T.run(FoldAffineIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}

final class FoldPadIntoConvTests: XCTestCase {
    func testFoldsZeroSpatialPadIntoConvAndAveragePool() throws {
        let m = T.model([
            T.node("Pad", ["x", "pads"], ["p"]),
            T.node("Conv", ["p", "w"], ["c"], [Attribute("pads", .ints([1, 0, 0, 1]))]),
            T.node("Pad", ["c", "pads2"], ["q"]),
            T.node("AveragePool", ["q"], ["y"], [Attribute("kernel_shape", .ints([2, 2]))]),
        ], inputs: [T.input("x", [1, 2, 5, 5])], outputs: ["y"], initializers: [
            "pads": T.ints([0, 0, 1, 2, 0, 0, 2, 1]), "pads2": T.ints([0, 0, 1, 1, 0, 0, 1, 1]), "w": T.random([3, 2, 3, 3], seed: 110),
        ])
        let (out, result) = try T.run(FoldPadIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Conv", "AveragePool"])
        XCTAssertEqual(out.graph.nodes[0].ints("pads"), [2, 2, 2, 2])
        XCTAssertEqual(out.graph.nodes[1].int("count_include_pad"), 1)
        try T.assertEquivalent(m, out)
    }

    func testLeavesPadOnChannelsReflectAndAveragePoolExcludingPads() throws {
        let m = T.model([
            T.node("Pad", ["x", "cpads"], ["p"]),
            T.node("Conv", ["p", "w"], ["c"]),
            T.node("Pad", ["c", "pads"], ["q"], [Attribute("mode", .string(Array("reflect".utf8)))]),
            T.node("MaxPool", ["q"], ["r"], [Attribute("kernel_shape", .ints([2, 2]))]),
            T.node("Pad", ["r", "pads"], ["s"]),
            T.node("AveragePool", ["s"], ["y"], [Attribute("kernel_shape", .ints([2, 2])), Attribute("pads", .ints([1, 1, 1, 1]))]),
        ], inputs: [T.input("x", [1, 2, 5, 5])], outputs: ["y"], initializers: [
            "cpads": T.ints([0, 1, 0, 0, 0, 0, 0, 0]), "pads": T.ints([0, 0, 1, 1, 0, 0, 1, 1]), "w": T.random([3, 3, 1, 1], seed: 111),
        ])
        let (_, result) = try T.run(FoldPadIntoConv(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}
