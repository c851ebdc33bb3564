import EdgeIR
@testable import EdgeRuntime
import XCTest

/// DQ → Add → Q is lowered to com.microsoft QLinearAdd, whose rounding is onnxruntime's. The
/// expected integers below were produced by onnxruntime 1.31 (x86-64, AVX2) on the same graph;
/// the float execution of the graph (the ONNX spec's DQ → Add → Q) rounds these ties the other way.
final class QuantQDQPoolBinaryLoweringTests: XCTestCase {
    func addModel() -> Model {
        var g = Graph(name: "qdq_add")
        g.inputs = [ValueInfo(name: "a", tensor: TensorType(.int8, fixed: [5])), ValueInfo(name: "b", tensor: TensorType(.int8, fixed: [5]))]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        g.initializers["sa"] = .scalar(Float(0.5)); g.initializers["za"] = .scalar(Int8(3))
        g.initializers["sb"] = .scalar(Float(0.25)); g.initializers["zb"] = .scalar(Int8(-5))
        g.initializers["sc"] = .scalar(Float(0.5)); g.initializers["zc"] = .scalar(Int8(7))
        g.nodes = [
            Node(name: "dqa", opType: "DequantizeLinear", inputs: ["a", "sa", "za"], outputs: ["af"]),
            Node(name: "dqb", opType: "DequantizeLinear", inputs: ["b", "sb", "zb"], outputs: ["bf"]),
            Node(name: "add", opType: "Add", inputs: ["af", "bf"], outputs: ["s"]),
            Node(name: "q", opType: "QuantizeLinear", inputs: ["s", "sc", "zc"], outputs: ["y"]),
        ]
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    func testAddBecomesQLinearAddWithOnnxRuntimeRounding() throws {
        let model = addModel()
        let lowered = QDQLowering.lower(model)
        XCTAssertEqual(lowered.loweredNodes, 1)
        XCTAssertEqual(lowered.model.graph.nodes.map(\.opType), ["QLinearAdd"])
        XCTAssertEqual(lowered.model.graph.nodes[0].domain, "com.microsoft")
        XCTAssertEqual(model.graph.nodes.count, 4, "the input model is not modified")

        let a = Tensor(shape: [5], scalars: [Int8(47), -71, -52, -56, 82])
        let b = Tensor(shape: [5], scalars: [Int8(126), -20, -26, 0, -116])
        // (47−3)·0.5 + (126+5)·0.25 = 54.75 → 109.5 steps + 7: onnxruntime gives 116, float 117.
        let integer = try QuantTestGraph.run(model, ["a": a, "b": b], integerQDQ: true)["y"]!
        XCTAssertEqual(integer.scalars(as: Int8.self), [116, -74, -58, -50, 30])
        let float = try QuantTestGraph.run(model, ["a": a, "b": b], integerQDQ: false)["y"]!
        XCTAssertEqual(float.scalars(as: Int8.self), [117, -75, -59, -49, 31])
    }

    /// A DQ feeding something else besides the Add, or an Add read by more than the Q, stays float.
    func testAddWithSecondReaderIsNotLowered() {
        var model = addModel()
        model.graph.outputs.append(ValueInfo(name: "s", type: nil))
        XCTAssertEqual(QDQLowering.lower(model).loweredNodes, 0)
    }
}
