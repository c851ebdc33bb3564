import EdgeIR
@testable import EdgeRuntime
import Foundation
import XCTest

/// Session behaviour on hand-built graphs: validation before running, feed checks, IEEE special
/// values, arena reuse, control flow, FP16 mode.
final class SessionTests: XCTestCase {
    func model(_ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [String: Tensor] = [:], opset: Int64 = 17) -> Model {
        var graph = Graph(name: "g", inputs: inputs, outputs: outputs.map { ValueInfo(name: $0, type: nil) }, nodes: nodes)
        for (k, v) in initializers.sorted(by: { $0.key < $1.key }) { graph.initializers[k] = v }
        return Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: graph)
    }

    func floatInput(_ name: String, _ dims: [Dim]) -> ValueInfo { ValueInfo(name: name, tensor: TensorType(.float, dims)) }

    func testUnsupportedOperatorIsReportedWithNodeAndOpTypeBeforeRunning() {
        let m = model([Node(name: "first", opType: "Relu", inputs: ["x"], outputs: ["y"]),
                       Node(name: "mystery", opType: "FrobnicateTensor", inputs: ["y"], outputs: ["z"])],
                      inputs: [floatInput("x", [.fixed(2)])], outputs: ["z"])
        XCTAssertThrowsError(try Session(model: m)) { error in
            let e = error as! EdgeError
            XCTAssertEqual(e.kind, .unsupported)
            XCTAssertEqual(e.exitStatus, .badInput)
            XCTAssertTrue(e.message.contains("mystery") && e.message.contains("FrobnicateTensor"), e.message)
        }
    }

    func testUnsupportedOperatorInsideIfBranchIsFound() {
        let branch = Graph(name: "b", outputs: [ValueInfo(name: "o", type: nil)],
                           nodes: [Node(name: "deep", opType: "NotAnOp", inputs: ["x"], outputs: ["o"])])
        let m = model([Node(name: "if", opType: "If", inputs: ["c"], outputs: ["y"],
                            attributes: [Attribute("then_branch", .graph(branch)), Attribute("else_branch", .graph(branch))])],
                      inputs: [ValueInfo(name: "c", tensor: TensorType(.bool, fixed: [])), floatInput("x", [.fixed(1)])], outputs: ["y"])
        XCTAssertThrowsError(try Session(model: m)) { error in
            XCTAssertTrue((error as! EdgeError).message.contains("deep"), "\(error)")
        }
    }

    func testWrongFeedDtypeRankAndFixedDimAreBadInputNamingTheInput() throws {
        let m = model([Node(opType: "Relu", inputs: ["image"], outputs: ["y"])],
                      inputs: [floatInput("image", [.symbolic("batch"), .fixed(3)])], outputs: ["y"])
        let s = try Session(model: m)
        let cases: [(Tensor, String)] = [
            (Tensor(shape: [1, 3], scalars: [Int32(1), 2, 3]), "float32"),
            (Tensor(shape: [3], scalars: [Float(1), 2, 3]), "rank"),
            (Tensor(shape: [1, 4], scalars: [Float(1), 2, 3, 4]), "dimension 1"),
        ]
        for (feed, words) in cases {
            XCTAssertThrowsError(try s.run(["image": feed])) { error in
                let e = error as! EdgeError
                XCTAssertEqual(e.kind, .badInput)
                XCTAssertTrue(e.message.contains("'image'") && e.message.contains(words), e.message)
            }
        }
        XCTAssertThrowsError(try s.run([:]))
        XCTAssertThrowsError(try s.run(["image": Tensor(shape: [2, 3], scalars: [Float](repeating: 0, count: 6)), "other": .scalar(Float(1))]))
        // A symbolic dimension takes any size.
        let y = try s.run(["image": Tensor(shape: [2, 3], scalars: [Float(-1), 2, -3, 4, -5, 6])])["y"]!
        XCTAssertEqual(y.scalars(as: Float.self), [0, 2, 0, 4, 0, 6])
    }

    func testNaNAndInfinityPropagateAsIEEESays() throws {
        let m = model([Node(opType: "Relu", inputs: ["x"], outputs: ["r"]),
                       Node(opType: "Add", inputs: ["r", "x"], outputs: ["a"]),
                       Node(opType: "Exp", inputs: ["x"], outputs: ["e"]),
                       Node(opType: "Max", inputs: ["x", "zero"], outputs: ["m"])],
                      inputs: [floatInput("x", [.fixed(4)])], outputs: ["r", "a", "e", "m"],
                      initializers: ["zero": Tensor(shape: [1], scalars: [Float(0)])])
        let out = try Session(model: m).run(["x": Tensor(shape: [4], scalars: [Float.nan, .infinity, -.infinity, 1])])
        let r = out["r"]!.scalars(as: Float.self), a = out["a"]!.scalars(as: Float.self)
        let e = out["e"]!.scalars(as: Float.self), mx = out["m"]!.scalars(as: Float.self)
        XCTAssertTrue(r[0].isNaN); XCTAssertEqual(r[1], .infinity); XCTAssertEqual(r[2], 0); XCTAssertEqual(r[3], 1)
        XCTAssertTrue(a[0].isNaN); XCTAssertEqual(a[1], .infinity); XCTAssertEqual(a[2], -.infinity); XCTAssertEqual(a[3], 2)
        XCTAssertTrue(e[0].isNaN); XCTAssertEqual(e[1], .infinity); XCTAssertEqual(e[2], 0)
        XCTAssertTrue(mx[0].isNaN); XCTAssertEqual(mx[2], 0)
    }

    func testArenaIsReusedAndReturnedOutputsStayValid() throws {
        // y = relu(x·2 + 1) with intermediate buffers the arena recycles.
        let m = model([Node(opType: "Mul", inputs: ["x", "two"], outputs: ["t"]),
                       Node(opType: "Add", inputs: ["t", "one"], outputs: ["u"]),
                       Node(opType: "Relu", inputs: ["u"], outputs: ["v"]),
                       Node(opType: "Reshape", inputs: ["v", "shape"], outputs: ["y"])],
                      inputs: [floatInput("x", [.symbolic("n")])], outputs: ["y"],
                      initializers: ["two": .scalar(Float(2)), "one": .scalar(Float(1)), "shape": Tensor(shape: [1], scalars: [Int64(-1)])])
        let s = try Session(model: m)
        let first = try s.run(["x": Tensor(shape: [3], scalars: [Float(1), -5, 3])])["y"]!
        XCTAssertEqual(s.plannedArenaBytes > 0, true)
        let second = try s.run(["x": Tensor(shape: [3], scalars: [Float(10), 20, 30])])["y"]!
        let third = try s.run(["x": Tensor(shape: [5], scalars: [Float(0), 1, 2, 3, -4])])["y"]!
        XCTAssertEqual(first.scalars(as: Float.self), [3, 0, 7], "an earlier result must not change when the arena is reused")
        XCTAssertEqual(second.scalars(as: Float.self), [21, 41, 61])
        XCTAssertEqual(third.scalars(as: Float.self), [1, 3, 5, 7, 0])
    }

    func testLoopAccumulatesAndScans() throws {
        // body: i, cond, acc → cond, acc + i, scan acc + i
        let body = Graph(name: "body",
                         inputs: [ValueInfo(name: "i", tensor: TensorType(.int64, fixed: [])), ValueInfo(name: "c", tensor: TensorType(.bool, fixed: [])),
                                  ValueInfo(name: "acc", tensor: TensorType(.int64, fixed: []))],
                         outputs: [ValueInfo(name: "c", type: nil), ValueInfo(name: "next", type: nil), ValueInfo(name: "scan", type: nil)],
                         nodes: [Node(opType: "Add", inputs: ["acc", "i"], outputs: ["next"]),
                                 Node(opType: "Identity", inputs: ["next"], outputs: ["scan"])])
        let m = model([Node(opType: "Loop", inputs: ["trips", "", "start"], outputs: ["final", "all"],
                            attributes: [Attribute("body", .graph(body))])],
                      inputs: [ValueInfo(name: "trips", tensor: TensorType(.int64, fixed: [])), ValueInfo(name: "start", tensor: TensorType(.int64, fixed: []))],
                      outputs: ["final", "all"])
        let out = try Session(model: m).run(["trips": .scalar(Int64(4)), "start": .scalar(Int64(10))])
        XCTAssertEqual(out["final"]!.scalars(as: Int64.self), [16])
        XCTAssertEqual(out["all"]!.shape, [4])
        XCTAssertEqual(out["all"]!.scalars(as: Int64.self), [10, 11, 13, 16])
    }

    func testFP16ModeRoundsFloatActivationsThroughHalf() throws {
        let m = model([Node(opType: "Add", inputs: ["x", "w"], outputs: ["y"])], inputs: [floatInput("x", [.fixed(1)])], outputs: ["y"],
                      initializers: ["w": Tensor(shape: [1], scalars: [Float(0.1)])])
        let x = Tensor(shape: [1], scalars: [Float(1)])
        let exact = try Session(model: m).run(["x": x])["y"]!.scalars(as: Float.self)[0]
        let half = try Session(model: m, options: SessionOptions(fp16: true)).run(["x": x])["y"]!.scalars(as: Float.self)[0]
        XCTAssertEqual(exact, Float(1) + Float(0.1))
        XCTAssertEqual(half, Float(Float16(Float(1) + Float(Float16(0.1)))))
        XCTAssertNotEqual(exact, half)
    }

    func testConvMatchesDirectReferenceLoop() throws {
        // 1×2×5×5 input, 3×2×3×3 weights, stride 2, pads 1, with bias: compare with a naive loop.
        var g = SplitMix(seed: 7)
        let x = (0..<50).map { _ in g.float() }, w = (0..<54).map { _ in g.float() }, b: [Float] = [0.5, -1, 2]
        let m = model([Node(opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                            attributes: [Attribute("strides", .ints([2, 2])), Attribute("pads", .ints([1, 1, 1, 1]))])],
                      inputs: [floatInput("x", [.fixed(1), .fixed(2), .fixed(5), .fixed(5)])], outputs: ["y"],
                      initializers: ["w": Tensor(shape: [3, 2, 3, 3], scalars: w), "b": Tensor(shape: [3], scalars: b)])
        for threads in [1, 2] {
            let y = try Session(model: m, options: SessionOptions(threads: threads)).run(["x": Tensor(shape: [1, 2, 5, 5], scalars: x)])["y"]!
            XCTAssertEqual(y.shape, [1, 3, 3, 3])
            let got = y.scalars(as: Float.self)
            for oc in 0..<3 { for oh in 0..<3 { for ow in 0..<3 {
                var s = Double(b[oc])
                for ic in 0..<2 { for kh in 0..<3 { for kw in 0..<3 {
                    let ih = oh * 2 - 1 + kh, iw = ow * 2 - 1 + kw
                    if ih >= 0 && ih < 5 && iw >= 0 && iw < 5 { s += Double(x[(ic * 5 + ih) * 5 + iw]) * Double(w[((oc * 2 + ic) * 3 + kh) * 3 + kw]) }
                } } }
                XCTAssertEqual(Double(got[(oc * 3 + oh) * 3 + ow]), s, accuracy: 1e-5)
            } } }
        }
    }
}

