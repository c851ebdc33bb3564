import EdgeIR
import EdgeRuntime
@testable import EdgeTransforms
import XCTest

/// Passes inside model-local function bodies, and the expansion of calls the engine relies on.
final class FunctionPassesTests: XCTestCase {
    static let domain = "test.local"

    func constant(_ name: String, _ t: Tensor) -> Node {
        Node(name: "const_\(name)", opType: "Constant", inputs: [], outputs: [name], attributes: [Attribute("value", .tensor(t))])
    }

    /// Block(a) = Identity(LeakyRelu[alpha = caller's](Mul(BN(Conv(a, W)), k1·k2))), weights and
    /// BN statistics as Constant nodes of the body, k1·k2 a foldable product.
    func block(channels c: Int = 4) -> Function {
        let nodes: [Node] = [
            constant("w", T.random([c, c, 3, 3], seed: 1, scale: 0.3)),
            constant("gamma", T.random([c], seed: 2, scale: 0.5, offset: 1)),
            constant("beta", T.random([c], seed: 3)),
            constant("mean", T.random([c], seed: 4, scale: 0.3)),
            constant("var", T.positive([c], seed: 5)),
            constant("k1", .scalar(Float(2))),
            constant("k2", .scalar(Float(0.75))),
            Node(name: "conv", opType: "Conv", inputs: ["a", "w"], outputs: ["c"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["c", "gamma", "beta", "mean", "var"], outputs: ["n"],
                 attributes: [Attribute("epsilon", .float(1e-3))]),
            Node(name: "k", opType: "Mul", inputs: ["k1", "k2"], outputs: ["k"]),
            Node(name: "scale", opType: "Mul", inputs: ["n", "k"], outputs: ["s"]),
            Node(name: "act", opType: "LeakyRelu", inputs: ["s"], outputs: ["l"],
                 attributes: [Attribute("alpha", .float(0), refAttrName: "alpha")]),
            Node(name: "out", opType: "Identity", inputs: ["l"], outputs: ["r"]),
        ]
        return Function(name: "Block", domain: Self.domain, inputs: ["a"], outputs: ["r"], attributeNames: [],
                        attributeDefaults: [Attribute("alpha", .float(0.05))], nodes: nodes,
                        opsetImports: [OpsetImport(domain: "", version: 17)])
    }

    /// x → Block(alpha 0.3) → Block(default alpha) → y.
    func model() -> Model {
        let graph = Graph(name: "main", inputs: [T.input("x", [1, 4, 6, 6])], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "b1", opType: "Block", domain: Self.domain, inputs: ["x"], outputs: ["h"], attributes: [Attribute("alpha", .float(0.3))]),
            Node(name: "b2", opType: "Block", domain: Self.domain, inputs: ["h"], outputs: ["y"]),
        ])
        return Model(opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: Self.domain, version: 1)],
                     graph: graph, functions: [block()])
    }

    /// The same computation written out by hand, without functions.
    func handInlined() -> Model {
        var nodes: [Node] = []
        for (call, input, output, alpha) in [("b1", "x", "h", Float(0.3)), ("b2", "h", "y", Float(0.05))] {
            for var n in block().nodes {
                n.name = "\(call)_\(n.name)"
                n.inputs = n.inputs.map { $0 == "a" ? input : "\(call)_\($0)" }
                n.outputs = n.outputs.map { $0 == "r" ? output : "\(call)_\($0)" }
                n.attributes = n.attributes.map { $0.refAttrName == nil ? $0 : Attribute("alpha", .float(alpha)) }
                nodes.append(n)
            }
        }
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)],
                     graph: Graph(name: "main", inputs: [T.input("x", [1, 4, 6, 6])], outputs: [ValueInfo(name: "y", type: nil)], nodes: nodes))
    }

    func testEngineRunsCallsAsTheirBodiesWithBoundAttributes() throws {
        let m = model()
        let inlined = try m.inliningLocalFunctions()
        XCTAssertTrue(inlined.functions.isEmpty)
        XCTAssertEqual(inlined.graph.nodes.count, 2 * block().nodes.count)
        let alphas = inlined.graph.nodes.filter { $0.opType == "LeakyRelu" }.map { $0.float("alpha") }
        XCTAssertEqual(alphas, [0.3, 0.05], "the caller's value, then the function's default")
        XCTAssertEqual(Set(inlined.graph.nodes.flatMap(\.outputs)).count, inlined.graph.nodes.count, "names stay unique across calls")
        // The engine on the function model equals the engine on a hand-written copy.
        let x = T.random([1, 4, 6, 6], seed: 9)
        let a = try Session(model: m).run(["x": x])["y"]!
        let b = try Session(model: handInlined()).run(["x": x])["y"]!
        XCTAssertEqual(a.floatValues(), b.floatValues())
    }

    func testPipelineFoldsInsideFunctionBodyAndKeepsItsInterface() throws {
        let m = model()
        var out = m
        let check = try EquivalenceCheck(reference: m, tolerance: 1e-5, seed: 3, options: SessionOptions(threads: 1))
        let report = try Pipeline(passes: PassRegistry.all, check: check).run(&out)
        XCTAssertTrue(report.rolledBack.isEmpty, "\(report.rolledBack)")
        let body = out.functions[0]
        // BN folded into the conv, k1·k2 folded and the Mul by it folded into the conv weights, the
        // Identity gone: what is left is the conv with its new weights and the activation whose
        // alpha the caller supplies.
        XCTAssertEqual(body.nodes.map(\.opType).sorted(), ["Constant", "Constant", "Conv", "LeakyRelu"])
        let act = try XCTUnwrap(body.nodes.first { $0.opType == "LeakyRelu" })
        XCTAssertEqual(act.domain, "", "the set-aside domain is restored")
        XCTAssertEqual(act.attributes.first?.refAttrName, "alpha", "the attribute reference is kept, not folded or fused")
        XCTAssertEqual(act.outputs, ["r"], "the function output keeps its name")
        XCTAssertEqual(body.inputs, ["a"])
        XCTAssertEqual(out.graph.nodes.map(\.opType), ["Block", "Block"])
        XCTAssertEqual(report.nodesBefore, 2 + 13)
        XCTAssertEqual(report.nodesAfter, 2 + 4)
        // Numbers: the whole model, against the hand-written original.
        try T.assertEquivalent(handInlined(), out)
    }

    func testAttributeReferencingConstantIsNotFolded() throws {
        // Scale(a) = a · Constant(value_float = caller's "s"): nothing in the body is constant.
        let f = Function(name: "Scale", domain: Self.domain, inputs: ["a"], outputs: ["r"], attributeNames: ["s"], nodes: [
            Node(name: "c", opType: "Constant", inputs: [], outputs: ["c"], attributes: [Attribute("value_float", .float(0), refAttrName: "s")]),
            Node(name: "m", opType: "Mul", inputs: ["a", "c"], outputs: ["r"]),
        ], opsetImports: [OpsetImport(domain: "", version: 17)])
        let graph = Graph(inputs: [T.input("x", [3])], outputs: [ValueInfo(name: "y", type: nil), ValueInfo(name: "z", type: nil)], nodes: [
            Node(name: "s2", opType: "Scale", domain: Self.domain, inputs: ["x"], outputs: ["y"], attributes: [Attribute("s", .float(2))]),
            Node(name: "s3", opType: "Scale", domain: Self.domain, inputs: ["x"], outputs: ["z"], attributes: [Attribute("s", .float(3))]),
        ])
        let m = Model(opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: Self.domain, version: 1)],
                      graph: graph, functions: [f])
        var out = m
        let report = try Pipeline(passes: PassRegistry.all).run(&out)
        XCTAssertEqual(out.functions, m.functions, "no pass may fold or merge the referencing Constant")
        XCTAssertEqual(out.graph.nodes.count, 2, "the two calls differ in an attribute: not common subexpressions")
        XCTAssertEqual(report.nodesAfter, report.nodesBefore)
        let r = try Session(model: out).run(["x": Tensor(shape: [3], scalars: [1, -2, 0.5] as [Float])])
        XCTAssertEqual(r["y"]!.floatValues(), [2, -4, 1])
        XCTAssertEqual(r["z"]!.floatValues(), [3, -6, 1.5])
    }

    func testRecursiveFunctionIsRefusedNamingItAndUndefinedReadsAreBadInput() throws {
        let loop = Function(name: "Again", domain: Self.domain, inputs: ["a"], outputs: ["r"], nodes: [
            Node(name: "self", opType: "Again", domain: Self.domain, inputs: ["a"], outputs: ["r"]),
        ], opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: Self.domain, version: 1)])
        let dangling = Function(name: "Dangling", domain: Self.domain, inputs: ["a"], outputs: ["r"], nodes: [
            Node(name: "add", opType: "Add", inputs: ["a", "nowhere"], outputs: ["r"]),
        ], opsetImports: [OpsetImport(domain: "", version: 17)])
        for (f, expected) in [(loop, "function 'test.local.Again'"), (dangling, "reads 'nowhere'")] {
            let m = Model(opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: Self.domain, version: 1)],
                          graph: Graph(inputs: [T.input("x", [2])], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
                              Node(name: "call", opType: f.name, domain: Self.domain, inputs: ["x"], outputs: ["y"]),
                          ]), functions: [f])
            XCTAssertThrowsError(try Session(model: m)) { error in
                XCTAssertEqual((error as? EdgeError)?.kind, .badInput)
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testWeightsPassedByTheCallerFoldOnlyAfterInlining() throws {
        // torch's export_modules_as_functions style: the BN statistics are function inputs, so the
        // body alone cannot fold them; --inline-functions lets the fold cross the call.
        let f = Function(name: "ConvBN", domain: Self.domain, inputs: ["a", "w", "g", "b", "m", "v"], outputs: ["r"], nodes: [
            Node(name: "conv", opType: "Conv", inputs: ["a", "w"], outputs: ["c"]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["c", "g", "b", "m", "v"], outputs: ["r"]),
        ], opsetImports: [OpsetImport(domain: "", version: 17)])
        var graph = Graph(inputs: [T.input("x", [1, 3, 5, 5])], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "call", opType: "ConvBN", domain: Self.domain, inputs: ["x", "W", "G", "B", "M", "V"], outputs: ["y"]),
        ])
        graph.initializers["W"] = T.random([4, 3, 1, 1], seed: 11)
        graph.initializers["G"] = T.random([4], seed: 12, scale: 0.5, offset: 1)
        graph.initializers["B"] = T.random([4], seed: 13)
        graph.initializers["M"] = T.random([4], seed: 14)
        graph.initializers["V"] = T.positive([4], seed: 15)
        let m = Model(opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: Self.domain, version: 1)],
                      graph: graph, functions: [f])

        var kept = m
        _ = try Pipeline(passes: PassRegistry.all).run(&kept)
        XCTAssertEqual(kept.functions[0].nodes.map(\.opType), ["Conv", "BatchNormalization"])

        var options = OptimizeOptions()
        options.inlineFunctions = true
        let (optimized, lowered, report) = try Optimizer.optimize(m, options: options)
        XCTAssertEqual(report.inlinedFunctions, 1)
        XCTAssertFalse(report.checkFailed, report.finalCheck ?? "")
        XCTAssertTrue(lowered.functions.isEmpty)
        XCTAssertEqual(optimized.graph.nodes.map(\.opType), ["Conv"])
        try T.assertEquivalent(m, lowered)
    }
}
