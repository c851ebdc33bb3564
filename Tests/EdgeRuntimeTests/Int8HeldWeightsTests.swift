import EdgeIR
import EdgeKernels
@testable import EdgeRuntime
import XCTest

/// MatMulInteger, ConvInteger and QGemm with constant 8-bit weights hold only the packed form: the
/// session's held bytes are the packed weights plus the other (small) constants, not the original
/// int8 tensor besides (nor QGemm's transposed copy). Results are checked against a naive int32
/// reference, with the constant (packed) and fed (unpacked) weights.
final class Int8HeldWeightsTests: XCTestCase {
    func bytes(_ n: Int, _ seed: UInt64) -> [Int8] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in s ^= s << 13; s ^= s >> 7; s ^= s << 17; return Int8(truncatingIfNeeded: s >> 11) }
    }

    /// One-node model; inputs named in0…; `constants` become initializers.
    func session(_ op: String, domain: String = "", inputs: [Tensor], constants: Set<Int>,
                 attributes: [Attribute] = []) throws -> (Session, [String: Tensor]) {
        var graph = Graph(name: "held")
        var feeds: [String: Tensor] = [:]
        for (k, t) in inputs.enumerated() {
            let name = "in\(k)"
            if constants.contains(k) { graph.initializers[name] = t }
            else { graph.inputs.append(ValueInfo(name: name, tensor: TensorType(t.dtype, fixed: t.shape))); feeds[name] = t }
        }
        graph.nodes = [Node(name: "n", opType: op, domain: domain, inputs: inputs.indices.map { "in\($0)" }, outputs: ["y"], attributes: attributes)]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        var imports = [OpsetImport(domain: "", version: 21)]
        if !domain.isEmpty { imports.append(OpsetImport(domain: domain, version: 1)) }
        return (try Session(model: Model(opsetImports: imports, graph: graph), options: SessionOptions(threads: 2)), feeds)
    }

    func testMatMulIntegerHoldsOnlyThePackedB() throws {
        let (m, k, n) = (5, 67, 48)
        let a = bytes(m * k, 1).map { UInt8(bitPattern: $0) }, b = bytes(k * n, 2)
        let za = Tensor.scalar(UInt8(131)), zb = Tensor.scalar(Int8(-3))
        var want = [Int32](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { want[i * n + j] += (Int32(a[i * k + p]) - 131) * (Int32(b[p * n + j]) + 3) } } }
        let inputs = [Tensor(shape: [m, k], scalars: a), Tensor(shape: [k, n], scalars: b), za, zb]
        let (packed, feeds) = try session("MatMulInteger", inputs: inputs, constants: [1, 2, 3])
        XCTAssertEqual(try packed.run(feeds)["y"]!.scalars(as: Int32.self), want)
        let form = PackedInt8Matrix(packing: b, signed: true, k: k, n: n, ldb: n, zeroPoints: [-3])
        XCTAssertEqual(packed.heldWeightBytes, form.byteCount + 2, "packed B + the two 1-byte zero points")
        let (fed, all) = try session("MatMulInteger", inputs: inputs, constants: [2, 3])
        XCTAssertEqual(try fed.run(all)["y"]!.scalars(as: Int32.self), want)
    }

    func testConvIntegerHoldsOnlyThePackedWeights() throws {
        let (cin, cout, h, w) = (6, 10, 7, 9)
        let x = bytes(cin * h * w, 3).map { UInt8(bitPattern: $0) }, wt = bytes(cout * cin * 9, 4)
        var want = [Int32](repeating: 0, count: cout * h * w)
        for co in 0..<cout { for oy in 0..<h { for ox in 0..<w {
            var s: Int32 = 0
            for ci in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy + ky - 1, ix = ox + kx - 1
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                s += (Int32(x[(ci * h + iy) * w + ix]) - 100) * Int32(wt[((co * cin + ci) * 3 + ky) * 3 + kx])
            } } }
            want[(co * h + oy) * w + ox] = s
        } } }
        let inputs = [Tensor(shape: [1, cin, h, w], scalars: x), Tensor(shape: [cout, cin, 3, 3], scalars: wt),
                      Tensor.scalar(UInt8(100)), Tensor.scalar(Int8(0))]
        let pads = [Attribute("pads", .ints([1, 1, 1, 1]))]
        let (packed, feeds) = try session("ConvInteger", inputs: inputs, constants: [1, 2, 3], attributes: pads)
        XCTAssertEqual(try packed.run(feeds)["y"]!.scalars(as: Int32.self), want)
        let g = ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [3, 3], kernelSize: [3, 3])
        let form = Int8ConvWeights(weights: wt, signed: true, zeroPoints: [0], geometry: g)
        XCTAssertEqual(packed.heldWeightBytes, form.byteCount + 2, "packed weights + the two 1-byte zero points")
        let (fed, all) = try session("ConvInteger", inputs: inputs, constants: [2, 3], attributes: pads)
        XCTAssertEqual(try fed.run(all)["y"]!.scalars(as: Int32.self), want)
    }

    /// QGemm (transB = 1, float output): held bytes are the packed Bᵀ plus scales, zero points
    /// and the bias, without the original B or a transposed copy.
    func testQGemmHoldsOnlyThePackedB() throws {
        let (m, k, n) = (3, 40, 33)
        let a = bytes(m * k, 5).map { UInt8(bitPattern: $0) }, b = bytes(n * k, 6)  // B is [N, K]
        let bias: [Float] = (0..<n).map { Float($0) * 0.25 - 3 }
        let (sa, sb): (Float, Float) = (0.02, 0.005)
        var want = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Int32 = 0
            for p in 0..<k { s += (Int32(a[i * k + p]) - 128) * Int32(b[j * k + p]) }
            want[i * n + j] = Float(s) * (1 * sa * sb) + bias[j]
        } }
        let inputs = [Tensor(shape: [m, k], scalars: a), Tensor.scalar(sa), Tensor.scalar(UInt8(128)),
                      Tensor(shape: [n, k], scalars: b), Tensor.scalar(sb), Tensor.scalar(Int8(0)), Tensor(shape: [n], scalars: bias)]
        let attrs = [Attribute("transB", .int(1))]
        let (packed, feeds) = try session("QGemm", domain: "com.microsoft", inputs: inputs, constants: [1, 2, 3, 4, 5, 6], attributes: attrs)
        XCTAssertEqual(try packed.run(feeds)["y"]!.scalars(as: Float.self), want)
        var bt = [Int8](repeating: 0, count: k * n)
        for j in 0..<n { for p in 0..<k { bt[p * n + j] = b[j * k + p] } }
        let form = PackedInt8Matrix(packing: bt, signed: true, k: k, n: n, ldb: n, zeroPoints: [0])
        XCTAssertEqual(packed.heldWeightBytes, form.byteCount + 4 + 1 + 4 + 1 + n * 4, "packed Bᵀ + scales, zero points, bias")
        let (fed, all) = try session("QGemm", domain: "com.microsoft", inputs: inputs, constants: [1, 2, 4, 5, 6], attributes: attrs)
        XCTAssertEqual(try fed.run(all)["y"]!.scalars(as: Float.self), want)
    }
}
