@testable import EdgeCompression
import EdgeIR
import EdgeRuntime
import XCTest

/// Integer graph I/O: removing the border QuantizeLinear/DequantizeLinear must not change a
/// number, and `floatView` must give back the float-I/O computation exactly.
final class IntegerIOTests: XCTestCase {
    /// x → Q → DQ → Relu → Q → DQ → y, per-tensor int8.
    func qdqModel() -> Model {
        let nodes = [
            Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "sx", "zx"], outputs: ["xq"]),
            Node(name: "dqx", opType: "DequantizeLinear", inputs: ["xq", "sx", "zx"], outputs: ["xd"]),
            Node(name: "relu", opType: "Relu", inputs: ["xd"], outputs: ["r"]),
            Node(name: "qy", opType: "QuantizeLinear", inputs: ["r", "sy", "zy"], outputs: ["rq"]),
            Node(name: "dqy", opType: "DequantizeLinear", inputs: ["rq", "sy", "zy"], outputs: ["y"]),
        ]
        let graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [2, 3]))],
                          outputs: [ValueInfo(name: "y", tensor: TensorType(.float, fixed: [2, 3]))],
                          initializers: ["sx": .scalar(Float(0.05)), "zx": .scalar(Int8(-3)), "sy": .scalar(Float(0.03)), "zy": .scalar(Int8(-128))],
                          nodes: nodes)
        return Model(irVersion: 8, opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
    }

    func testApplyAndFloatViewKeepEveryNumber() throws {
        let model = qdqModel()
        let (integer, boundaries) = IntegerIO.apply(model)
        XCTAssertEqual(boundaries, [
            IntegerIO.Boundary(tensor: "x", isInput: true, scale: 0.05, zeroPoint: -3, type: .int8),
            IntegerIO.Boundary(tensor: "y", isInput: false, scale: 0.03, zeroPoint: -128, type: .int8),
        ])
        XCTAssertEqual(integer.graph.nodes.map(\.opType), ["DequantizeLinear", "Relu", "QuantizeLinear"])
        XCTAssertEqual(integer.graph.inputs[0].tensorType?.elementType, .int8)
        XCTAssertEqual(integer.graph.outputs[0].tensorType?.elementType, .int8)
        XCTAssertEqual(try IntegerIO.boundaries(of: integer), boundaries)

        let x: [Float] = [-1, -0.2, 0, 0.4, 2.5, 9]
        let floatOut = try Session(model: model).run(["x": Tensor(shape: [2, 3], scalars: x)])["y"]!.doubleValues()
        // The caller's side of the contract: q = clamp(round(x/s) + z), y = (q − z)·s.
        let xq = x.map { Int8(max(-128, min(127, ($0 / 0.05).rounded(.toNearestOrEven) - 3))) }
        let intOut = try Session(model: integer).run(["x": Tensor(shape: [2, 3], scalars: xq)])["y"]!
        XCTAssertEqual(intOut.dtype, .int8)
        XCTAssertEqual(intOut.doubleValues().map { Float($0 + 128) * Float(0.03) }, floatOut.map { Float($0) })
        let view = try IntegerIO.floatView(integer)
        XCTAssertEqual(try Session(model: view).run(["x": Tensor(shape: [2, 3], scalars: x)])["y"]!.doubleValues(), floatOut)
        XCTAssertTrue(try IntegerIO.boundaries(of: view).isEmpty)
    }

    func testBadMetadataNamesTheKey() {
        var model = qdqModel()
        model.metadataProps = [MetadataEntry(key: "edgeopt.integer_io.x", value: "input scale=zero zero_point=0 type=int8")]
        XCTAssertThrowsError(try IntegerIO.floatView(model)) { error in
            XCTAssertTrue("\(error)".contains("edgeopt.integer_io.x"), "\(error)")
        }
    }
}
