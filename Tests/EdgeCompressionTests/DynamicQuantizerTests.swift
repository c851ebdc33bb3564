import EdgeIR
import EdgeRuntime
import XCTest
@testable import EdgeCompression

final class DynamicQuantizerTests: XCTestCase {
    /// MatMul (3-D input) and Gemm (transB, alpha, beta, bias) rewritten into
    /// DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add): every output lies within the
    /// rounding bound of the float result,
    ///     |y − ŷ| ≤ Σ_k (|x_k|·s_w[n]/2 + |w_kn|·s_x + s_x·s_w[n]/2) · |alpha|
    /// (W rounds to half a step, X to at most one step — the uint8 grid's ends may clip by one), and
    /// the relative error is at the level 8-bit rounding gives (≈ 1e-2), not zero.
    func testDynamicMatMulAndGemmStayWithinTheRoundingBound() throws {
        var rng = SeededNormal(seed: 11)
        let (b, t, k, n) = (2, 3, 40, 16)
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [b, t, k]))]
        let w = rng.array(k * n, scale: 0.3), w2 = rng.array(n * k), c = rng.array(n)
        g.initializers["w"] = Tensor(shape: [k, n], scalars: w)
        g.initializers["w2"] = Tensor(shape: [n, k], scalars: w2)  // transB: [N, K]
        g.initializers["c"] = Tensor(shape: [n], scalars: c)
        g.initializers["shape"] = Tensor(shape: [2], scalars: [Int64(b * t), Int64(k)])
        g.nodes = [
            Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y1"]),
            Node(name: "flat", opType: "Reshape", inputs: ["x", "shape"], outputs: ["x2"]),
            Node(name: "gemm", opType: "Gemm", inputs: ["x2", "w2", "c"], outputs: ["y2"],
                 attributes: [Attribute("transB", .int(1)), Attribute("alpha", .float(0.5)), Attribute("beta", .float(2))]),
        ]
        g.outputs = [ValueInfo(name: "y1", type: nil), ValueInfo(name: "y2", type: nil)]
        let model = Model(irVersion: 7, opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        let (q, summary) = try DynamicQuantizer.quantize(model, options: DynamicQuantizationOptions())
        XCTAssertEqual(summary.quantizedNodes, ["mm", "gemm"])
        XCTAssertEqual(q.graph.nodes.filter { $0.opType == "MatMulInteger" }.count, 2)
        XCTAssertEqual(q.graph.nodes.filter { $0.opType == "DynamicQuantizeLinear" }.count, 2)
        XCTAssertFalse(q.graph.nodes.contains { $0.opType == "MatMul" || $0.opType == "Gemm" })
        XCTAssertTrue(q.graph.initializers.values.contains { $0.dtype == .int8 && $0.shape == [k, n] })

        let xv = rng.array(b * t * k, scale: 2)
        let feed = ["x": Tensor(shape: [b, t, k], scalars: xv)]
        let float = try Session(model: model).run(feed), quantized = try Session(model: q).run(feed)
        let sx = (max(xv.max()!, 0) - min(xv.min()!, 0)) / 255
        func check(_ name: String, weight: (Int, Int) -> Float, alpha: Float) {
            let y: [Float] = float[name]!.scalars(), yq: [Float] = quantized[name]!.scalars()
            var sw = [Float](repeating: 0, count: n)
            for col in 0..<n { for kk in 0..<k { sw[col] = max(sw[col], abs(weight(kk, col)) / 127) } }
            var errorEnergy = 0.0, energy = 0.0
            for row in 0..<(b * t) {
                for col in 0..<n {
                    var bound: Float = 0
                    for kk in 0..<k {
                        bound += abs(xv[row * k + kk]) * sw[col] / 2 + abs(weight(kk, col)) * sx + sx * sw[col] / 2
                    }
                    let e = abs(y[row * n + col] - yq[row * n + col])
                    XCTAssertLessThanOrEqual(e, bound * abs(alpha) + 1e-4, "\(name)[\(row), \(col)]")
                    errorEnergy += Double(e * e)
                    energy += Double(y[row * n + col] * y[row * n + col])
                }
            }
            let relative = (errorEnergy / energy).squareRoot()
            XCTAssertLessThan(relative, 0.02, name)
            XCTAssertGreaterThan(relative, 1e-5, "\(name) should carry 8-bit rounding error")
        }
        check("y1", weight: { w[$0 * n + $1] }, alpha: 1)
        check("y2", weight: { w2[$1 * k + $0] }, alpha: 0.5)
    }

    /// Conv (padding, stride 2, bias) as ConvInteger: close to the float convolution (8-bit rounding
    /// level), and the zero padding stays exact (ConvInteger pads with the input zero point).
    func testDynamicConvMatchesFloatConvolution() throws {
        var rng = SeededNormal(seed: 12)
        let (c, m) = (6, 8)
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [2, c, 9, 9]))]
        g.initializers["w"] = Tensor(shape: [m, c, 3, 3], scalars: rng.array(m * c * 9, scale: 0.3))
        g.initializers["b"] = Tensor(shape: [m], scalars: rng.array(m))
        g.nodes = [Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"],
                        attributes: [Attribute("pads", .ints([1, 1, 1, 1])), Attribute("strides", .ints([2, 2]))])]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        let model = Model(irVersion: 7, opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        let (q, summary) = try DynamicQuantizer.quantize(model, options: DynamicQuantizationOptions())
        XCTAssertEqual(summary.quantizedNodes, ["conv"])
        XCTAssertEqual(q.graph.nodes.map(\.opType), ["DynamicQuantizeLinear", "ConvInteger", "Cast", "Mul", "Mul", "Add"])
        // Inputs of both signs (normal + 0.5): the zero point is not 0, so padding with it is exercised.
        let feed = ["x": Tensor(shape: [2, c, 9, 9], scalars: rng.array(2 * c * 81).map { $0 + 0.5 })]
        let y: [Float] = try Session(model: model).run(feed)["y"]!.scalars()
        let yq: [Float] = try Session(model: q).run(feed)["y"]!.scalars()
        XCTAssertEqual(y.count, 2 * m * 5 * 5)
        let error = zip(y, yq).map { Double(($0 - $1) * ($0 - $1)) }.reduce(0, +)
        let energy = y.map { Double($0 * $0) }.reduce(0, +)
        XCTAssertLessThan((error / energy).squareRoot(), 0.02)
        XCTAssertGreaterThan((error / energy).squareRoot(), 1e-5)
    }

    /// A model with no eligible layer gets a clear unsupported error, not an empty rewrite.
    func testModelWithoutEligibleLayersIsRefused() {
        var g = Graph()
        g.inputs = [ValueInfo(name: "x", tensor: TensorType(.float, fixed: [2, 4])), ValueInfo(name: "w", tensor: TensorType(.float, fixed: [4, 3]))]
        g.nodes = [Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"])]
        g.outputs = [ValueInfo(name: "y", type: nil)]
        let model = Model(irVersion: 7, opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        XCTAssertThrowsError(try DynamicQuantizer.quantize(model, options: DynamicQuantizationOptions())) { error in
            XCTAssertEqual((error as? EdgeError)?.kind, .unsupported)
        }
    }
}
