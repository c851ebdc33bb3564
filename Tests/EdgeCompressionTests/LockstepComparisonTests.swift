import EdgeIR
import EdgeRuntime
import Foundation
import XCTest
@testable import EdgeCompression

/// `LockstepComparison` runs a reference and a candidate session at once and compares the tensors
/// both observe. Checked here against the two models run one after the other with every tensor a
/// graph output (computed independently): same pairs, same figures bit for bit, copies held within
/// the budget, errors propagated, and the sessions usable afterwards.
final class LockstepComparisonTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func path(_ name: String) -> String { Self.root.appendingPathComponent("models/\(name)").path }

    func models() throws -> (float: Model, int8: Model, eval: CalibrationDataSet, tensors: [String]) {
        let float = try ONNXReader.read(path: path("digits_cnn.onnx"))
        let calib = try CalibrationDataSet.load(path: path("digits_calib.npz"), model: float, batchSize: 64)
        var options = StaticQuantizationOptions()
        options.threads = 2
        let int8 = try StaticQuantizer.quantize(float, data: calib, options: options).model
        let eval = try CalibrationDataSet.load(path: path("digits_eval.npz"), model: float, batchSize: 100)
        // Node outputs of the float model the QDQ model also produces (the quantized layers keep their names).
        let produced = Set(int8.graph.nodes.flatMap(\.outputs))
        let tensors = float.graph.nodes.flatMap(\.outputs).filter { produced.contains($0) && !float.graph.outputs.map(\.name).contains($0) }
        return (float, int8, eval, tensors)
    }

    /// Σ r² and Σ (r − q)² per tensor, batch by batch, from the graph-output capture.
    func capturedSQNR(_ float: Model, _ int8: Model, _ eval: CalibrationDataSet, _ tensors: [String]) throws -> [String: Double] {
        var r = float, q = int8
        r.graph.outputs += tensors.map { ValueInfo(name: $0, type: nil) }
        q.graph.outputs += tensors.map { ValueInfo(name: $0, type: nil) }
        let rs = try Session(model: r, options: SessionOptions(threads: 2)), qs = try Session(model: q, options: SessionOptions(threads: 2))
        var signal = [String: Double](), noise = [String: Double]()
        for feed in eval.batches() {
            let a = try rs.run(feed), b = try qs.run(feed)
            for name in tensors {
                let x: [Float] = a[name]!.scalars(), y: [Float] = b[name]!.scalars()
                var s = 0.0, n = 0.0
                for i in x.indices {
                    let e = Double(x[i]) - Double(y[i])
                    s += Double(x[i]) * Double(x[i]); n += e * e
                }
                signal[name, default: 0] += s
                noise[name, default: 0] += n
            }
        }
        var result: [String: Double] = [:]
        for name in tensors {
            result[name] = noise[name]! == 0 ? .infinity : 10 * log10(max(signal[name]!, .leastNonzeroMagnitude) / noise[name]!)
        }
        return result
    }

    func testLayerSQNREqualsCaptureForAnyBudget() throws {
        let (float, int8, eval, tensors) = try models()
        XCTAssertGreaterThanOrEqual(tensors.count, 4)
        let expected = try capturedSQNR(float, int8, eval, tensors)
        for budget in [0, 1000, LockstepComparison.defaultBudgetBytes] {
            let measured = try LayerSQNR.measure(float: float, quantized: int8, tensors: tensors, data: eval,
                                                 options: SessionOptions(threads: 2), budgetBytes: budget)
            XCTAssertEqual(measured, expected, "budget \(budget)")
        }
        XCTAssertTrue(expected.values.contains { $0.isFinite && $0 > 10 }, "the int8 model differs from the float one")
    }

    /// Every observed name is compared exactly once per run, with the reference's tensor first;
    /// the outputs are the sessions' own; with the same graph on both sides and a zero budget at
    /// most one copy (the largest tensor at most) is held at a time.
    func testPairsOutputsAndHeldBytes() throws {
        let (float, int8, eval, tensors) = try models()
        var options = SessionOptions(threads: 2)
        options.observedTensors = Set(tensors)
        let reference = try Session(model: float, options: options)
        let candidate = try Session(model: int8, options: options)
        let twin = try Session(model: float, options: options)
        let feed = try XCTUnwrap(eval.batches().first { _ in true })

        final class Seen: @unchecked Sendable {
            // @unchecked: guarded by `lock`.
            let lock = NSLock()
            var names: [String] = []
            var largest = 0
            var mismatched: [String] = []
        }
        let seen = Seen()
        let lockstep = LockstepComparison(budgetBytes: 0)
        let (r, c) = try lockstep.run(reference: reference, candidate: twin, feed: feed) { name, a, b in
            let equal = a.shape == b.shape && (a.scalars() as [Float]) == (b.scalars() as [Float])
            seen.lock.withLock {
                seen.names.append(name)
                seen.largest = max(seen.largest, a.byteCount)
                if !equal { seen.mismatched.append(name) }
            }
        }
        XCTAssertEqual(seen.names.sorted(), tensors.sorted())
        XCTAssertEqual(seen.mismatched, [])
        XCTAssertGreaterThan(lockstep.peakHeldBytes, 0)
        XCTAssertLessThanOrEqual(lockstep.peakHeldBytes, seen.largest)
        XCTAssertEqual(r.keys.sorted(), c.keys.sorted())

        // Against the int8 model: its outputs are exactly those of the same session run alone.
        // (Not those of a session observing nothing: observed values are kept out of fusions,
        // which can move an int8 output by a step.)
        let lockstep2 = LockstepComparison()
        let (_, q) = try lockstep2.run(reference: reference, candidate: candidate, feed: feed) { _, _, _ in }
        let expected = try candidate.run(feed)
        for (name, t) in expected {
            XCTAssertEqual(q[name].map { $0.scalars() as [Float] }, t.scalars() as [Float], name)
        }
    }

    /// An error thrown while comparing ends both runs and is rethrown; the sessions run again.
    func testErrorStopsBothRunsAndSessionsStayUsable() throws {
        let (float, int8, eval, tensors) = try models()
        var options = SessionOptions(threads: 2)
        options.observedTensors = Set(tensors)
        let reference = try Session(model: float, options: options)
        let candidate = try Session(model: int8, options: options)
        let feed = try XCTUnwrap(eval.batches().first { _ in true })
        let lockstep = LockstepComparison(budgetBytes: 0)
        let bad = tensors[tensors.count / 2]
        XCTAssertThrowsError(try lockstep.run(reference: reference, candidate: candidate, feed: feed) { name, _, _ in
            if name == bad { throw EdgeError.badInput("stop at \(name)") }
        }) { error in
            XCTAssertEqual("\(error)", "\(EdgeError.badInput("stop at \(bad)"))")
        }
        final class Count: @unchecked Sendable {
            // @unchecked: guarded by `lock`.
            let lock = NSLock()
            var n = 0
        }
        let count = Count()
        _ = try lockstep.run(reference: reference, candidate: candidate, feed: feed) { _, _, _ in count.lock.withLock { count.n += 1 } }
        XCTAssertEqual(count.n, tensors.count)
    }

    /// Two graphs that produce the observed names in opposite orders (x → Relu a, Neg b, Abs c,
    /// listed a, b, c in one and c, b, a in the other): with a zero budget both runs want to copy
    /// at once; one must go on over the budget instead of both waiting. Every pair is still
    /// compared once, with the right orientation.
    func testOppositeOrdersDoNotDeadlock() throws {
        func model(_ order: [Int]) -> Model {
            let ops = [("Relu", "a"), ("Neg", "b"), ("Abs", "c")]
            var nodes = order.map { Node(opType: ops[$0].0, inputs: ["x"], outputs: [ops[$0].1]) }
            nodes.append(Node(opType: "Sum", inputs: ["a", "b", "c"], outputs: ["y"]))
            let graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [4, 1000]))],
                              outputs: [ValueInfo(name: "y", type: nil)], nodes: nodes)
            return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
        }
        var options = SessionOptions(threads: 2)
        options.observedTensors = ["a", "b", "c"]
        let forward = try Session(model: model([0, 1, 2]), options: options)
        let backward = try Session(model: model([2, 1, 0]), options: options)
        final class Seen: @unchecked Sendable {
            // @unchecked: guarded by `lock`.
            let lock = NSLock()
            var pairs: [String: Int] = [:]
        }
        let x = Tensor(shape: [4, 1000], scalars: (0..<4000).map { Float($0 % 37) - 18 })
        func order(_ s: Session) throws -> [String] {
            var names: [String] = []
            _ = try s.run(["x": x]) { name, _ in names.append(name) }
            return names
        }
        XCTAssertEqual(try order(forward), ["a", "b", "c"])
        XCTAssertEqual(try order(backward), ["c", "b", "a"])
        for (reference, candidate) in [(forward, backward), (backward, forward)] {
            for _ in 0..<20 {
                let seen = Seen()
                let lockstep = LockstepComparison(budgetBytes: 0)
                let (r, c) = try lockstep.run(reference: reference, candidate: candidate, feed: ["x": x]) { name, a, b in
                    let equal = (a.scalars() as [Float]) == (b.scalars() as [Float])
                    seen.lock.withLock { seen.pairs[name, default: 0] += equal ? 1 : 100 }
                }
                XCTAssertEqual(seen.pairs, ["a": 1, "b": 1, "c": 1])
                XCTAssertEqual(r["y"].map { $0.scalars() as [Float] }, c["y"].map { $0.scalars() as [Float] })
                XCTAssertLessThanOrEqual(lockstep.peakHeldBytes, 3 * 16000)
            }
        }
    }
}
