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
    /// DQ → Softmax → Q becomes com.microsoft QLinearSoftmax (ONNX Runtime's lookup-table
    /// arithmetic). Expected codes: onnxruntime 1.31 (x86-64) on this graph; the float graph
    /// (dequantize, float Softmax, QuantizeLinear) gives 201 and 132 where onnxruntime gives 200, 131.
    func testSoftmaxBecomesQLinearSoftmaxWithOnnxRuntimeCodes() throws {
        var g = Graph(name: "qdq_softmax")
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.uint8, fixed: [2, 6]))]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        g.initializers["sx"] = .scalar(Float(0.031)); g.initializers["zx"] = .scalar(UInt8(7))
        g.initializers["sy"] = .scalar(Float(1) / 255); g.initializers["zy"] = .scalar(UInt8(0))
        g.nodes = [
            Node(name: "dq", opType: "DequantizeLinear", inputs: ["x", "sx", "zx"], outputs: ["xf"]),
            Node(name: "softmax", opType: "Softmax", inputs: ["xf"], outputs: ["p"], attributes: [Attribute("axis", .int(-1))]),
            Node(name: "q", opType: "QuantizeLinear", inputs: ["p", "sy", "zy"], outputs: ["y"]),
        ]
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        let lowered = QDQLowering.lower(model)
        XCTAssertEqual(lowered.model.graph.nodes.map(\.opType), ["QLinearSoftmax"])
        XCTAssertEqual(lowered.model.graph.nodes[0].int("opset"), 13)

        let x = Tensor(shape: [2, 6], scalars: [UInt8(121), 131, 193, 243, 8, 36, 210, 242, 63, 79, 222, 108])
        let integer = try QuantTestGraph.run(model, ["x": x], integerQDQ: true)["y"]!
        XCTAssertEqual(integer.scalars(as: UInt8.self), [5, 6, 43, 200, 0, 0, 49, 131, 1, 1, 71, 2])
        let float = try QuantTestGraph.run(model, ["x": x], integerQDQ: false)["y"]!
        XCTAssertEqual(float.scalars(as: UInt8.self), [5, 6, 43, 201, 0, 0, 49, 132, 1, 1, 71, 2])
    }
}
