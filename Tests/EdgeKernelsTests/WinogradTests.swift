import EdgeKernels
import XCTest

/// Winograd F(2,3) / F(4,3) against the direct double-precision convolution loop (`Reference.conv`),
/// over odd shapes: partial edge tiles, asymmetric and zero pads, channel counts that are not
/// multiples of the tile, several k-blocks (C_in > 256), several tile blocks, tiny planes, batch,
/// bias or none, fused activations, 1 and 2 threads.
final class WinogradTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    /// ISAs with the Winograd transforms (the portable kernels keep im2col).
    var winogradISAs: [KernelISA] { KernelISA.supported.filter { $0 != .portable } }

    func run(_ cw: ConvWeights, batch: Int, x: [Float], bias: [Float]?, act: Activation, threads: Int) -> [Float] {
        let g = cw.geometry
        var y = [Float](repeating: .nan, count: batch * g.outChannels * g.outputPlane)
        let pool = threads == 2 ? pool2 : nil
        if let bias {
            bias.withUnsafeBufferPointer { bp in
                Kernels.conv(cw, batch: batch, input: x, bias: bp.baseAddress, activation: act, output: &y, pool: pool)
            }
        } else {
            Kernels.conv(cw, batch: batch, input: x, bias: nil, activation: act, output: &y, pool: pool)
        }
        return y
    }

    func check(_ g: ConvGeometry, m: Int, batch: Int = 1, act: Activation = .none, withBias: Bool = true, seed: UInt64 = 5,
               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(g.problem, file: file, line: line)
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * g.inChannels * g.inputPlane)
        let w = rng.floats(g.outChannels * g.reductionSize)
        let bias = withBias ? rng.floats(g.outChannels) : nil
        let want = Reference.conv(g, batch: batch, input: x, weights: w, bias: bias, activation: act)
        for isa in winogradISAs {
            let cw = ConvWeights(weights: w, geometry: g, isa: isa, algorithm: .winograd(m: m))
            XCTAssertEqual(cw.algorithm, .winograd(m: m), "\(isa) \(g)", file: file, line: line)
            let one = run(cw, batch: batch, x: x, bias: bias, act: act, threads: 1)
            // F(4,3) rounds to ~1e-5 of the output scale (|y| ~ √K/3 here), F(2,3) to ~1e-6.
            assertClose(one, want, rtol: 1e-4, atol: 1e-4 * Float(g.reductionSize).squareRoot(), "\(isa) F(\(m),3) \(g)",
                        file: file, line: line)
            // Threads split channels and ξ, never a sum: bit-identical results.
            let two = run(cw, batch: batch, x: x, bias: bias, act: act, threads: 2)
            XCTAssertEqual(one, two, "\(isa) F(\(m),3) \(g): 2 threads differ from 1", file: file, line: line)
        }
    }

    func testOddShapesBothTileSizes() {
        for m in [2, 4] {
            // Partial edge tiles on both axes, C_out not a multiple of MR.
            check(ConvGeometry(inChannels: 3, outChannels: 5, inputSize: [9, 11], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), m: m)
            // Asymmetric pads, no bias, relu.
            check(ConvGeometry(inChannels: 17, outChannels: 33, inputSize: [13, 10], kernelSize: [3, 3],
                               padsBegin: [0, 2], padsEnd: [2, 0]), m: m, act: .relu, withBias: false)
            // No padding: output smaller than input.
            check(ConvGeometry(inChannels: 8, outChannels: 15, inputSize: [7, 6], kernelSize: [3, 3]), m: m,
                  act: .clip(min: -0.5, max: 0.5))
            // Tiny planes: one output pixel, and a 2×3 plane.
            check(ConvGeometry(inChannels: 4, outChannels: 6, inputSize: [1, 1], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), m: m, batch: 2)
            check(ConvGeometry(inChannels: 5, outChannels: 29, inputSize: [2, 3], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), m: m, act: .silu)
            // C_in > 256: two k-blocks of the transformed GEMM; batch 2.
            check(ConvGeometry(inChannels: 300, outChannels: 20, inputSize: [6, 7], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), m: m, batch: 2, act: .relu)
            // More than 16 tiles: several 16-tile vector groups and GEMM panels.
            check(ConvGeometry(inChannels: 6, outChannels: 14, inputSize: [23, 37], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), m: m, act: .leakyRelu(alpha: 0.1))
        }
    }

    /// Channels large enough that the tiles are processed in several blocks (V and M are kept
    /// within ~4 MB) and C_in spans two k-blocks: compared with the direct loop at the corners,
    /// the edges and 200 random outputs.
    func testSeveralTileBlocks() {
        let g = ConvGeometry(inChannels: 290, outChannels: 250, inputSize: [26, 27], kernelSize: [3, 3],
                             padsBegin: [1, 1], padsEnd: [1, 1])
        var rng = TestRandom(seed: 9)
        let x = rng.floats(g.inChannels * g.inputPlane)
        let w = rng.floats(g.outChannels * g.reductionSize)
        let bias = rng.floats(g.outChannels)
        let (oh, ow) = (g.outputSize[0], g.outputSize[1])
        var points = [(0, 0, 0), (g.outChannels - 1, oh - 1, ow - 1), (7, 0, ow - 1), (100, oh - 1, 0), (249, 13, 26)]
        for _ in 0..<200 { points.append((rng.int(0...(g.outChannels - 1)), rng.int(0...(oh - 1)), rng.int(0...(ow - 1)))) }
        let want: [Double] = points.map { co, oy, ox in
            var acc = Double(bias[co])
            for ci in 0..<g.inChannels { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy - 1 + ky, ix = ox - 1 + kx
                if iy < 0 || iy >= g.inputSize[0] || ix < 0 || ix >= g.inputSize[1] { continue }
                acc += Double(x[(ci * g.inputSize[0] + iy) * g.inputSize[1] + ix]) * Double(w[((co * g.inChannels + ci) * 3 + ky) * 3 + kx])
            } } }
            return acc
        }
        let tol = 1e-4 * Double(g.reductionSize).squareRoot()
        for isa in winogradISAs {
            for m in [2, 4] {
                let y = run(ConvWeights(weights: w, geometry: g, isa: isa, algorithm: .winograd(m: m)), batch: 1, x: x, bias: bias,
                            act: .none, threads: 2)
                for (k, (co, oy, ox)) in points.enumerated() {
                    XCTAssertEqual(Double(y[(co * oh + oy) * ow + ox]), want[k], accuracy: tol + 1e-4 * abs(want[k]),
                                   "\(isa) F(\(m),3) at \(co),\(oy),\(ox)")
                }
            }
        }
    }

    /// Once a Winograd form exists the float copy is gone: forms needed later (im2col for a strided
    /// view here; the other tile size in `testAutomaticChoiceAndRetargeting`) are built from weights
    /// recovered from U = G g Gᵀ, which match the originals to float rounding, so their outputs
    /// match the reference as tightly as ever.
    func testFormsBuiltAfterTheFloatCopyIsDropped() {
        for isa in winogradISAs {
            for first in [2, 4] {
                var rng = TestRandom(seed: 21)
                let (cin, cout) = (37, 29)
                let w = rng.floats(cout * cin * 9)
                func geometry(_ size: Int, stride: Int = 1) -> ConvGeometry {
                    ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [size, size], kernelSize: [3, 3],
                                 strides: [stride, stride], padsBegin: [1, 1], padsEnd: [1, 1])
                }
                let cw = ConvWeights(weights: w, geometry: geometry(20), isa: isa, algorithm: .winograd(m: first))
                XCTAssertEqual(cw.algorithm, .winograd(m: first))
                // Only the α² packed C_out × C_in matrices are held (a float copy, C_out·9·C_in floats,
                // would break the divisibility: 29·9 is a multiple of neither 16 nor 36).
                let alpha = first + 2
                let transformedOnly = cw.byteCount
                XCTAssertEqual(transformedOnly % (alpha * alpha * cin * 4), 0, "\(isa) F(\(first),3) holds more than U")
                // A strided (im2col) view, packed from recovered weights.
                let strided = cw.with(geometry: geometry(15, stride: 2))
                XCTAssertEqual(strided.algorithm, .gemm)
                let x = rng.floats(cin * 15 * 15)
                let want = Reference.conv(strided.geometry, input: x, weights: w, bias: nil)
                let got = run(strided, batch: 1, x: x, bias: nil, act: .none, threads: 1)
                assertClose(got, want, rtol: 1e-5, atol: 1e-5 * Float(cin * 9).squareRoot(), "\(isa) im2col after F(\(first),3)")
                XCTAssertGreaterThan(cw.byteCount, transformedOnly)
            }
        }
    }

    /// The cost model: big planes take F(4,3), 7×7 planes F(2,3); strides, dilations, groups,
    /// other kernels and the int8 path stay on im2col; the float weights serve every input size.
    func testAutomaticChoiceAndRetargeting() {
        for isa in winogradISAs {
            var rng = TestRandom(seed: 11)
            let w = rng.floats(64 * 64 * 9)
            let packing = ConvWeights.packingGeometry(inChannels: 64, outChannels: 64, groups: 1, kernelSize: [3, 3])
            let cw = ConvWeights(weights: w, geometry: packing, isa: isa)
            func view(_ size: Int, stride: Int = 1, dilation: Int = 1) -> ConvWeights {
                cw.with(geometry: ConvGeometry(inChannels: 64, outChannels: 64, inputSize: [size, size], kernelSize: [3, 3],
                                               strides: [stride, stride], dilations: [dilation, dilation],
                                               padsBegin: [dilation, dilation], padsEnd: [dilation, dilation]))
            }
            XCTAssertEqual(view(56).algorithm, .winograd(m: 4), "\(isa)")
            XCTAssertEqual(view(7).algorithm, .winograd(m: 2), "\(isa)")
            XCTAssertEqual(view(56, stride: 2).algorithm, .gemm, "\(isa)")
            XCTAssertEqual(view(28, dilation: 2).algorithm, .gemm, "\(isa)")
            // Every form built so far is shared by all views.
            XCTAssertEqual(view(56).byteCount, cw.byteCount)
            // Each view computes its own geometry correctly.
            for (size, stride) in [(9, 1), (7, 1), (10, 2)] {
                let v = view(size, stride: stride)
                let x = rng.floats(64 * size * size)
                let want = Reference.conv(v.geometry, input: x, weights: w, bias: nil)
                let got = run(v, batch: 1, x: x, bias: nil, act: .none, threads: 1)
                assertClose(got, want, rtol: 1e-4, atol: 2.4e-3, "\(isa) size \(size) stride \(stride)")
            }
            let grouped = ConvGeometry(inChannels: 64, outChannels: 64, groups: 2, inputSize: [56, 56], kernelSize: [3, 3],
                                       padsBegin: [1, 1], padsEnd: [1, 1])
            XCTAssertEqual(ConvWeights(weights: w, geometry: grouped, isa: isa).algorithm, .gemm)
            let fiveByFive = ConvGeometry(inChannels: 8, outChannels: 8, inputSize: [56, 56], kernelSize: [5, 5],
                                          padsBegin: [2, 2], padsEnd: [2, 2])
            XCTAssertEqual(ConvWeights(weights: w, geometry: fiveByFive, isa: isa).algorithm, .gemm)
            let int8 = [Int8](repeating: 3, count: 64 * 64 * 9)
            let g56 = view(56).geometry
            let q = int8.withUnsafeBytes { ConvWeights(int8Weights: $0.baseAddress!, signed: true, zeroPoints: [1], geometry: g56, isa: isa) }
            XCTAssertEqual(q.algorithm, .gemm)
        }
        let portable = ConvWeights(weights: [Float](repeating: 1, count: 64 * 64 * 9),
                                   geometry: ConvGeometry(inChannels: 64, outChannels: 64, inputSize: [56, 56], kernelSize: [3, 3],
                                                          padsBegin: [1, 1], padsEnd: [1, 1]), isa: .portable)
        XCTAssertEqual(portable.algorithm, .gemm, "the portable kernels have no Winograd transforms")
    }
}
