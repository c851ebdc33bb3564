import EdgeIR
@testable import EdgeRuntime
import XCTest

/// Compile-time fusion of x·sigmoid(x) (SiLU as exporters write it: Sigmoid and Mul both reading
/// x) into the producing Conv's epilogue, after a folded BatchNormalization.
final class SiLUFusionTests: XCTestCase {
    func model(mulInputs: [String], extraReader: Bool) -> Model {
        var g = SplitMix64(seed: 21)
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 3, 7, 7]))],
                          outputs: [ValueInfo(name: "y", type: nil)] + (extraReader ? [ValueInfo(name: "z", type: nil)] : []), nodes: [
            Node(opType: "Conv", inputs: ["x", "w"], outputs: ["c"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(opType: "BatchNormalization", inputs: ["c", "gamma", "beta", "mean", "var"], outputs: ["n"]),
            Node(opType: "Sigmoid", inputs: ["n"], outputs: ["s"]),
            Node(opType: "Mul", inputs: mulInputs, outputs: ["y"]),
        ] + (extraReader ? [Node(opType: "Neg", inputs: ["n"], outputs: ["z"])] : []))
        graph.initializers["w"] = Tensor(shape: [4, 3, 3, 3], scalars: (0..<108).map { _ in g.nextFloat() * 2 - 1 })
        graph.initializers["gamma"] = Tensor(shape: [4], scalars: [Float(1.5), 0.5, -1, 2])
        graph.initializers["beta"] = Tensor(shape: [4], scalars: [Float(0), 1, -1, 0.5])
        graph.initializers["mean"] = Tensor(shape: [4], scalars: [Float(0.2), -0.1, 0, 1])
        graph.initializers["var"] = Tensor(shape: [4], scalars: [Float(1), 0.5, 2, 0.25])
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
    }

    func compare(_ m: Model, expectedSteps: Int) throws {
        var plain = SessionOptions(threads: 1)
        plain.fuseKernels = false
        let fused = try Session(model: m, options: SessionOptions(threads: 1))
        XCTAssertEqual(fused.graph.steps.count, expectedSteps)
        var g = SplitMix64(seed: 5)
        let feed = ["x": Tensor(shape: [1, 3, 7, 7], scalars: (0..<147).map { _ in g.nextFloat() * 4 - 2 })]
        let a = try fused.run(feed), b = try Session(model: m, options: plain).run(feed)
        for name in a.keys {
            let x = a[name]!.scalars(as: Float.self), y = b[name]!.scalars(as: Float.self)
            XCTAssertTrue(y.contains { $0 < -0.05 }, "SiLU's negative lobe is exercised")
            for (p, q) in zip(x, y) { XCTAssertEqual(p, q, accuracy: 1e-5 * max(1, abs(q))) }
        }
    }

    func testConvBatchNormSiLURunsAsOneStep() throws {
        try compare(model(mulInputs: ["n", "s"], extraReader: false), expectedSteps: 1)
        try compare(model(mulInputs: ["s", "n"], extraReader: false), expectedSteps: 1)
    }

    func testNotFusedWhenTheConvOutputHasAnotherReader() throws {
        // n is read by Sigmoid, Mul and Neg: the SiLU cannot take n's place.
        try compare(model(mulInputs: ["n", "s"], extraReader: true), expectedSteps: 4)
    }
}
