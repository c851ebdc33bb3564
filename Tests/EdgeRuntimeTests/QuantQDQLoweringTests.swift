import EdgeIR
@testable import EdgeRuntime
import XCTest

/// QDQ lowering: DQ → Conv/Gemm (→ Relu) → Q runs as one integer kernel whose result equals the
/// hand-computed integer arithmetic, and (for these tie-free cases) the float execution of the
/// same graph.
final class QuantQDQLoweringTests: XCTestCase {
    /// x (float [1,1,1,2]) → Q(0.5, 10) → DQ → Conv(w = DQ([3,−2], per channel [0.5,0.25]),
    /// b = DQ(int32 [4,−3], scale [0.25,0.125])) → Relu → Q(0.25, 100) → DQ → y
    func convModel(relu: Bool) -> Model {
        var g = Graph(name: "qdq_conv")
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 1, 1, 2]))]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        g.initializers["xs"] = .scalar(Float(0.5)); g.initializers["xz"] = .scalar(UInt8(10))
        g.initializers["wq"] = Tensor(shape: [2, 1, 1, 1], scalars: [Int8(3), -2])
        g.initializers["ws"] = Tensor(shape: [2], scalars: [Float(0.5), 0.25])
        g.initializers["wz"] = Tensor(shape: [2], scalars: [Int8(0), 0])
        g.initializers["bq"] = Tensor(shape: [2], scalars: [Int32(4), -3])
        g.initializers["bs"] = Tensor(shape: [2], scalars: [Float(0.25), 0.125])
        g.initializers["bz"] = Tensor(shape: [2], scalars: [Int32(0), 0])
        g.initializers["ys"] = .scalar(Float(0.25)); g.initializers["yz"] = .scalar(UInt8(100))
        g.nodes = [
            Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"]),
            Node(name: "dqx", opType: "DequantizeLinear", inputs: ["xq", "xs", "xz"], outputs: ["xf"]),
            Node(name: "dqw", opType: "DequantizeLinear", inputs: ["wq", "ws", "wz"], outputs: ["wf"], attributes: [Attribute("axis", .int(0))]),
            Node(name: "dqb", opType: "DequantizeLinear", inputs: ["bq", "bs", "bz"], outputs: ["bf"], attributes: [Attribute("axis", .int(0))]),
            Node(name: "conv", opType: "Conv", inputs: ["xf", "wf", "bf"], outputs: ["c"]),
        ]
        if relu { g.nodes.append(Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"])) }
        g.nodes += [
            Node(name: "qy", opType: "QuantizeLinear", inputs: [relu ? "r" : "c", "ys", "yz"], outputs: ["yq"]),
            Node(name: "dqy", opType: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["y"]),
        ]
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    func testConvWithReluBecomesOneIntegerNode() throws {
        let model = convModel(relu: true)
        // The Relu clips inside the output's range (zero point 100 > qmin): ONNX Runtime keeps
        // Conv+Relu in float before Q, and so does a session; the QOperator conversion folds it.
        XCTAssertEqual(QDQLowering.lower(model).loweredNodes, 0)
        let lowered = QDQLowering.lower(model, onnxRuntimeClamps: false)
        XCTAssertEqual(lowered.loweredNodes, 1)
        XCTAssertEqual(lowered.model.graph.nodes.map(\.opType), ["QuantizeLinear", "QLinearConv", "DequantizeLinear"])
        XCTAssertEqual(lowered.model.graph.nodes[1].domain, "ai.edgeopt")
        XCTAssertEqual(model.graph.nodes.count, 8, "the input model is not modified")

        let x = Tensor(shape: [1, 1, 1, 2], scalars: [Float(0), 5])
        // Integer: channel 0 → 104, 134; channel 1 → 98, 88, clamped by Relu to the zero point 100.
        let expected: [Float] = [1.0, 8.5, 0, 0]  // (q − 100)·0.25
        let integer = try QuantTestGraph.run(lowered.model, ["x": x], integerQDQ: false)["y"]!
        XCTAssertEqual(integer.scalars(as: Float.self), expected)
        let float = try QuantTestGraph.run(model, ["x": x], integerQDQ: false)["y"]!
        XCTAssertEqual(float.scalars(as: Float.self), expected)
        XCTAssertEqual(try QuantTestGraph.run(model, ["x": x], integerQDQ: true)["y"]!.scalars(as: Float.self), expected)
    }

    /// The same graph after EdgeTransforms fused the Relu into an ai.edgeopt::FusedConv.
    func testFusedConvWithReluIsLoweredToo() throws {
        var model = convModel(relu: false)
        let k = model.graph.nodes.firstIndex { $0.opType == "Conv" }!
        model.graph.nodes[k].opType = "FusedConv"
        model.graph.nodes[k].domain = "ai.edgeopt"
        model.graph.nodes[k].attributes.append(Attribute("activation", .string(Array("Relu".utf8))))
        model.opsetImports.append(OpsetImport(domain: "ai.edgeopt", version: 1))
        XCTAssertEqual(QDQLowering.lower(model).loweredNodes, 0)
        let lowered = QDQLowering.lower(model, onnxRuntimeClamps: false)
        XCTAssertEqual(lowered.loweredNodes, 1)
        XCTAssertFalse(lowered.model.graph.nodes[1].attributes.contains { $0.name == "activation" })
        let x = Tensor(shape: [1, 1, 1, 2], scalars: [Float(0), 5])
        XCTAssertEqual(try QuantTestGraph.run(lowered.model, ["x": x], integerQDQ: false)["y"]!.scalars(as: Float.self), [1.0, 8.5, 0, 0])
        XCTAssertEqual(try QuantTestGraph.run(model, ["x": x], integerQDQ: false)["y"]!.scalars(as: Float.self), [1.0, 8.5, 0, 0])
    }

    func testConvWithoutReluKeepsNegativeQuantizedValues() throws {
        let x = Tensor(shape: [1, 1, 1, 2], scalars: [Float(0), 5])
        let y = try QuantTestGraph.run(convModel(relu: false), ["x": x], integerQDQ: true)["y"]!
        XCTAssertEqual(y.scalars(as: Float.self), [1.0, 8.5, -0.5, -3.0])  // 98, 88 → (q − 100)·0.25
    }

    /// Gemm with transB = 1 and a float bias quantized by the lowering:
    /// round(0.3 / 0.25) = 1, round(−0.1 / 0.25) = 0.
    func testGemmWithFloatBias() throws {
        var g = Graph(name: "qdq_gemm")
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 2]))]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        g.initializers["xs"] = .scalar(Float(0.5)); g.initializers["xz"] = .scalar(UInt8(10))
        g.initializers["wq"] = Tensor(shape: [2, 2], scalars: [Int8(3), -2, 1, 4])
        g.initializers["ws"] = .scalar(Float(0.5)); g.initializers["wz"] = .scalar(Int8(0))
        g.initializers["b"] = Tensor(shape: [2], scalars: [Float(0.3), -0.1])
        g.initializers["ys"] = .scalar(Float(0.25)); g.initializers["yz"] = .scalar(Int8(0))
        g.nodes = [
            Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"]),
            Node(name: "dqx", opType: "DequantizeLinear", inputs: ["xq", "xs", "xz"], outputs: ["xf"]),
            Node(name: "dqw", opType: "DequantizeLinear", inputs: ["wq", "ws", "wz"], outputs: ["wf"]),
            Node(name: "gemm", opType: "Gemm", inputs: ["xf", "wf", "b"], outputs: ["c"], attributes: [Attribute("transB", .int(1))]),
            Node(name: "qy", opType: "QuantizeLinear", inputs: ["c", "ys", "yz"], outputs: ["yq"]),
            Node(name: "dqy", opType: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["y"]),
        ]
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        XCTAssertEqual(QDQLowering.lower(model).loweredNodes, 1)
        // x = [1, 3] → q [12, 16] → [2, 6]; col 0: 2·3 − 6·2 + 1 = −5; col 1: 2 + 24 + 0 = 26.
        let x = Tensor(shape: [1, 2], scalars: [Float(1), 3])
        let integer = try QuantTestGraph.run(model, ["x": x], integerQDQ: true)["y"]!
        XCTAssertEqual(integer.scalars(as: Float.self), [-1.25, 6.5])
        let float = try QuantTestGraph.run(model, ["x": x], integerQDQ: false)["y"]!
        XCTAssertEqual(float.scalars(as: Float.self), [-1.25, 6.5])
    }

    /// MatMul of two activations (attention's Q·Kᵀ form): both operands quantized at run time.
    func testMatMulOfTwoActivations() throws {
        var g = Graph(name: "qdq_matmul")
        g.inputs = [ValueInfo(name: "a", tensor: TensorType(.float, fixed: [1, 2])),
                    ValueInfo(name: "b", tensor: TensorType(.float, fixed: [2, 1]))]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        g.initializers["as"] = .scalar(Float(0.5)); g.initializers["az"] = .scalar(UInt8(10))
        g.initializers["bs"] = .scalar(Float(0.5)); g.initializers["bz"] = .scalar(Int8(0))
        g.initializers["ys"] = .scalar(Float(0.5)); g.initializers["yz"] = .scalar(Int8(0))
        g.nodes = [
            Node(name: "qa", opType: "QuantizeLinear", inputs: ["a", "as", "az"], outputs: ["aq"]),
            Node(name: "dqa", opType: "DequantizeLinear", inputs: ["aq", "as", "az"], outputs: ["af"]),
            Node(name: "qb", opType: "QuantizeLinear", inputs: ["b", "bs", "bz"], outputs: ["bq"]),
            Node(name: "dqb", opType: "DequantizeLinear", inputs: ["bq", "bs", "bz"], outputs: ["bf"]),
            Node(name: "mm", opType: "MatMul", inputs: ["af", "bf"], outputs: ["c"]),
            Node(name: "qy", opType: "QuantizeLinear", inputs: ["c", "ys", "yz"], outputs: ["yq"]),
            Node(name: "dqy", opType: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["y"]),
        ]
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        XCTAssertEqual(QDQLowering.lower(model).loweredNodes, 1)
        // a → q [12, 16] → [2, 6]; b → q [2, 5]; acc 2·2 + 6·5 = 34; ·(0.5·0.5/0.5) = 17 → 8.5.
        let feeds = ["a": Tensor(shape: [1, 2], scalars: [Float(1), 3]), "b": Tensor(shape: [2, 1], scalars: [Float(1), 2.5])]
        XCTAssertEqual(try QuantTestGraph.run(model, feeds, integerQDQ: true)["y"]!.scalars(as: Float.self), [8.5])
        XCTAssertEqual(try QuantTestGraph.run(model, feeds, integerQDQ: false)["y"]!.scalars(as: Float.self), [8.5])
    }

    func testGraphOutputBetweenOpAndQuantizeIsNotFused() {
        var model = convModel(relu: false)
        model.graph.outputs.append(ValueInfo(name: "c", type: nil))
        XCTAssertEqual(QDQLowering.lower(model).loweredNodes, 0)
    }
}
