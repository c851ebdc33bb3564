import XCTest
@testable import EdgeIR

/// Dangling names, duplicate definitions and cycles are bad input (with the node named);
/// out-of-order nodes, outer-scope captures and custom-domain ops are not.
final class GraphValidatorTests: XCTestCase {
    private func model(_ nodes: [Node], inputs: [String] = ["x"], outputs: [String] = ["y"],
                       initializers: [String] = []) -> Model {
        var inits: [String: Tensor] = [:]
        for name in initializers { inits[name] = Tensor.scalar(Float(1)) }
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)],
                     graph: Graph(name: "g", inputs: inputs.map { ValueInfo(name: $0, tensor: TensorType(.float, nil)) },
                                  outputs: outputs.map { ValueInfo(name: $0, tensor: TensorType(.float, nil)) },
                                  initializers: .init(uniqueKeysWithValues: inits.sorted { $0.key < $1.key }), nodes: nodes))
    }

    private func message(_ model: Model) -> String? {
        badInputError { try GraphValidator.validate(model) }?.message
    }

    func testValidChainPasses() throws {
        try GraphValidator.validate(model([Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"]),
                                           Node(name: "b", opType: "Add", inputs: ["h", "w"], outputs: ["y"])],
                                          initializers: ["w"]))
    }

    func testDanglingInputNamesNodeAndValue() {
        let text = message(model([Node(name: "add1", opType: "Add", inputs: ["x", "ghost"], outputs: ["y"])]))
        XCTAssertTrue(text?.contains("'ghost'") ?? false, text ?? "no error")
        XCTAssertTrue(text?.contains("add1") ?? false, text ?? "")
    }

    func testDuplicateDefinition() {
        let text = message(model([Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["y"]),
                                  Node(name: "b", opType: "Relu", inputs: ["x"], outputs: ["y"])]))
        XCTAssertTrue(text?.contains("'y' is defined more than once") ?? false, text ?? "no error")
        XCTAssertTrue(text?.contains("'b'") ?? false, text ?? "")
    }

    func testCycleNamesItsNodesInDataFlowOrder() {
        // x → a → b → c → a: a reads c's output.
        let text = message(model([Node(name: "a", opType: "Add", inputs: ["x", "c_out"], outputs: ["a_out"]),
                                  Node(name: "b", opType: "Relu", inputs: ["a_out"], outputs: ["b_out"]),
                                  Node(name: "c", opType: "Relu", inputs: ["b_out"], outputs: ["c_out"]),
                                  Node(name: "d", opType: "Relu", inputs: ["c_out"], outputs: ["y"])]))
        XCTAssertTrue(text?.contains("cycle") ?? false, text ?? "no error")
        XCTAssertTrue(text?.contains("'a' (Add) → 'b' (Relu) → 'c' (Relu) → 'a' (Add)") ?? false, text ?? "")
    }

    func testSelfLoopIsACycle() {
        let text = message(model([Node(name: "s", opType: "Add", inputs: ["x", "y"], outputs: ["y"])]))
        XCTAssertTrue(text?.contains("'s' (Add) → 's' (Add)") ?? false, text ?? "no error")
    }

    func testOutOfOrderAcyclicGraphIsAccepted() throws {
        try GraphValidator.validate(model([Node(name: "b", opType: "Relu", inputs: ["h"], outputs: ["y"]),
                                           Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"])]))
    }

    func testUndefinedGraphOutput() {
        let text = message(model([Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"])], outputs: ["y"]))
        XCTAssertTrue(text?.contains("graph output 'y'") ?? false, text ?? "no error")
    }

    func testSubgraphsSeeOuterScopeButNotSiblings() throws {
        let body = Graph(name: "then", outputs: [ValueInfo(name: "t", type: nil)],
                         nodes: [Node(opType: "Add", inputs: ["h", "x"], outputs: ["t"])])
        let ok = model([Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"]),
                        Node(name: "if", opType: "If", inputs: ["x"], outputs: ["y"],
                             attributes: [Attribute("then_branch", .graph(body)), Attribute("else_branch", .graph(body))])])
        try GraphValidator.validate(ok)

        let bad = Graph(name: "then", outputs: [ValueInfo(name: "t", type: nil)],
                        nodes: [Node(name: "inner", opType: "Add", inputs: ["nowhere", "x"], outputs: ["t"])])
        let text = message(model([Node(name: "if", opType: "If", inputs: ["x"], outputs: ["y"],
                                       attributes: [Attribute("then_branch", .graph(bad)), Attribute("else_branch", .graph(body))])]))
        XCTAssertTrue(text?.contains("'nowhere'") ?? false, text ?? "no error")
        XCTAssertTrue(text?.contains("then_branch") ?? false, text ?? "")
    }

    func testCustomDomainOpsAreNotErrors() throws {
        try GraphValidator.validate(model([Node(name: "m", opType: "FancyOp", domain: "com.vendor", inputs: ["x", ""],
                                                outputs: ["y", ""])]))
    }

    func testReaderValidatesUnlessAskedNotTo() throws {
        let bad = model([Node(name: "a", opType: "Relu", inputs: ["ghost"], outputs: ["y"])])
        let bytes = try ONNXWriter.serialize(bad)
        XCTAssertNotNil(badInputError { _ = try ONNXReader.read(data: bytes, baseDirectory: nil) })
        XCTAssertEqual(try ONNXReader.read(data: bytes, baseDirectory: nil, options: ReadOptions(validate: false)).graph.nodes.count, 1)
    }

    func testLongChainDoesNotExhaustTheStack() throws {
        var nodes: [Node] = []
        var previous = "x"
        for i in 0..<100_000 {
            let out = i == 99_999 ? "y" : "v\(i)"
            nodes.append(Node(opType: "Relu", inputs: [previous], outputs: [out]))
            previous = out
        }
        try GraphValidator.validate(model(nodes.reversed()))
    }
}
