import EdgeIR
@testable import EdgeKernels
@testable import EdgeRuntime
import XCTest

/// `SessionOptions.winograd`: on (the default), stride-1 3×3 Convs run Winograd with U = G g Gᵀ
/// transformed per run, so a session holds exactly the bytes it holds with the option off (the
/// im2col packing of each Conv, C_out rounded up to the micro-kernel's MR rows, plus biases);
/// both compute the same network.
final class WinogradOptionTests: XCTestCase {
    func testWinogradHoldsTheIm2colPackingOnly() throws {
        var g = SplitMix64(seed: 8)
        // 28×28 F(4,3) → stride 2 (im2col) → stride 2 with bias (im2col) → 7×7 F(2,3) with bias.
        let layers: [(cin: Int, cout: Int, stride: Int, bias: Bool)] = [(32, 48, 1, false), (48, 29, 2, false), (29, 64, 2, true), (64, 33, 1, true)]
        var nodes: [Node] = []
        var initializers: [(String, Tensor)] = []
        var previous = "x"
        for (k, layer) in layers.enumerated() {
            let w = "w\(k)", b = "b\(k)", y = k == layers.count - 1 ? "y" : "h\(k)"
            initializers.append((w, Tensor(shape: [layer.cout, layer.cin, 3, 3],
                                     scalars: (0..<(layer.cout * layer.cin * 9)).map { _ in g.nextFloat() * 2 - 1 })))
            if layer.bias { initializers.append((b, Tensor(shape: [layer.cout], scalars: (0..<layer.cout).map { _ in g.nextFloat() }))) }
            nodes.append(Node(opType: "Conv", inputs: [previous, w] + (layer.bias ? [b] : []), outputs: [y],
                              attributes: [Attribute("pads", .ints([1, 1, 1, 1])),
                                           Attribute("strides", .ints([Int64(layer.stride), Int64(layer.stride)]))]))
            previous = y
        }
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [1, 32, 28, 28]))],
                          outputs: [ValueInfo(name: "y", type: nil)], nodes: nodes)
        for (name, tensor) in initializers { graph.initializers[name] = tensor }
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)
        let x = Tensor(shape: [1, 32, 28, 28], scalars: (0..<(32 * 784)).map { _ in g.nextFloat() * 2 - 1 })

        var off = SessionOptions(threads: 1)
        off.winograd = false
        let plain = try Session(model: model, options: off)
        let fast = try Session(model: model, options: SessionOptions(threads: 2))
        let a: [Float] = try plain.run(["x": x])["y"]!.scalars()
        let b: [Float] = try fast.run(["x": x])["y"]!.scalars()
        let scale = a.map { abs($0) }.max()!
        for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-5 * scale) }

        let mr = KernelSet.forISA(nil).mr
        let expected = layers.reduce(0) { sum, l in
            sum + (l.cout + mr - 1) / mr * mr * 9 * l.cin * 4 + (l.bias ? l.cout * 4 : 0)
        }
        XCTAssertEqual(plain.heldWeightBytes, expected)
        XCTAssertEqual(fast.heldWeightBytes, expected)
    }
}
