import EdgeIR
@testable import EdgeRuntime
import XCTest

/// `SessionOptions.winograd`: on (the default), a stride-1 3×3 Conv over a 28×28 plane holds
/// Winograd-transformed weights, larger than the im2col packing it holds with the option off;
/// both compute the same convolution.
final class WinogradOptionTests: XCTestCase {
    func testWinogradOffHoldsOnlyTheIm2colPacking() throws {
        var g = SplitMix64(seed: 8)
        let (cin, cout) = (32, 48)
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, cin, 28, 28]))],
                          outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
        ])
        graph.initializers["w"] = Tensor(shape: [cout, cin, 3, 3], scalars: (0..<(cout * cin * 9)).map { _ in g.nextFloat() * 2 - 1 })
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
        let x = Tensor(shape: [1, cin, 28, 28], scalars: (0..<(cin * 784)).map { _ in g.nextFloat() * 2 - 1 })

        var off = SessionOptions(threads: 1)
        off.winograd = false
        let plain = try Session(model: model, options: off)
        let fast = try Session(model: model, options: SessionOptions(threads: 1))
        let a: [Float] = try plain.run(["x": x])["y"]!.scalars()
        let b: [Float] = try fast.run(["x": x])["y"]!.scalars()
        let scale = a.map { abs($0) }.max()!
        for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-5 * scale) }

        let weightBytes = cout * cin * 9 * 4
        // im2col packing: the weights with C_out rounded up to the tile height (< 2× here).
        XCTAssertGreaterThanOrEqual(plain.heldWeightBytes, weightBytes)
        XCTAssertLessThan(plain.heldWeightBytes, 2 * weightBytes)
        // F(4,3) on a 28×28 plane: 36 transformed matrices per 9 weights, and no float copy.
        XCTAssertGreaterThan(fast.heldWeightBytes, 3 * weightBytes)
        XCTAssertLessThan(fast.heldWeightBytes, 5 * weightBytes)
    }
}
