import EdgeIR
@testable import EdgeTransforms
import Foundation
import XCTest

/// A deliberately wrong rewrite: Relu → LeakyRelu(0.5) changes every negative output.
struct WrongReluPass: GraphPass {
    static let name = "test-wrong-relu"
    static let summary = "deliberately wrong: turns Relu into LeakyRelu"
    func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var n = 0
        for i in graph.nodes.indices where graph.nodes[i].isOp("Relu") {
            graph.nodes[i].opType = "LeakyRelu"
            graph.nodes[i].attributes = [Attribute("alpha", .float(0.5))]
            n += 1
        }
        return PassResult(rewrites: n)
    }
}

/// Numerically exact but makes the model larger: a scalar weight becomes a full-size tensor.
struct GrowingPass: GraphPass {
    static let name = "test-growing"
    static let summary = "deliberately bloating: broadcasts scalar weights"
    func run(_ graph: inout Graph, context: PassContext) throws -> PassResult {
        var n = 0
        for (name, t) in graph.initializers where t.elementCount == 1 && t.dtype == .float {
            graph.initializers[name] = Tensor(shape: [1, 64], scalars: Array(repeating: t.scalars(as: Float.self)[0], count: 64))
            n += 1
        }
        return PassResult(rewrites: n)
    }
}

final class PipelineTests: XCTestCase {
    func convReluModel() -> Model {
        T.model([
            T.node("Identity", ["x"], ["x1"]),
            T.node("Conv", ["x1", "w", "b"], ["c"]),
            T.node("Relu", ["c"], ["r"]),
            T.node("Mul", ["r", "s"], ["y"]),
        ], inputs: [T.input("x", [1, 2, 4, 4])], outputs: ["y"],
           initializers: ["w": T.random([3, 2, 3, 3], seed: 80), "b": T.random([3], seed: 81), "s": .scalar(Float(2))])
    }

    func testCheckRollsBackADeliberatelyWrongPassAndKeepsTheOthers() throws {
        let original = convReluModel()
        var model = original
        let check = try EquivalenceCheck(reference: original, tolerance: 1e-5, seed: 1)
        let pipeline = Pipeline(passes: [EliminateIdentity(), WrongReluPass(), FuseActivations()], check: check)
        let report = try pipeline.run(&model)
        XCTAssertEqual(report.rolledBack.map(\.name), ["test-wrong-relu"])
        XCTAssertTrue(report.rolledBack[0].reason?.contains("differs") ?? false, report.rolledBack[0].reason ?? "")
        XCTAssertEqual(report.passes.first { $0.name == "fuse-activations" }?.status, .applied)
        XCTAssertEqual(report.passes.first { $0.name == "eliminate-identity" }?.rewrites, 1)
        XCTAssertEqual(T.count(model, "LeakyRelu"), 0)
        XCTAssertEqual(model.graph.nodes.first?.string("activation"), "Relu")
        try T.assertEquivalent(original, model)
    }

    func testWithoutTheCheckTheWrongPassGoesThrough() throws {
        var model = convReluModel()
        let report = try Pipeline(passes: [WrongReluPass()]).run(&model)
        XCTAssertTrue(report.rolledBack.isEmpty)
        XCTAssertEqual(T.count(model, "LeakyRelu"), 1)
    }

    func testRollsBackAPassThatGrowsTheModel() throws {
        var model = convReluModel()
        let report = try Pipeline(passes: [GrowingPass()]).run(&model)
        XCTAssertEqual(report.rolledBack.map(\.name), ["test-growing"])
        XCTAssertEqual(model.graph.initializers["s"]?.elementCount, 1)
    }

    func testReachesAFixedPointAndReportsNodeCounts() throws {
        var model = convReluModel()
        let report = try Pipeline(passes: PassRegistry.all).run(&model)
        XCTAssertEqual(report.nodesBefore, 4)
        XCTAssertEqual(report.nodesAfter, model.graph.totalNodeCount)
        XCTAssertLessThan(report.nodesAfter, 4)
        XCTAssertLessThanOrEqual(report.iterations, 4)
        // A second run finds nothing left to do.
        let again = try Pipeline(passes: PassRegistry.all).run(&model)
        XCTAssertTrue(again.passes.allSatisfy { $0.rewrites == 0 }, "\(again.passes.filter { $0.rewrites > 0 })")
    }

