import EdgeIR
@testable import EdgeTransforms
import XCTest

final class EliminateIdentityTests: XCTestCase {
    func testRemovesIdentityChainAndInferenceDropout() throws {
        let m = T.model([
            T.node("Relu", ["x"], ["a"]),
            T.node("Identity", ["a"], ["b"]),
            T.node("Dropout", ["b"], ["c"], [Attribute("ratio", .float(0.3))]),
            T.node("Sigmoid", ["c"], ["y"]),
        ], inputs: [T.input("x", [2, 3])], outputs: ["y"], opset: 11)
        let (out, result) = try T.run(EliminateIdentity(), on: m)
        XCTAssertEqual(result.rewrites, 2)
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Relu", "Sigmoid"])
        XCTAssertEqual(out.graph.nodes[1].inputs, ["a"])
        try T.assertEquivalent(m, out)
    }

    func testIdentityProducingGraphOutputRenamesProducer() throws {
        let m = T.model([T.node("Relu", ["x"], ["a"]), T.node("Identity", ["a"], ["y"])],
                        inputs: [T.input("x", [4])], outputs: ["y"])
        let (out, _) = try T.run(EliminateIdentity(), on: m)
        XCTAssertEqual(out.graph.nodes.count, 1)
        XCTAssertEqual(out.graph.nodes[0].outputs, ["y"])
        try T.assertEquivalent(m, out)
    }

    func testKeepsIdentityOfGraphInputToGraphOutput() throws {
        let m = T.model([T.node("Identity", ["x"], ["y"])], inputs: [T.input("x", [4])], outputs: ["y"])
        let (out, result) = try T.run(EliminateIdentity(), on: m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.nodes.count, 1)
    }

    func testKeepsTrainingModeDropout() throws {
        let m = T.model([T.node("Dropout", ["x", "r", "t"], ["y"])], inputs: [T.input("x", [4])], outputs: ["y"],
                        initializers: ["r": .scalar(Float(0.5)), "t": .scalar(true)], opset: 13)
        let (_, result) = try T.run(EliminateIdentity(), on: m)
        XCTAssertEqual(result.rewrites, 0)
    }
}

final class EliminateDeadNodesTests: XCTestCase {
    func testRemovesUnusedNodesAndInitializers() throws {
        let m = T.model([
            T.node("Relu", ["x"], ["y"]),
            T.node("Add", ["x", "w"], ["unused"]),
            T.node("Sigmoid", ["unused"], ["unused2"]),
        ], inputs: [T.input("x", [3])], outputs: ["y"], initializers: ["w": T.random([3], seed: 1), "orphan": T.random([8], seed: 2)])
        let (out, result) = try EliminateDeadNodesTests.runOnly(m)
        XCTAssertEqual(result.rewrites, 4)  // two nodes, two initializers
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Relu"])
        XCTAssertTrue(out.graph.initializers.isEmpty)
        try T.assertEquivalent(m, out)
    }

    func testKeepsValuesCapturedBySubgraphs() throws {
        let then = Graph(name: "then", outputs: [ValueInfo(name: "t_out", type: nil)],
                         nodes: [T.node("Add", ["a", "w"], ["t_out"])])
        let other = Graph(name: "else", outputs: [ValueInfo(name: "e_out", type: nil)],
                          nodes: [T.node("Neg", ["a"], ["e_out"])])
        let m = T.model([
            T.node("Relu", ["x"], ["a"]),
            T.node("If", ["c"], ["y"], [Attribute("then_branch", .graph(then)), Attribute("else_branch", .graph(other))]),
        ], inputs: [T.input("x", [3]), T.input("c", [], .bool)], outputs: ["y"], initializers: ["w": T.random([3], seed: 3)])
        let (out, result) = try EliminateDeadNodesTests.runOnly(m)
        XCTAssertEqual(result.rewrites, 0)
        XCTAssertEqual(out.graph.initializers.count, 1)
        XCTAssertEqual(out.graph.nodes.count, 2)
    }

    static func runOnly(_ m: Model) throws -> (Model, PassResult) {
        var out = m
        let r = try Pipeline.apply(EliminateDeadNodes(), to: &out.graph, context: PassContext(model: m))
        return (out, r)
    }
}
