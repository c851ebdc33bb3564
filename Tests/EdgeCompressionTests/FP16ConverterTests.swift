import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

/// FP16 conversion: structure of the rewritten graph and the engine's outputs against the float
/// model (numpy-computed expectations for the hand-built graphs).
final class FP16ConverterTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func path(_ name: String) -> String { Self.root.appendingPathComponent("models/\(name)").path }

    func input(_ name: String, _ shape: [Int]) -> ValueInfo { ValueInfo(name: name, tensor: TensorType(.float, fixed: shape)) }
    func output(_ name: String) -> ValueInfo { ValueInfo(name: name, type: nil) }
    func model(_ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [(String, Tensor)], opset: Int64 = 13) -> Model {
        var graph = Graph(name: "t", inputs: inputs, outputs: outputs.map(output), nodes: nodes)
        for (k, v) in initializers { graph.initializers[k] = v }
        return Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: graph)
    }
    func run(_ m: Model, _ feeds: [String: Tensor]) throws -> [String: Tensor] {
        try Session(model: m, options: SessionOptions(threads: 1)).run(feeds)
    }

    /// Both digits CNNs (initializer and Constant-node weights): every float weight becomes
    /// float16 (2.00× smaller), I/O stays float32 behind two Casts, and the logits stay within
    /// float16 rounding of the float model's on all 397 evaluation samples.
    func testDigitsCNNLogitsStayWithinHalfPrecisionOfFloat() throws {
        for name in ["digits_cnn.onnx", "digits_cnn_constants.onnx"] {
            let source = try ONNXReader.read(path: path(name))
            let (half, summary) = try FP16Converter.convert(source)
            XCTAssertEqual(summary.weightBytesBefore, 104_808, name)
            XCTAssertEqual(summary.weightBytesAfter, 52_404, name)
            XCTAssertEqual(summary.castsInserted, 2, name)
            XCTAssertEqual(summary.overflowingWeights, [], name)
            XCTAssertFalse(half.graph.weights().contains { $0.tensor.dtype == .float }, name)
            XCTAssertEqual(half.graph.inputs.first?.tensorType?.elementType, .float)
            let eval = try CalibrationDataSet.load(path: path("digits_eval.npz"), model: source, batchSize: 397)
            let feed = Array(eval.batches())[0]
            let y: [Float] = try run(source, feed)["logits"]!.scalars()
            let out = try run(half, feed)["logits"]!
            XCTAssertEqual(out.dtype, .float)
            let z: [Float] = out.scalars()
            let peak = y.map(abs).max()!
            let worst = zip(y, z).map { abs($0 - $1) }.max()!
            // Measured: 0.0167 of a peak |logit| of 16 (1.0e-3 relative, a few fp16 ulps after five layers).
            XCTAssertLessThan(worst / peak, 4e-3, name)
            var agree = 0
            for row in 0..<397 {
                let a = y[(row * 10)..<(row * 10 + 10)], b = z[(row * 10)..<(row * 10 + 10)]
                if a.firstIndex(of: a.max()!) == b.firstIndex(of: b.max()!) { agree += 1 }
            }
            XCTAssertGreaterThanOrEqual(Double(agree) / 397, 0.995, name)
        }
    }

    /// A weight with an element beyond ±65504 stays float32 and its reader computes in float32;
    /// numpy: x·W = [0.001·70000 + 0.5·1, 0.001·1 + 0.5·2] = [70.5, 1.001], then + b.
    func testOverflowingWeightStaysFloat32() throws {
        let w = Tensor(shape: [2, 2], scalars: [Float(70000), 1, 1, 2])
        let b = Tensor(shape: [2], scalars: [Float(0.25), -0.5])
        let m = model([Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["h"]),
                       Node(name: "add", opType: "Add", inputs: ["h", "b"], outputs: ["y"])],
                      inputs: [input("x", [1, 2])], outputs: ["y"], initializers: [("w", w), ("b", b)])
        let (half, summary) = try FP16Converter.convert(m)
        XCTAssertEqual(summary.overflowingWeights, ["w"])
        XCTAssertEqual(half.graph.initializers["w"]?.dtype, .float)
        XCTAssertEqual(half.graph.initializers["b"]?.dtype, .float16)
        XCTAssertEqual(summary.float32Nodes.map(\.node), ["mm"])
        XCTAssertTrue(summary.float32Nodes[0].reason.contains("65504"))
        let y: [Float] = try run(half, ["x": Tensor(shape: [1, 2], scalars: [Float(0.001), 0.5])])["y"]!.scalars()
        // float16 spacing at 70.75 is 1/16, at 0.5 it is 1/2048.
        XCTAssertEqual(y[0], 70.75, accuracy: 1.0 / 32)
        XCTAssertEqual(y[1], 0.501, accuracy: 1e-3)
    }

    /// An activation beyond the float16 range on calibration data keeps its producer and readers
    /// in float32: y = (x·1000)·0.001 with x = 100 passes through 1e5.
    func testOverflowingActivationKeepsItsNodesFloat32() throws {
        let m = model([Node(name: "up", opType: "Mul", inputs: ["x", "k"], outputs: ["big"]),
                       Node(name: "down", opType: "Mul", inputs: ["big", "s"], outputs: ["mid"]),
                       Node(name: "relu", opType: "Relu", inputs: ["mid"], outputs: ["y"])],
                      inputs: [input("x", [1, 3])], outputs: ["y"],
                      initializers: [("k", Tensor.scalar(Float(1000))), ("s", Tensor.scalar(Float(0.001)))])
        let x = Tensor(shape: [1, 3], scalars: [Float(100), -3, 0.5])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fp16-range-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try NumPyFile.write(x, to: dir.appendingPathComponent("x.npy").path)
        let data = try CalibrationDataSet.load(path: dir.path, model: m, batchSize: 1)
        let overflowing = try FP16RangeCheck.overflowingActivations(m, data: data, threads: 1)
        XCTAssertEqual(overflowing, ["big"])
        var options = FP16ConversionOptions()
        options.overflowingValues = overflowing
        let (half, summary) = try FP16Converter.convert(m, options: options)
        XCTAssertEqual(summary.float32Nodes.map(\.node), ["up", "down"])
        XCTAssertEqual(summary.convertedNodes, 1)
        let y: [Float] = try run(half, ["x": x])["y"]!.scalars()
        XCTAssertEqual(y, [100, 0, 0.5].map { Float(Float16($0)) })
        // Without the range check the float16 product is +inf.
        let (naive, _) = try FP16Converter.convert(m)
        let z: [Float] = try run(naive, ["x": x])["y"]!.scalars()
        XCTAssertEqual(z[0], .infinity)
    }

    /// Resize keeps float32 scales, ConstantOfShape's default float32 zero becomes a float16
    /// `value`, Cast(to FLOAT) becomes Cast(to FLOAT16), Range (no float16 below opset 27) stays
    /// float32; numpy: nearest 2× upsampling of [[1,2],[3,4]] plus 0, plus arange(0,4,1).
    func testTypedAttributesAndFloat32OnlyInputs() throws {
        let scales = Tensor(shape: [4], scalars: [Float(1), 1, 2, 2])
        let shape = Tensor(shape: [4], scalars: [Int64(1), 1, 4, 4])
        let nodes = [
            Node(name: "resize", opType: "Resize", inputs: ["x", "", "scales"], outputs: ["up"], attributes: [Attribute("mode", .string(Array("nearest".utf8)))]),
            Node(name: "zeros", opType: "ConstantOfShape", inputs: ["shape"], outputs: ["z"]),
            Node(name: "add", opType: "Add", inputs: ["up", "z"], outputs: ["sum"]),
            Node(name: "cast", opType: "Cast", inputs: ["n"], outputs: ["nf"], attributes: [Attribute("to", .int(1))]),
            Node(name: "range", opType: "Range", inputs: ["start", "limit", "delta"], outputs: ["r"]),
            Node(name: "add2", opType: "Add", inputs: ["sum", "r"], outputs: ["s2"]),
            Node(name: "add3", opType: "Add", inputs: ["s2", "nf"], outputs: ["y"]),
        ]
        let m = model(nodes, inputs: [input("x", [1, 1, 2, 2]), ValueInfo(name: "n", tensor: TensorType(.int64, fixed: [1]))], outputs: ["y"],
                      initializers: [("scales", scales), ("shape", shape), ("start", .scalar(Float(0))), ("limit", .scalar(Float(4))), ("delta", .scalar(Float(1)))])
        let (half, summary) = try FP16Converter.convert(m)
        let byName = Dictionary(uniqueKeysWithValues: half.graph.nodes.map { ($0.name, $0) })
        XCTAssertEqual(half.graph.initializers["scales"]?.dtype, .float)
        XCTAssertEqual(half.graph.initializers["start"]?.dtype, .float)
        XCTAssertEqual(byName["zeros"]?.tensor("value")?.dtype, .float16)
        XCTAssertEqual(byName["cast"]?.int("to"), Int64(DType.float16.rawValue))
        XCTAssertEqual(summary.float32Nodes.map(\.node), ["range"])
        let x = Tensor(shape: [1, 1, 2, 2], scalars: [Float(1), 2, 3, 4])
        let y: [Float] = try run(half, ["x": x, "n": Tensor(shape: [1], scalars: [Int64(10)])])["y"]!.scalars()
        let expected: [Float] = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4].enumerated().map { $0.element + Float($0.offset % 4) + 10 }
        XCTAssertEqual(y, expected)
    }

    /// A weight read by a converted node and by an excluded one is stored in both precisions; a
    /// graph output also read inside the graph keeps its float32 name for the output while the
    /// float16 reader reads the float16 value. numpy: h = x·W, y = relu(h), z = −y, e = x·W (fp32).
    func testSharedWeightAndGraphOutputReadInside() throws {
        let w = Tensor(shape: [2, 2], scalars: [Float(0.5), -1, 2, 0.25])
        let m = model([Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["h"]),
                       Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["y"]),
                       Node(name: "neg", opType: "Neg", inputs: ["y"], outputs: ["z"]),
                       Node(name: "exact", opType: "MatMul", inputs: ["x", "w"], outputs: ["e"])],
                      inputs: [input("x", [1, 2])], outputs: ["y", "z", "e"], initializers: [("w", w)])
        var options = FP16ConversionOptions()
        options.excludedNodes = ["exact"]
        let (half, summary) = try FP16Converter.convert(m, options: options)
        XCTAssertEqual(summary.duplicatedWeights, 1)
        XCTAssertEqual(half.graph.initializers["w"]?.dtype, .float)
        let nodes = Dictionary(uniqueKeysWithValues: half.graph.nodes.map { ($0.name, $0) })
        XCTAssertEqual(nodes["exact"]?.inputs[1], "w")
        XCTAssertEqual(half.graph.initializers[nodes["mm"]!.inputs[1]]?.dtype, .float16)
        XCTAssertNotEqual(nodes["relu"]?.outputs[0], "y")
        XCTAssertEqual(nodes["neg"]?.inputs[0], nodes["relu"]?.outputs[0])
        let out = try run(half, ["x": Tensor(shape: [1, 2], scalars: [Float(1), 3])])
        XCTAssertEqual(out["y"]?.dtype, .float)
        XCTAssertEqual(out["y"]!.scalars(as: Float.self), [6.5, 0])
        XCTAssertEqual(out["z"]!.scalars(as: Float.self), [-6.5, 0])
        XCTAssertEqual(out["e"]!.scalars(as: Float.self), [6.5, -0.25])
    }

    /// Without --keep-io-types the graph's float inputs and outputs are declared float16 and no
    /// Cast is needed.
    func testFloat16InputsAndOutputsWhenIOTypesAreNotKept() throws {
        let m = model([Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"])], inputs: [input("x", [2])], outputs: ["y"], initializers: [])
        var options = FP16ConversionOptions()
        options.keepIOTypes = false
        let (half, summary) = try FP16Converter.convert(m, options: options)
        XCTAssertEqual(summary.castsInserted, 0)
        XCTAssertEqual(half.graph.inputs[0].tensorType?.elementType, .float16)
        let y = try run(half, ["x": Tensor(shape: [2], scalars: [Float16(-1.5), Float16(2.25)])])["y"]!
        XCTAssertEqual(y.dtype, .float16)
        XCTAssertEqual(y.scalars(as: Float16.self), [0, 2.25])
    }
}