    func testOptimizesSubgraphBodies() throws {
        let body = Graph(name: "then", outputs: [ValueInfo(name: "t", type: nil)],
                         nodes: [T.node("Identity", ["x"], ["i"]), T.node("Relu", ["i"], ["t"])])
        let other = Graph(name: "else", outputs: [ValueInfo(name: "e", type: nil)], nodes: [T.node("Neg", ["x"], ["e"])])
        let original = T.model([T.node("If", ["c"], ["y"], [Attribute("then_branch", .graph(body)), Attribute("else_branch", .graph(other))])],
                               inputs: [T.input("x", [3]), T.input("c", [], .bool)], outputs: ["y"])
        var model = original
        let report = try Pipeline(passes: [EliminateIdentity()]).run(&model)
        XCTAssertEqual(report.passes[0].rewrites, 1)
        XCTAssertEqual(model.graph.nodes[0].graph("then_branch")?.nodes.map(\.opType), ["Relu"])
        try T.assertEquivalent(original, model, sets: 4)
    }

    func testFoldsBatchNormInsideIfBodyWithWeightsOfTheMainGraph() throws {
        // The then-branch's Conv and BN read main-graph initializers (captured by name); the fold
        // sees them as constants, and the branch ends with its own folded weights, not copies
        // shadowing the outer names.
        let then = Graph(name: "then", outputs: [ValueInfo(name: "t", type: nil)], nodes: [
            T.node("Conv", ["x", "W"], ["tc"], [Attribute("pads", .ints([1, 1, 1, 1]))]),
            T.node("BatchNormalization", ["tc", "G", "B", "M", "V"], ["t"]),
        ])
        let other = Graph(name: "else", outputs: [ValueInfo(name: "e", type: nil)], nodes: [
            T.node("Conv", ["x", "W2"], ["e"], [Attribute("pads", .ints([1, 1, 1, 1]))]),
        ])
        let inits: [String: Tensor] = [
            "W": T.random([3, 2, 3, 3], seed: 70), "W2": T.random([3, 2, 3, 3], seed: 75), "G": T.random([3], seed: 71, scale: 0.5, offset: 1),
            "B": T.random([3], seed: 72), "M": T.random([3], seed: 73), "V": T.positive([3], seed: 74),
        ]
        let original = T.model([T.node("If", ["c"], ["y"], [Attribute("then_branch", .graph(then)), Attribute("else_branch", .graph(other))])],
                               inputs: [T.input("x", [1, 2, 5, 5]), T.input("c", [], .bool)], outputs: ["y"], initializers: inits)
        var model = original
        let report = try Pipeline(passes: [FoldBatchNormIntoConv()]).run(&model)
        XCTAssertEqual(report.passes[0].rewrites, 1)
        let branch = try XCTUnwrap(model.graph.nodes[0].graph("then_branch"))
        XCTAssertEqual(branch.nodes.map(\.opType), ["Conv"])
        XCTAssertEqual(branch.initializers.count, 2, "W' and b' live in the branch")
        XCTAssertTrue(branch.initializers.keys.allSatisfy { inits[$0] == nil }, "no outer name is redefined")
        XCTAssertEqual(Set(model.graph.initializers.keys), ["W2"], "the else branch's weight stays; W and the BN statistics are gone")
        try T.assertEquivalent(original, model, sets: 4)
    }
}

final class OptimizerTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testDigitsCNNLosesBatchNormAndKeepsItsOutputs() throws {
        for name in ["digits_cnn", "digits_cnn_constants"] {
            let model = try ONNXReader.read(path: OptimizerTests.repo.appendingPathComponent("models/\(name).onnx").path)
            let data = try NPZFile.read(path: OptimizerTests.repo.appendingPathComponent("models/digits_eval.npz").path)
            var options = OptimizeOptions()
            // 40 real digits besides the random batch: enough to exercise every class, quick in debug builds.
            let all = data["input"]!
            let rows = 40, row = all.elementCount / all.shape[0]
            let slice = Tensor(shape: [rows] + all.shape.dropFirst(), scalars: Array(all.scalars(as: Float.self).prefix(rows * row)))
            options.data = [["input": slice]]
            let (optimized, lowered, report) = try Optimizer.optimize(model, options: options)
            XCTAssertFalse(report.checkFailed, "\(name): \(report.finalCheck ?? "") rolled back \(report.rolledBack)")
            XCTAssertEqual(T.count(optimized, "BatchNormalization"), 0, name)
            XCTAssertEqual(T.count(lowered, "BatchNormalization"), 0, name)
            XCTAssertLessThan(lowered.graph.totalNodeCount, model.graph.totalNodeCount, name)
            XCTAssertLessThanOrEqual(lowered.graph.weightBytes, model.graph.weightBytes, name)
            XCTAssertTrue(lowered.graph.nodes.allSatisfy(\.isStandardDomain), name)
            try T.assertEquivalent(model, lowered, dims: ["batch": 3])
        }
    }
}
