import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Compile-time fusion of a residual block's tail, Conv(+BN) → Add(·, skip) → Relu, into the
/// conv's epilogue: which Adds fuse (structure) and that every model gives the unfused result
/// (numbers), including the cases that must not fuse.
final class ResidualFusionTests: XCTestCase {
    let shape = [1, 8, 9, 9]

    func conv(_ x: String, _ w: String, _ y: String, pads: Int64 = 1) -> Node {
        Node(opType: "Conv", inputs: [x, w], outputs: [y], attributes: [Attribute("pads", .ints([pads, pads, pads, pads]))])
    }

    func bn(_ x: String, _ y: String) -> Node {
        Node(opType: "BatchNormalization", inputs: [x, "gamma", "beta", "mean", "var"], outputs: [y])
    }

    /// A model over input x [1, 8, 9, 9] (and `extraInputs`) with 3×3 weights w1, w2 and a 1×1 w3,
    /// all 8 → 8, and one BN's statistics.
    func model(_ nodes: [Node], outputs: [String], extraInputs: [ValueInfo] = []) -> Model {
        var g = SplitMix64(seed: 17)
        func floats(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in (g.nextFloat() * 2 - 1) * scale } }
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: shape))] + extraInputs,
                          outputs: outputs.map { ValueInfo(name: $0, type: nil) }, nodes: nodes)
        graph.initializers["w1"] = Tensor(shape: [8, 8, 3, 3], scalars: floats(576, 0.3))
        graph.initializers["w2"] = Tensor(shape: [8, 8, 3, 3], scalars: floats(576, 0.3))
        graph.initializers["w3"] = Tensor(shape: [8, 8, 1, 1], scalars: floats(64, 0.5))
        graph.initializers["gamma"] = Tensor(shape: [8], scalars: floats(8, 1).map { $0 + 1.2 })
        graph.initializers["beta"] = Tensor(shape: [8], scalars: floats(8, 0.5))
        graph.initializers["mean"] = Tensor(shape: [8], scalars: floats(8, 0.2))
        graph.initializers["var"] = Tensor(shape: [8], scalars: floats(8, 0.3).map { $0 + 0.5 })
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
    }

    /// Runs `m` fused and unfused (1 and 2 threads); returns the fused session's steps.
    @discardableResult
    func compare(_ m: Model, feeds extra: [String: Tensor] = [:], file: StaticString = #filePath, line: UInt = #line) throws -> [CompiledGraph.Step] {
        var g = SplitMix64(seed: 5)
        var feed = extra
        feed["x"] = Tensor(shape: shape, scalars: (0..<648).map { _ in g.nextFloat() * 4 - 2 })
        var plain = SessionOptions(threads: 1)
        plain.fuseKernels = false
        let want = try Session(model: m, options: plain).run(feed)
        var steps: [CompiledGraph.Step] = []
        for threads in [1, 2] {
            let fused = try Session(model: m, options: SessionOptions(threads: threads))
            steps = fused.graph.steps
            let got = try fused.run(feed)
            for (name, w) in want {
                let x = got[name]!.scalars(as: Float.self), y = w.scalars(as: Float.self)
                XCTAssertEqual(got[name]!.shape, w.shape, name, file: file, line: line)
                XCTAssertTrue(y.contains { $0 > 0.1 } && y.contains { $0 < -0.1 } || y.contains { $0 == 0 },
                              "\(name): the values exercise the activation", file: file, line: line)
                for (p, q) in zip(x, y) { XCTAssertEqual(p, q, accuracy: 1e-5 * max(1, abs(q)), "\(name) \(threads) threads", file: file, line: line) }
            }
        }
        return steps
    }

    func residualConvs(_ steps: [CompiledGraph.Step]) -> [ConvKernel] {
        steps.compactMap { $0.kernel as? ConvKernel }.filter(\.addsResidual)
    }

    func testBasicBlockTailIsOneStep() throws {
        // conv → BN → Relu → conv → BN → Add(·, x) → Relu: two steps, the second adds x and applies Relu.
        for order in [["n2", "x"], ["x", "n2"]] {
            let m = model([conv("x", "w1", "c1"), bn("c1", "n1"), Node(opType: "Relu", inputs: ["n1"], outputs: ["r1"]),
                           conv("r1", "w2", "c2"), bn("c2", "n2"), Node(opType: "Add", inputs: order, outputs: ["s"]),
                           Node(opType: "Relu", inputs: ["s"], outputs: ["y"])], outputs: ["y"])
            let steps = try compare(m)
            XCTAssertEqual(steps.count, 2)
            let fused = residualConvs(steps)
            XCTAssertEqual(fused.count, 1)
            XCTAssertEqual(fused.first?.activation, .relu)
            XCTAssertEqual(steps.last?.node.inputs.last, "x")
            XCTAssertEqual(steps.last?.node.outputs, ["y"])
        }
    }

    func testTwoInputSumIsAResidualAdd() throws {
        // The ONNX model zoo's ResNets write the skip as Sum(a, b).
        let m = model([conv("x", "w1", "c1"), bn("c1", "n1"), Node(opType: "Sum", inputs: ["n1", "x"], outputs: ["s"]),
                       Node(opType: "Relu", inputs: ["s"], outputs: ["y"])], outputs: ["y"])
        let steps = try compare(m)
        XCTAssertEqual(steps.count, 1)
        XCTAssertEqual(residualConvs(steps).first?.activation, .relu)
    }

    func testDownsampleBranchTakesTheAdd() throws {
        // Add(main, shortcut) with the shortcut's conv later in the schedule: the main branch's
        // output is ready when the shortcut conv runs, so the shortcut conv adds it. MobileNetV2
        // style (no activation after the Add) and a following SiLU.
        let m = model([conv("x", "w1", "c1"), bn("c1", "n1"), conv("x", "w3", "c3", pads: 0),
                       Node(opType: "Add", inputs: ["n1", "c3"], outputs: ["s"]),
                       Node(opType: "Sigmoid", inputs: ["s"], outputs: ["g"]), Node(opType: "Mul", inputs: ["s", "g"], outputs: ["y"])],
                      outputs: ["y"])
        let steps = try compare(m)
        XCTAssertEqual(steps.count, 2)
        XCTAssertEqual(residualConvs(steps).first?.activation, .silu)
        XCTAssertEqual(steps.last?.node.inputs.last, "n1")
    }

    func testNotFusedWhenTheSkipIsComputedAfterTheConv() throws {
        // Add(c1, t) with t = Neg(x) scheduled after the conv: t does not exist when the conv runs.
        let m = model([conv("x", "w1", "c1"), Node(opType: "Neg", inputs: ["x"], outputs: ["t"]),
                       Node(opType: "Add", inputs: ["c1", "t"], outputs: ["s"]), Node(opType: "Relu", inputs: ["s"], outputs: ["y"])],
                      outputs: ["y"])
        let steps = try compare(m)
        XCTAssertEqual(steps.map(\.node.opType), ["Conv", "Neg", "Add", "Relu"])
        XCTAssertTrue(residualConvs(steps).isEmpty)
    }

    func testNotFusedWhenTheConvOutputIsAGraphOutput() throws {
        let m = model([conv("x", "w1", "c1"), Node(opType: "Add", inputs: ["c1", "x"], outputs: ["s"]),
                       Node(opType: "Relu", inputs: ["s"], outputs: ["y"])], outputs: ["y", "c1"])
        let steps = try compare(m)
        XCTAssertEqual(steps.map(\.node.opType), ["Conv", "Add", "Relu"])
        XCTAssertTrue(residualConvs(steps).isEmpty)
    }

    func testBroadcastAdd() throws {
        var g = SplitMix64(seed: 9)
        let b = Tensor(shape: [1, 8, 1, 1], scalars: (0..<8).map { _ in g.nextFloat() * 2 - 1 })
        let nodes = [conv("x", "w1", "c1"), Node(opType: "Add", inputs: ["c1", "b"], outputs: ["s"]),
                     Node(opType: "Relu", inputs: ["s"], outputs: ["y"])]
        // Declared [1, 8, 1, 1] against the conv output's [1, 8, 9, 9]: not fused.
        let declared = model(nodes, outputs: ["y"], extraInputs: [ValueInfo(name: "b", tensor: TensorType(.float, fixed: [1, 8, 1, 1]))])
        var withConvShape = declared
        withConvShape.graph.valueInfo = [ValueInfo(name: "c1", tensor: TensorType(.float, fixed: shape))]
        let steps = try compare(withConvShape, feeds: ["b": b])
        XCTAssertEqual(steps.map(\.node.opType), ["Conv", "Add", "Relu"])
        // Shapes not declared: fused at compile time; the run sees the other shape and adds with
        // broadcasting outside the epilogue, giving the same numbers.
        let undeclared = model(nodes, outputs: ["y"], extraInputs: [ValueInfo(name: "b", type: nil)])
        let fusedSteps = try compare(undeclared, feeds: ["b": b])
        XCTAssertEqual(residualConvs(fusedSteps).count, 1)
    }
}
