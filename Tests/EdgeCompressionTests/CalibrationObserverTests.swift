import EdgeIR
import EdgeKernels
import EdgeRuntime
import EdgeTestSupport
import XCTest
@testable import EdgeCompression

/// `Calibrator` and `HessianCollector` observe activations in the engine's arena
/// (`Session.run(_:observing:)`). Their statistics must equal, bit for bit, those of the capture
/// they replaced: the tensors appended as graph outputs, each batch's outputs copied out of the
/// arena and observed after the run (implemented here as the reference).
final class CalibrationObserverTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Statistics and per-sample means by graph-output capture (the pre-observer Calibrator).
    func capturedStatistics(model: Model, tensors: [String], data: CalibrationDataSet, histograms: Bool,
                            meanTensors: Set<String>, threads: Int) throws -> ([String: TensorStatistics], [String: [Float]]) {
        var augmented = model
        let existing = Set(model.graph.outputs.map(\.name)).union(model.graph.runtimeInputs.map(\.name))
        for name in tensors where !existing.contains(name) { augmented.graph.outputs.append(ValueInfo(name: name, type: nil)) }
        let session = try Session(model: augmented, options: SessionOptions(threads: threads))
        var stats: [String: TensorStatistics] = [:]
        for name in tensors { stats[name] = TensorStatistics(histogram: histograms) }
        var sums: [String: ([Double], Int)] = [:]
        for feed in data.batches() {
            let outputs = try session.run(feed)
            for name in tensors {
                let t = try XCTUnwrap(outputs[name] ?? feed[name], name)
                guard t.dtype == .float else { continue }
                let v: [Float] = t.scalars()
                v.withUnsafeBufferPointer { stats[name]!.observe($0) }
                if meanTensors.contains(name) {
                    let n = t.shape[0], size = v.count / n
                    var entry = sums[name] ?? ([Double](repeating: 0, count: size), 0)
                    for b in 0..<n { for k in 0..<size { entry.0[k] += Double(v[b * size + k]) } }
                    entry.1 += n
                    sums[name] = entry
                }
            }
        }
        return (stats, sums.mapValues { sum, n in sum.map { Float($0 / Double(n)) } })
    }

    func assertSameStatistics(_ model: Model, tensors: [String], data: CalibrationDataSet, meanTensors: Set<String>,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        // Histograms on: TensorStatistics then holds both the min/max and the histogram observer.
        let histograms = true
        let observed = try Calibrator(options: SessionOptions(threads: 2))
            .collect(model: model, tensors: tensors, data: data, histograms: histograms, meanTensors: meanTensors)
        let (stats, means) = try capturedStatistics(model: model, tensors: tensors, data: data, histograms: histograms,
                                                    meanTensors: meanTensors, threads: 2)
        XCTAssertEqual(Set(observed.statistics.keys), Set(tensors), file: file, line: line)
        var nonEmpty = 0
        for name in tensors {
            XCTAssertEqual(observed.statistics[name], stats[name], "\(name)", file: file, line: line)
            if (observed.statistics[name]?.minMax.count ?? 0) > 0 { nonEmpty += 1 }
        }
        XCTAssertGreaterThan(nonEmpty, tensors.count / 2, file: file, line: line)
        XCTAssertEqual(Set(observed.means.keys), meanTensors, file: file, line: line)
        for (name, mean) in means {
            XCTAssertEqual(observed.means[name]?.scalars(as: Float.self).map(\.bitPattern), mean.map(\.bitPattern), name, file: file, line: line)
        }
    }

    /// Every float node output (what FP16RangeCheck requests: no fusion survives) and the
    /// quantization plan's activations (what StaticQuantizer requests: fusions between them run).
    func requests(_ model: Model) throws -> (all: [String], plan: [String], convInputs: Set<String>) {
        let inference = try ShapeInference.infer(graph: model.graph, opsetImports: model.opsetImports)
        var all = model.graph.runtimeInputs.map(\.name)
        for node in model.graph.nodes where node.opType != "Constant" {
            for out in node.outputs where !out.isEmpty && inference.types[out]?.elementType == .float { all.append(out) }
        }
        let plan = QuantizationPlan(graph: model.graph, scheme: .default, types: inference.types,
                                    staticValues: inference.staticValues, excluded: [])
        let convInputs = Set(model.graph.nodes.filter { $0.opType == "Conv" }.map(\.inputs[0]))
        return (all, plan.activations, convInputs)
    }

    func testDigitsCNNStatisticsMatchGraphOutputCapture() throws {
        let model = try ONNXReader.read(path: Self.root.appendingPathComponent("models/digits_cnn.onnx").path)
        let data = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_calib.npz").path, model: model, batchSize: 32)
        let (all, plan, convInputs) = try requests(model)
        XCTAssertFalse(plan.isEmpty)
        try assertSameStatistics(model, tensors: all, data: data, meanTensors: convInputs)
        try assertSameStatistics(model, tensors: plan, data: data, meanTensors: convInputs.intersection(plan))
    }

    /// torchvision MobileNetV2 with BatchNormalization nodes and ReLU6 (Conv→BN→Clip fuse into one
    /// step unless observed), random inputs. Needs EDGEOPT_FIXTURES.
    func testTorchMobileNetV2StatisticsMatchGraphOutputCapture() throws {
        guard let fixtures = ProcessInfo.processInfo.environment["EDGEOPT_FIXTURES"] else { throw XCTSkip("EDGEOPT_FIXTURES not set") }
        let model = try ONNXReader.read(path: fixtures + "/torch/mobilenetv2_bn/model.onnx")
        let input = try XCTUnwrap(model.graph.runtimeInputs.first).name
        let dir = try TemporaryDirectory()
        var g = SplitMix64(seed: 11)
        let samples = 3
        try NumPyFile.write(Tensor(shape: [samples, 3, 224, 224], scalars: (0..<(samples * 3 * 224 * 224)).map { _ in g.nextFloat() * 2 - 1 }),
                            to: dir.path("\(input).npy"))
        let data = try CalibrationDataSet.load(path: dir.url.path, model: model, batchSize: 2)  // batches of 2 and 1
        let (_, plan, convInputs) = try requests(model)
        XCTAssertGreaterThan(plan.count, 50)
        try assertSameStatistics(model, tensors: plan, data: data, meanTensors: convInputs.intersection(plan))
    }

    /// GPTQ Hessians of digits_attention's MatMul/Gemm inputs, observed vs captured.
    func testHessiansMatchGraphOutputCapture() throws {
        let model = try ONNXReader.read(path: Self.root.appendingPathComponent("models/digits_attention.onnx").path)
        let data = try CalibrationDataSet.load(path: Self.root.appendingPathComponent("models/digits_calib.npz").path, model: model, batchSize: 50)
        let constants = Set(model.graph.initializers.keys).union(model.graph.nodes.filter { $0.opType == "Constant" }.flatMap(\.outputs))
        var requests: [HessianCollector.Request] = []
        for node in model.graph.nodes where ["MatMul", "Gemm"].contains(node.opType) && !constants.contains(node.inputs[0]) {
            requests.append(.init(tensor: node.inputs[0], transposed: node.opType == "Gemm" && (node.int("transA") ?? 0) != 0))
        }
        XCTAssertGreaterThanOrEqual(requests.count, 2)
        let observed = try HessianCollector(options: SessionOptions(threads: 2)).collect(model: model, requests: requests, data: data)

        var augmented = model
        augmented.graph.outputs += Set(requests.map(\.tensor)).sorted().map { ValueInfo(name: $0, type: nil) }
        let session = try Session(model: augmented, options: SessionOptions(threads: 2))
        var sums: [HessianCollector.Request: [Double]] = [:], rows: [HessianCollector.Request: Int] = [:]
        for feed in data.batches() {
            let outputs = try session.run(feed)
            for r in requests where !r.transposed {
                let t = try XCTUnwrap(outputs[r.tensor] ?? feed[r.tensor])
                let k = t.shape[t.rank - 1], x: [Float] = t.scalars()
                var h = sums[r] ?? [Double](repeating: 0, count: k * k)
                HessianCollector.accumulate(&h, x, rows: x.count / k, k: k, strideRow: k, strideCol: 1,
                                            pool: ThreadPool(threads: 2))
                sums[r] = h
                rows[r, default: 0] += x.count / k
            }
        }
        for r in requests where !r.transposed {
            let h = try XCTUnwrap(sums[r]), k = Int(Double(h.count).squareRoot())
            let factor = 2 / Double(rows[r]!)
            var expected = h
            for i in 0..<k { for j in i..<k { expected[i * k + j] = h[i * k + j] * factor; expected[j * k + i] = expected[i * k + j] } }
            XCTAssertEqual(observed[r], expected, r.tensor)
        }
    }
}