extension SessionTests {
    func testConvBatchNormReluFusionMatchesUnfusedExecution() throws {
        var g = SplitMix(seed: 11)
        let x = (0..<(2 * 3 * 6 * 6)).map { _ in g.float() }
        let w = (0..<(4 * 3 * 3 * 3)).map { _ in g.float() }
        let stats: [String: Tensor] = [
            "w": Tensor(shape: [4, 3, 3, 3], scalars: w), "b": Tensor(shape: [4], scalars: [Float(0.1), -0.2, 0.3, 0]),
            "gamma": Tensor(shape: [4], scalars: [Float(1.5), 0.5, -1, 2]), "beta": Tensor(shape: [4], scalars: [Float(0), 1, -1, 0.5]),
            "mean": Tensor(shape: [4], scalars: [Float(0.2), -0.1, 0, 1]), "var": Tensor(shape: [4], scalars: [Float(1), 0.5, 2, 0.25]),
        ]
        let m = model([Node(opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
                       Node(opType: "BatchNormalization", inputs: ["c", "gamma", "beta", "mean", "var"], outputs: ["n"]),
                       Node(opType: "Relu", inputs: ["n"], outputs: ["y"])],
                      inputs: [floatInput("x", [.fixed(2), .fixed(3), .fixed(6), .fixed(6)])], outputs: ["y"], initializers: stats)
        var plain = SessionOptions(threads: 1)
        plain.fuseKernels = false
        let fusedSession = try Session(model: m, options: SessionOptions(threads: 1))
        XCTAssertEqual(fusedSession.graph.steps.count, 1, "Conv, BN and Relu should run as one step")
        let feed = ["x": Tensor(shape: [2, 3, 6, 6], scalars: x)]
        let fused = try fusedSession.run(feed)["y"]!.scalars(as: Float.self)
        let reference = try Session(model: m, options: plain).run(feed)["y"]!.scalars(as: Float.self)
        XCTAssertEqual(fused.count, reference.count)
        XCTAssertTrue(reference.contains { $0 == 0 } && reference.contains { $0 > 0 })
        for (a, b) in zip(fused, reference) { XCTAssertEqual(a, b, accuracy: 1e-5 * Swift.max(1, Swift.abs(b))) }
    }
}

/// Deterministic test data: uniform in [−1, 1).
typealias SplitMix = SplitMix64
extension SplitMix64 {
    mutating func float() -> Float { nextFloat() * 2 - 1 }
}
