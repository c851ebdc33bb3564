import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Compile-time fusion of Gemm → Add(·, skip) (→ activation), a residual MLP block's tail, and
/// `ai.edgeopt::FusedGemm` with a fourth input Z: every model gives the unfused session's result
/// exactly (the same float operations in the same order; Relu and Clip, whose epilogue and
/// operator results are bit-equal), at 1 and 2 threads.
final class GemmResidualFusionTests: XCTestCase {
    /// x [m, k] → Gemm(W [n, k], transB = 1, optional C [n]) → g → Add → s (→ tail) → outputs.
    func model(m: Int, k: Int, n: Int, bias: Bool, skip: ValueInfo, tail: [Node], outputs: [String]) -> Model {
        var g = SplitMix64(seed: 31)
        func floats(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in (g.nextFloat() * 2 - 1) * scale } }
        let gemm = Node(opType: "Gemm", inputs: bias ? ["x", "w", "c"] : ["x", "w"], outputs: ["g"],
                        attributes: [Attribute("transB", .int(1))])
        var graph = Graph(name: "mlp", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [m, k])), skip],
                          outputs: outputs.map { ValueInfo(name: $0, type: nil) },
                          nodes: [gemm, Node(opType: "Add", inputs: ["g", "skip"], outputs: ["s"])] + tail)
        graph.initializers["w"] = Tensor(shape: [n, k], scalars: floats(n * k, 0.3))
        if bias { graph.initializers["c"] = Tensor(shape: [n], scalars: floats(n, 0.5)) }
        return Model(opsetImports: [OpsetImport(domain: "", version: 17), OpsetImport(domain: "ai.edgeopt", version: 1)],
                     graph: graph)
    }

    /// Runs `model` unfused (the reference) and fused at 1 and 2 threads; returns the fused steps.
    @discardableResult
    func compare(_ model: Model, x: [Int], skip: [Int], file: StaticString = #filePath, line: UInt = #line) throws -> [CompiledGraph.Step] {
        var g = SplitMix64(seed: 9)
        func tensor(_ shape: [Int]) -> Tensor { Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextFloat() * 4 - 2 }) }
        let feed = ["x": tensor(x), "skip": tensor(skip)]
        var plain = SessionOptions(threads: 1)
        plain.fuseKernels = false
        let want = try Session(model: model, options: plain).run(feed)
        var steps: [CompiledGraph.Step] = []
        for threads in [1, 2] {
            let fused = try Session(model: model, options: SessionOptions(threads: threads))
            steps = fused.graph.steps
            let got = try fused.run(feed)
            for (name, w) in want {
                XCTAssertEqual(got[name]?.shape, w.shape, name, file: file, line: line)
                let y = w.scalars(as: Float.self)
                XCTAssertTrue(y.contains { $0 < 0 } || y.contains { $0 == 0 }, "\(name): the activation matters", file: file, line: line)
                XCTAssertEqual(got[name]?.scalars(as: Float.self), y, "\(name), \(threads) threads", file: file, line: line)
            }
        }
        return steps
    }

    func residualGemms(_ steps: [CompiledGraph.Step]) -> [GemmKernel] {
        steps.compactMap { $0.kernel as? GemmKernel }.filter(\.addsResidual)
    }

    func testGemmAddReluIsOneStep() throws {
        // 64 × 1024 outputs: the residual pass splits across threads (chunks of ≥ 16 K floats).
        for (m, n, bias) in [(6, 8, true), (6, 8, false), (64, 1024, true)] {
            let skip = ValueInfo(name: "skip", tensor: TensorType(.float, fixed: [m, n]))
            let model = model(m: m, k: 10, n: n, bias: bias, skip: skip,
                              tail: [Node(opType: "Relu", inputs: ["s"], outputs: ["y"])], outputs: ["y"])
            let steps = try compare(model, x: [m, 10], skip: [m, n])
            XCTAssertEqual(steps.count, 1)
            XCTAssertEqual(residualGemms(steps).first?.activation, .relu)
            XCTAssertEqual(steps.first?.node.inputs.last, "skip")
        }
    }

    func testSkipThatBroadcastsTakesTheSeparatePath() throws {
        // The Gemm's output has no declared type, so the Add fuses; at run time z is [1, n] and the
        // Gemm adds it as the Add would have, with broadcasting.
        let model = model(m: 6, k: 10, n: 8, bias: true, skip: ValueInfo(name: "skip", type: nil),
                          tail: [Node(opType: "Relu", inputs: ["s"], outputs: ["y"])], outputs: ["y"])
        let steps = try compare(model, x: [6, 10], skip: [1, 8])
        XCTAssertEqual(residualGemms(steps).count, 1)
    }

    func testFusedGemmNodeWithResidualInput() throws {
        // What `fuse-activations` writes: ai.edgeopt::FusedGemm(x, w, c, skip, activation = "Clip").
        var model = model(m: 5, k: 10, n: 8, bias: true, skip: ValueInfo(name: "skip", tensor: TensorType(.float, fixed: [5, 8])),
                          tail: [Node(opType: "Clip", inputs: ["s", "lo", "hi"], outputs: ["y"])], outputs: ["y"])
        model.graph.initializers["lo"] = Tensor.scalar(Float(-0.5))
        model.graph.initializers["hi"] = Tensor.scalar(Float(0.75))
        var fusedModel = model
        fusedModel.graph.nodes = [Node(opType: "FusedGemm", domain: "ai.edgeopt", inputs: ["x", "w", "c", "skip"], outputs: ["y"],
                                       attributes: [Attribute("transB", .int(1)), Attribute("activation", .string(Array("Clip".utf8))),
                                                    Attribute("activation_params", .floats([-0.5, 0.75]))])]
        var g = SplitMix64(seed: 4)
        let feed = ["x": Tensor(shape: [5, 10], scalars: (0..<50).map { _ in g.nextFloat() * 4 - 2 }),
                    "skip": Tensor(shape: [5, 8], scalars: (0..<40).map { _ in g.nextFloat() * 2 - 1 })]
        var plain = SessionOptions(threads: 1)
        plain.fuseKernels = false
        let want = try Session(model: model, options: plain).run(feed)["y"]!.scalars(as: Float.self)
        let got = try Session(model: fusedModel, options: SessionOptions(threads: 2)).run(feed)["y"]!.scalars(as: Float.self)
        XCTAssertTrue(want.contains(-0.5) && want.contains(0.75), "both clip bounds are hit")
        XCTAssertEqual(got, want)
    }
}
