import EdgeIR
@testable import EdgeRuntime
import XCTest

/// `Session.run(_:observing:)`: the observer sees exactly what a graph-output capture of the same
/// values returns, observed values are not fused away, the outputs do not change, and observed
/// values are not kept alive in the arena the way graph outputs are.
final class SessionObserverTests: XCTestCase {
    /// x → Conv → c → Relu → r → Conv → d → BatchNormalization → n → Sigmoid → s, Mul(n, s) → y,
    /// plus a Constant k added to y (z = y + k). Fused, c/r and d/n/s/y would each be one step.
    func model() -> Model {
        var g = SplitMix64(seed: 7)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextFloat() * 2 - 1 })
        }
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [2, 3, 9, 9]))],
                          outputs: [ValueInfo(name: "z", type: nil)], nodes: [
            Node(opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(opType: "Relu", inputs: ["c"], outputs: ["r"]),
            Node(opType: "Conv", inputs: ["r", "w2"], outputs: ["d"], attributes: [Attribute("strides", .ints([2, 2]))]),
            Node(opType: "BatchNormalization", inputs: ["d", "gamma", "beta", "mean", "var"], outputs: ["n"]),
            Node(opType: "Sigmoid", inputs: ["n"], outputs: ["s"]),
            Node(opType: "Mul", inputs: ["n", "s"], outputs: ["y"]),
            Node(opType: "Constant", inputs: [], outputs: ["k"], attributes: [Attribute("value", .tensor(Tensor(shape: [1], scalars: [Float(0.25)])))]),
            Node(opType: "Add", inputs: ["y", "k"], outputs: ["z"]),
        ])
        graph.initializers["w1"] = random([8, 3, 3, 3])
        graph.initializers["b1"] = random([8])
        graph.initializers["w2"] = random([4, 8, 3, 3])
        graph.initializers["gamma"] = Tensor(shape: [4], scalars: [Float(1.5), 0.5, -1, 2])
        graph.initializers["beta"] = Tensor(shape: [4], scalars: [Float(0), 1, -1, 0.5])
        graph.initializers["mean"] = Tensor(shape: [4], scalars: [Float(0.2), -0.1, 0, 1])
        graph.initializers["var"] = Tensor(shape: [4], scalars: [Float(1), 0.5, 2, 0.25])
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
    }

    func feed(seed: UInt64) -> [String: Tensor] {
        var g = SplitMix64(seed: seed)
        return ["x": Tensor(shape: [2, 3, 9, 9], scalars: (0..<486).map { _ in g.nextFloat() * 4 - 2 })]
    }

    func bits(_ t: Tensor) -> [UInt32] { t.scalars(as: Float.self).map(\.bitPattern) }

    /// Runs `names` both ways on two batches (the second reuses the planned arena) and compares
    /// the values bit for bit; also the outputs against the same session run without an observer.
    func assertObservationMatchesCapture(_ names: Set<String>, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = model()
        var options = SessionOptions(threads: 2)
        options.observedTensors = names
        let observing = try Session(model: m, options: options)
        var captureModel = m
        captureModel.graph.outputs += names.sorted().map { ValueInfo(name: $0, type: nil) }
        let capture = try Session(model: captureModel, options: SessionOptions(threads: 2))
        for seed in [UInt64(1), 2, 3] {
            let feed = feed(seed: seed)
            var seen: [String: [UInt32]] = [:]
            let outputs = try observing.run(feed) { name, t in
                XCTAssertNil(seen[name], "\(name) reported once", file: file, line: line)
                seen[name] = bits(t)
            }
            let captured = try capture.run(feed)
            XCTAssertEqual(Set(seen.keys), names, file: file, line: line)
            for name in names {
                XCTAssertEqual(seen[name], captured[name].map(bits), "\(name), batch \(seed)", file: file, line: line)
            }
            XCTAssertEqual(outputs.keys.sorted(), ["z"], file: file, line: line)
            XCTAssertEqual(bits(outputs["z"]!), bits(captured["z"]!), file: file, line: line)
            XCTAssertEqual(bits(outputs["z"]!), bits(try observing.run(feed)["z"]!), file: file, line: line)
        }
    }

    func testObserverSeesWhatGraphOutputCaptureSees() throws {
        // c and d are fused away without observation (Conv+Relu, Conv+BN+SiLU); x is an input,
        // k a folded constant, z the graph output.
        try assertObservationMatchesCapture(["x", "c", "r", "d", "n", "s", "y", "k", "z"])
        try assertObservationMatchesCapture(["c"])
        try assertObservationMatchesCapture(["n"])
    }

    func testObservedValuesAreNotFusedAway() throws {
        let m = model()
        func steps(_ names: Set<String>) throws -> [String] {
            var options = SessionOptions(threads: 1)
            options.observedTensors = names
            return try Session(model: m, options: options).graph.steps.map(\.node.opType)
        }
        // Unobserved: Conv(+Relu), Conv(+BN+SiLU), Add.
        XCTAssertEqual(try steps([]), ["Conv", "Conv", "Add"])
        // c observed: the Relu stays a step of its own. n observed: BN still folds into the Conv
        // (n is then the Conv's output) but the SiLU does not.
        XCTAssertEqual(try steps(["c"]), ["Conv", "Relu", "Conv", "Add"])
        XCTAssertEqual(try steps(["n"]), ["Conv", "Conv", "Sigmoid", "Mul", "Add"])
        XCTAssertEqual(try steps(["d"]), ["Conv", "Conv", "BatchNormalization", "Sigmoid", "Mul", "Add"])
    }

    func testOutputsMatchTheUnfusedAndFusedSessions() throws {
        // Observing c splits Conv+Relu; max(x, 0) is exact, so z is bit-identical to the fused session's.
        let m = model()
        var options = SessionOptions(threads: 2)
        options.observedTensors = ["c", "r"]
        let observing = try Session(model: m, options: options)
        let plain = try Session(model: m, options: SessionOptions(threads: 2))
        for seed in [UInt64(4), 5] {
            let f = feed(seed: seed)
            var count = 0
            let a = try observing.run(f) { _, _ in count += 1 }
            XCTAssertEqual(count, 2)
            XCTAssertEqual(bits(a["z"]!), bits(try plain.run(f)["z"]!))
        }
    }

    func testObservedValuesAreNotHeldLikeGraphOutputs() throws {
        // A chain of eight 3×3 convs on 16×32×32: observing every activation needs the arena of a
        // plain run (two live activations), capturing them as graph outputs keeps all eight alive.
        var g = SplitMix64(seed: 3)
        var nodes: [Node] = []
        var graph = Graph(name: "chain", inputs: [ValueInfo(name: "a0", tensor: TensorType(.float, fixed: [1, 16, 32, 32]))],
                          outputs: [ValueInfo(name: "a8", type: nil)], nodes: [])
        for i in 0..<8 {
            nodes.append(Node(opType: "Conv", inputs: ["a\(i)", "w\(i)"], outputs: ["a\(i + 1)"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]))
            graph.initializers["w\(i)"] = Tensor(shape: [16, 16, 3, 3], scalars: (0..<2304).map { _ in (g.nextFloat() * 2 - 1) / 12 })
        }
        graph.nodes = nodes
        let m = Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
        let names = Set((1...7).map { "a\($0)" })
        var options = SessionOptions(threads: 1)
        options.observedTensors = names
        let observing = try Session(model: m, options: options)
        var captureModel = m
        captureModel.graph.outputs += names.sorted().map { ValueInfo(name: $0, type: nil) }
        let capture = try Session(model: captureModel, options: SessionOptions(threads: 1))
        let plain = try Session(model: m, options: SessionOptions(threads: 1))
        let f = ["a0": Tensor(shape: [1, 16, 32, 32], scalars: (0..<16384).map { _ in g.nextFloat() })]
        for _ in 0..<2 {
            var sums: [String: Double] = [:]
            _ = try observing.run(f) { name, t in sums[name] = t.scalars(as: Float.self).reduce(0) { $0 + Double($1) } }
            let captured = try capture.run(f)
            for name in names { XCTAssertEqual(sums[name], captured[name]!.scalars(as: Float.self).reduce(0) { $0 + Double($1) }) }
            _ = try plain.run(f)
        }
        let activation = 16 * 32 * 32 * 4
        XCTAssertEqual(observing.plannedArenaBytes, plain.plannedArenaBytes)
        XCTAssertGreaterThanOrEqual(capture.plannedArenaBytes, observing.plannedArenaBytes + 5 * activation)
    }

    /// x → Q → DQ → Conv(DQ(w)) → c → Q → DQ → y: a session runs the Conv as one integer
    /// QLinearConv unless c is observed, in which case c stays, as when it is a graph output.
    func testObservedValueSurvivesIntegerQDQLowering() throws {
        var g = Graph(name: "qdq_conv")
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 2, 3, 3]))]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        g.initializers["xs"] = .scalar(Float(0.05)); g.initializers["xz"] = .scalar(UInt8(128))
        g.initializers["wq"] = Tensor(shape: [2, 2, 1, 1], scalars: [Int8(3), -2, 7, 1])
        g.initializers["ws"] = Tensor(shape: [2], scalars: [Float(0.5), 0.25])
        g.initializers["wz"] = Tensor(shape: [2], scalars: [Int8(0), 0])
        g.initializers["ys"] = .scalar(Float(0.1)); g.initializers["yz"] = .scalar(UInt8(120))
        g.nodes = [
            Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"]),
            Node(name: "dqx", opType: "DequantizeLinear", inputs: ["xq", "xs", "xz"], outputs: ["xf"]),
            Node(name: "dqw", opType: "DequantizeLinear", inputs: ["wq", "ws", "wz"], outputs: ["wf"], attributes: [Attribute("axis", .int(0))]),
            Node(name: "conv", opType: "Conv", inputs: ["xf", "wf"], outputs: ["c"]),
            Node(name: "qy", opType: "QuantizeLinear", inputs: ["c", "ys", "yz"], outputs: ["yq"]),
            Node(name: "dqy", opType: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["y"]),
        ]
        let m = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        XCTAssertTrue(try Session(model: m, options: SessionOptions(threads: 1)).graph.steps.map(\.node.opType).contains("QLinearConv"))
        var options = SessionOptions(threads: 1)
        options.observedTensors = ["c", "xf"]
        let observing = try Session(model: m, options: options)
        XCTAssertEqual(observing.graph.steps.map(\.node.opType).filter { $0.hasPrefix("QLinear") || $0 == "Conv" }, ["Conv"])
        var captureModel = m
        captureModel.graph.outputs += [ValueInfo(name: "c", type: nil), ValueInfo(name: "xf", type: nil)]
        let capture = try Session(model: captureModel, options: SessionOptions(threads: 1))
        var r = SplitMix64(seed: 9)
        let feed = ["x": Tensor(shape: [1, 2, 3, 3], scalars: (0..<18).map { _ in r.nextFloat() * 6 - 3 })]
        var seen: [String: [UInt32]] = [:]
        let y = try observing.run(feed) { name, t in seen[name] = bits(t) }
        let captured = try capture.run(feed)
        XCTAssertEqual(seen["c"], bits(captured["c"]!))
        XCTAssertEqual(seen["xf"], bits(captured["xf"]!))
        XCTAssertEqual(bits(y["y"]!), bits(captured["y"]!))
        XCTAssertEqual(observing.outputNames, ["y"])
    }

    func testUnknownObservedNameIsRejected() {
        var options = SessionOptions(threads: 1)
        options.observedTensors = ["c", "nowhere"]
        XCTAssertThrowsError(try Session(model: model(), options: options)) { error in
            XCTAssertTrue("\(error)".contains("'nowhere'"), "\(error)")
        }
    }

    func testObserverErrorEndsTheRun() throws {
        var options = SessionOptions(threads: 1)
        options.observedTensors = ["r"]
        let session = try Session(model: model(), options: options)
        struct Stop: Error {}
        XCTAssertThrowsError(try session.run(feed(seed: 1)) { _, _ in throw Stop() }) { XCTAssertTrue($0 is Stop) }
        // The session stays usable.
        XCTAssertEqual(try session.run(feed(seed: 1))["z"]!.shape, [2, 4, 4, 4])
    }
}
