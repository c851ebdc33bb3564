import EdgeIR
@testable import EdgeTransforms
import XCTest

/// Converting down: each graph runs in the engine at its own opset before and after, and the
/// outputs must agree.
final class OpsetDowngradeTests: XCTestCase {
    func testMovesInputsBackToAttributesFrom18To13And11() throws {
        let m = T.model([
            T.node("Unsqueeze", ["x", "ax0"], ["a"]),
            T.node("Split", ["a"], ["s1", "s2", "s3"], [Attribute("axis", .int(2)), Attribute("num_outputs", .int(3))]),
            T.node("ReduceMean", ["s1", "axm"], ["r1"], [Attribute("keepdims", .int(1))]),
            T.node("ReduceSum", ["s2", "axm"], ["r2"], [Attribute("keepdims", .int(1))]),
            T.node("ReduceMax", ["s3", "axm"], ["r3"], [Attribute("keepdims", .int(1))]),
            T.node("Add", ["r1", "r2"], ["t"]),
            T.node("Add", ["t", "r3"], ["u"]),
            T.node("Squeeze", ["u", "ax0"], ["v"]),
            T.node("Softmax", ["v"], ["y"]),
        ], inputs: [T.input("x", [3, 8, 4])], outputs: ["y"],
           initializers: ["ax0": T.ints([0]), "axm": T.ints([-2])], opset: 18)
        for target in [13, 11] {
            let (out, result) = try T.run(ConvertOpset(target: target), on: m)
            XCTAssertEqual(out.onnxOpsetVersion, Int64(target))
            XCTAssertEqual(result.rewrites, target < 13 ? 7 : 3) // Split, ReduceMean, ReduceMax; below 13 also Unsqueeze, ReduceSum, Squeeze, Softmax
            let byOp = Dictionary(grouping: out.graph.nodes, by: \.opType)
            XCTAssertEqual(byOp["ReduceMean"]?.first?.ints("axes"), [-2])
            XCTAssertEqual(byOp["ReduceMean"]?.first?.inputs.count, 1)
            XCTAssertEqual(byOp["Unsqueeze"]?.first?.ints("axes"), target < 13 ? [0] : nil)
            XCTAssertEqual(byOp["ReduceSum"]?.first?.inputs.count, target < 13 ? 1 : 2)
            // num_outputs 3 over 8: chunks of ⌈8/3⌉ = 3, 3, 2.
            let split = try XCTUnwrap(byOp["Split"]?.first)
            XCTAssertNil(split.attribute("num_outputs"))
            if target < 13 { XCTAssertEqual(split.ints("split"), [3, 3, 2]) } else { XCTAssertEqual(split.inputs.count, 2) }
            XCTAssertEqual(byOp["Softmax"]?.first?.int("axis"), target < 13 ? 2 : nil) // below 13: the last axis, explicitly
            try T.assertEquivalent(m, out)
        }
    }

    func testExpandsOperatorsTheTargetLacks() throws {
        let m = T.model([
            T.node("LayerNormalization", ["x", "gamma", "beta"], ["ln"], [Attribute("epsilon", .float(1e-3))]),
            T.node("Gelu", ["ln"], ["g"]),
            T.node("Gelu", ["g"], ["gt"], [Attribute("approximate", .string(Array("tanh".utf8)))]),
            T.node("HardSwish", ["gt"], ["h"]),
            T.node("Mish", ["h"], ["mi"]),
            T.node("GreaterOrEqual", ["mi", "ln"], ["ge"]),
            T.node("Where", ["ge", "mi", "ln"], ["y"]),
        ], inputs: [T.input("x", [2, 3, 6])], outputs: ["y"],
           initializers: ["gamma": T.random([6], seed: 1), "beta": T.random([6], seed: 2)], opset: 20)
        let (out, _) = try T.run(ConvertOpset(target: 11), on: m)
        let ops = Set(out.graph.nodes.map(\.opType))
        XCTAssertTrue(ops.isDisjoint(with: ["LayerNormalization", "Gelu", "HardSwish", "Mish", "GreaterOrEqual"]), "\(ops)")
        XCTAssertTrue(ops.isSuperset(of: ["ReduceMean", "Erf", "Tanh", "HardSigmoid", "Softplus", "Or"]), "\(ops)")
        try T.assertEquivalent(m, out, tolerance: 1e-5)
    }

    func testKeepsDefaultsAndRefusesWhatHasNoOlderForm() throws {
        // allowzero = 0 and select_last_index = 0 are the old behaviour: dropped.
        let ok = T.model([
            T.node("Reshape", ["x", "shape"], ["r"], [Attribute("allowzero", .int(0))]),
            T.node("ArgMax", ["r"], ["y"], [Attribute("axis", .int(1)), Attribute("select_last_index", .int(0))]),
        ], inputs: [T.input("x", [2, 6])], outputs: ["y"], initializers: ["shape": T.ints([3, 4])], opset: 14)
        let (out, _) = try T.run(ConvertOpset(target: 11), on: ok)
        XCTAssertTrue(out.graph.nodes.allSatisfy { $0.attribute("allowzero") == nil && $0.attribute("select_last_index") == nil })
        try T.assertEquivalent(ok, out)

        func refused(_ node: Node, opset: Int64, target: Int, inputs: [ValueInfo], initializers: [String: Tensor] = [:], mentions: String) {
            let m = T.model([node], inputs: inputs, outputs: [node.outputs[0]], initializers: initializers, opset: opset)
            XCTAssertThrowsError(try T.run(ConvertOpset(target: target), on: m), mentions) { error in
                XCTAssertTrue("\(error)".contains("'\(node.name)'") && "\(error)".contains(mentions), "\(error)")
            }
        }
        var lastIndex = T.node("ArgMax", ["x"], ["y"], [Attribute("select_last_index", .int(1))])
        lastIndex.name = "argmax_last"
        refused(lastIndex, opset: 13, target: 11, inputs: [T.input("x", [2, 6])], mentions: "select_last_index")
        var softmax = T.node("Softmax", ["x"], ["y"], [Attribute("axis", .int(1))])
        softmax.name = "softmax_mid"
        refused(softmax, opset: 13, target: 12, inputs: [T.input("x", [2, 3, 4])], mentions: "non-last axis")
        var trilu = T.node("Trilu", ["x"], ["y"])
        trilu.name = "upper"
        refused(trilu, opset: 14, target: 13, inputs: [T.input("x", [3, 3])], mentions: "does not exist before opset 14")
        var pad = T.node("Pad", ["x", "pads"], ["y"], [Attribute("mode", .string(Array("wrap".utf8)))])
        pad.name = "wrap_pad"
        refused(pad, opset: 19, target: 13, inputs: [T.input("x", [2, 3])], initializers: ["pads": T.ints([0, 1, 0, 1])], mentions: "wrap")
        let old = T.model([T.node("Relu", ["x"], ["y"])], inputs: [T.input("x", [2])], outputs: ["y"], opset: 13)
        XCTAssertThrowsError(try T.run(ConvertOpset(target: 10), on: old)) { error in
            XCTAssertTrue("\(error)".contains("opset 10"), "\(error)")
        }
    }
}
