import EdgeIR
@testable import EdgeRuntime
import XCTest

/// ReduceMean over trailing axes (the in-place float path) against sums written out here.
final class ReduceTrailingAxesTests: XCTestCase {
    func run(_ op: String, axes: [Int64], keepdims: Int64, x: Tensor) throws -> Tensor {
        let graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: x.shape))],
                          outputs: [ValueInfo(name: "y", type: nil)],
                          nodes: [Node(opType: op, inputs: ["x"], outputs: ["y"], attributes: [Attribute("axes", .ints(axes)), Attribute("keepdims", .int(keepdims))])])
        return try Session(model: Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph), options: SessionOptions(threads: 2)).run(["x": x])["y"]!
    }

    func testMeanAndSumOverSpatialAxes() throws {
        var g = SplitMix64(seed: 3)
        let shape = [2, 3, 7, 5]  // 35 per block: exercises the 4-wide loop and its remainder
        let values = (0..<210).map { _ in g.nextFloat() * 2 - 1 }
        let x = Tensor(shape: shape, scalars: values)
        var sums = [Double](repeating: 0, count: 6)
        for (k, v) in values.enumerated() { sums[k / 35] += Double(v) }
        let mean = try run("ReduceMean", axes: [-1, 2], keepdims: 1, x: x)
        XCTAssertEqual(mean.shape, [2, 3, 1, 1])
        for (a, b) in zip(mean.scalars(as: Float.self), sums) { XCTAssertEqual(Double(a), b / 35, accuracy: 1e-6) }
        // keepdims 0 over the last three axes: one block of 105 per batch item.
        let perItem = try run("ReduceMean", axes: [1, 2, 3], keepdims: 0, x: x)
        XCTAssertEqual(perItem.shape, [2])
        for (k, a) in perItem.scalars(as: Float.self).enumerated() {
            XCTAssertEqual(Double(a), sums[(3 * k)..<(3 * k + 3)].reduce(0, +) / 105, accuracy: 1e-6)
        }
    }
}
