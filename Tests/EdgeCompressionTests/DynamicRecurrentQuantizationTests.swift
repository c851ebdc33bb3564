import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

/// LSTM → com.microsoft::DynamicQuantizeLSTM and GRU → int8 weights behind DequantizeLinear:
/// the layout ONNX Runtime's kernel reads, and outputs within 8-bit rounding of the float model.
final class DynamicRecurrentQuantizationTests: XCTestCase {
    func recurrentModel(_ op: String, opset: Int64, seq: Int = 5, batch: Int = 3, input: Int = 7, hidden: Int = 6) -> Model {
        var rng = SeededNormal(seed: 5)
        let gates = op == "LSTM" ? 4 : 3
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [seq, batch, input]))]
        g.initializers["w"] = Tensor(shape: [2, gates * hidden, input], scalars: rng.array(2 * gates * hidden * input, scale: 0.4))
        g.initializers["r"] = Tensor(shape: [2, gates * hidden, hidden], scalars: rng.array(2 * gates * hidden * hidden, scale: 0.4))
        g.initializers["b"] = Tensor(shape: [2, 2 * gates * hidden], scalars: rng.array(4 * gates * hidden, scale: 0.1))
        g.nodes = [Node(name: "rnn", opType: op, inputs: ["x", "w", "r", "b"], outputs: ["y", "yh"],
                        attributes: [Attribute("hidden_size", .int(Int64(hidden))), Attribute("direction", .string(Array("bidirectional".utf8)))])]
        g.outputs = [ValueInfo(name: "y", type: nil), ValueInfo(name: "yh", type: nil)]
        return Model(irVersion: 7, opsetImports: [OpsetImport(domain: "", version: opset)], graph: g)
    }

    func sqnr(_ model: Model, _ quantized: Model, seq: Int = 5, batch: Int = 3, input: Int = 7) throws -> Double {
        var rng = SeededNormal(seed: 9)
        let feed = ["x": Tensor(shape: [seq, batch, input], scalars: rng.array(seq * batch * input))]
        let y: [Float] = try Session(model: model).run(feed)["y"]!.scalars()
        let yq: [Float] = try Session(model: quantized).run(feed)["y"]!.scalars()
        var signal = 0.0, noise = 0.0
        for (a, b) in zip(y, yq) { signal += Double(a * a); noise += Double((a - b) * (a - b)) }
        return 10 * log10(signal / noise)
    }

    /// W [2, 4H, I] becomes int8 W_q [2, I, 4H] with W_q[d, k, j] = round(W[d, j, k] / s[d, j]),
    /// s = max over the gate row / 127; the output stays within 8-bit rounding of the float LSTM.
    func testLSTMBecomesDynamicQuantizeLSTMWithTransposedInt8Weights() throws {
        let model = recurrentModel("LSTM", opset: 14)
        let (q, summary) = try DynamicQuantizer.quantize(model, options: DynamicQuantizationOptions())
        XCTAssertEqual(summary.quantizedNodes, ["rnn (LSTM → com.microsoft::DynamicQuantizeLSTM, int8 products)"])
        let node = try XCTUnwrap(q.graph.nodes.first { $0.opType == "DynamicQuantizeLSTM" })
        XCTAssertEqual(node.domain, "com.microsoft")
        XCTAssertTrue(q.opsetImports.contains { $0.domain == "com.microsoft" && $0.version == 1 })
        XCTAssertEqual(node.inputs.count, 12)
        let w: [Float] = model.graph.initializers["w"]!.scalars()
        let wq = try XCTUnwrap(q.graph.initializers[node.inputs[1]]), ws = try XCTUnwrap(q.graph.initializers[node.inputs[8]])
        XCTAssertEqual(wq.dtype, .int8)
        XCTAssertEqual(wq.shape, [2, 7, 24])
        XCTAssertEqual(ws.shape, [2, 24])
        XCTAssertEqual(q.graph.initializers[node.inputs[9]]?.shape, [2, 24])
        let qv = wq.scalars(as: Int8.self), sv: [Float] = ws.scalars()
        for d in 0..<2 { for j in 0..<24 {
            let row = (0..<7).map { w[(d * 24 + j) * 7 + $0] }
            XCTAssertEqual(sv[d * 24 + j], row.map(abs).max()! / 127, accuracy: 1e-9)
            for k in 0..<7 { XCTAssertEqual(Float(qv[(d * 7 + k) * 24 + j]), (row[k] / sv[d * 24 + j]).rounded(.toNearestOrEven)) }
        } }
        XCTAssertGreaterThan(try sqnr(model, q), 30)

        var perTensor = DynamicQuantizationOptions()
        perTensor.perChannel = false
        let (qt, _) = try DynamicQuantizer.quantize(model, options: perTensor)
        let nt = try XCTUnwrap(qt.graph.nodes.first { $0.opType == "DynamicQuantizeLSTM" })
        XCTAssertEqual(qt.graph.initializers[nt.inputs[8]]?.shape, [2])
        XCTAssertGreaterThan(try sqnr(model, qt), 28)
    }

    /// GRU keeps float compute on int8 weights: per gate row of each direction through a [2·G, K]
    /// DequantizeLinear (axis 0) and a Reshape; an opset-11 model is raised to 13 for the axis.
    func testGRUGetsPerRowInt8WeightsBehindDequantizeLinear() throws {
        let model = recurrentModel("GRU", opset: 11)
        let (q, summary) = try DynamicQuantizer.quantize(model, options: DynamicQuantizationOptions())
        XCTAssertEqual(summary.quantizedNodes, ["rnn (GRU: int8 weights behind DequantizeLinear, float compute)"])
        XCTAssertEqual(q.onnxOpsetVersion, 13)
        XCTAssertEqual(q.graph.nodes.filter { $0.opType == "DequantizeLinear" }.count, 2)
        XCTAssertEqual(q.graph.nodes.filter { $0.opType == "GRU" }.count, 1)
        XCTAssertTrue(q.graph.initializers.values.contains { $0.dtype == .int8 && $0.shape == [36, 7] })
        XCTAssertFalse(q.graph.initializers.values.contains { $0.dtype == .float && $0.elementCount >= 36 * 6 })
        XCTAssertGreaterThan(try sqnr(model, q), 30)
    }
}
