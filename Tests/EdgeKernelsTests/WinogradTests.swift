@testable import EdgeKernels
import XCTest

/// Winograd F(2,3) / F(4,3) against the direct double-precision convolution loop (`Reference.conv`),
/// over odd shapes: partial edge tiles, asymmetric and zero pads, channel counts that are not
/// multiples of the tile, several k-blocks (C_in > 256), several tile blocks, tiny planes, batch,
/// bias or none, fused activations, 1, 2 and 3 threads. U = G g Gᵀ is transformed per run from
/// the im2col packing, so these also cover that transform: ragged MR panels, a channel's 9 taps
/// split across two k-blocks of the packing, and the packing's last float.
final class WinogradTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)
    let pool3 = ThreadPool(threads: 3)

    /// ISAs with the Winograd transforms (the portable kernels keep im2col).
    var winogradISAs: [KernelISA] { KernelISA.supported.filter { $0 != .portable } }

    func run(_ cw: ConvWeights, batch: Int, x: [Float], bias: [Float]?, act: Activation, threads: Int) -> [Float] {
        let g = cw.geometry
        var y = [Float](repeating: .nan, count: batch * g.outChannels * g.outputPlane)
        let pool = threads == 2 ? pool2 : threads == 3 ? pool3 : nil
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
            // Threads split channels, rows of the ξ grid and row panels, never a sum: bit-identical
            // results.
            for threads in [2, 3] {
                let more = run(cw, batch: batch, x: x, bias: bias, act: act, threads: threads)
                XCTAssertEqual(one, more, "\(isa) F(\(m),3) \(g): \(threads) threads differ from 1", file: file, line: line)
            }
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
    /// within ~1 MB) and C_in spans two k-blocks: compared with the direct loop at the corners,
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

    /// Tile blocks: whole NR panels (or the plane's tiles rounded to 16 when one block holds
    /// them), V + M within the 1 MB budget unless a single NR panel exceeds it, the fewest blocks
    /// the budget allows, and balanced: one NR panel less per block would need another block.
    func testTileBlocksBalancedWithinBudget() {
        for isa in winogradISAs {
            let ks = KernelSet.forISA(isa)
            for (cin, cout, size) in [(16, 64, 55), (32, 128, 27), (64, 64, 56), (128, 128, 28), (256, 256, 14),
                                      (512, 512, 7), (3, 8, 224), (290, 250, 26), (64, 192, 56)] {
                let g = ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [size, size], kernelSize: [3, 3],
                                     padsBegin: [1, 1], padsEnd: [1, 1])
                for m in [2, 4] {
                    let tiles = ((size + m - 1) / m) * ((size + m - 1) / m)
                    let block = Winograd.tileBlock(g, ks, m: m)
                    let label = "\(isa) F(\(m),3) \(cin)→\(cout) at \(size)×\(size): block \(block) of \(tiles) tiles"
                    let coutPad = (cout + ks.mr - 1) / ks.mr * ks.mr
                    let perTile = (m + 2) * (m + 2) * (cin + coutPad)
                    if block >= tiles {
                        XCTAssertEqual(block, (tiles + 15) / 16 * 16, label)
                        XCTAssertLessThanOrEqual(block * perTile, max(Winograd.blockBudgetFloats, perTile * ks.nr), label)
                        continue
                    }
                    XCTAssertEqual(block % ks.nr, 0, label)
                    XCTAssertTrue(block == ks.nr || block * perTile <= Winograd.blockBudgetFloats, label)
                    // Fewest blocks: the budget's largest whole-panel block needs as many.
                    let largest = max(ks.nr, Winograd.blockBudgetFloats / perTile / ks.nr * ks.nr)
                    let blocks = (tiles + block - 1) / block
                    XCTAssertEqual(blocks, (tiles + largest - 1) / largest, label)
                    // Balanced: one panel less per block would need another block.
                    XCTAssertGreaterThan(tiles, blocks * (block - ks.nr), label)
                }
            }
        }
    }

    /// The per-run weight transform reads the im2col packing (C_out × 9·C_in in k-blocks of 256):
    /// C_in = 29 puts channel 28's taps (k = 252…260) across two k-blocks, 57 across three, and
    /// C_out = 1, 15, 29, 43 leave the last MR panel ragged (MR = 6 or 14), so its last channel is
    /// the packing's last float. Several threads share the transform scratch per worker.
    func testPerRunTransformOnPackingEdges() {
        for m in [2, 4] {
            for (cin, cout) in [(29, 29), (57, 15), (29, 1), (260, 43)] {
                check(ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [11, 9], kernelSize: [3, 3],
                                   padsBegin: [1, 1], padsEnd: [1, 1]), m: m, act: .relu, seed: UInt64(cin * cout))
            }
        }
    }

    /// Planes of ≥ 2 full NR panels of tiles with C_out = 64, 20, 16 and 26: the last MR panel's
    /// full-width GEMM tiles write only its 8, 6, 2 or 12 rows (AVX-512 multiplies 8, 8, 4 or 14).
    func testRaggedOutputChannelsOnFullPanels() {
        for m in [2, 4] {
            for (cin, cout) in [(20, 64), (33, 20), (17, 16), (40, 26)] {
                check(ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [30, 26], kernelSize: [3, 3],
                                   padsBegin: [1, 1], padsEnd: [1, 1]), m: m, act: .relu, seed: UInt64(cin + cout))
            }
        }
    }

    /// The conv holds its weights once, as the im2col packing (C_out rounded up to MR rows ×
    /// 9·C_in floats), whatever algorithm its views run: exactly the bytes `--no-winograd` holds.
    /// A first layer (C_in ≤ 4) holds the direct kernel's C_out × 9·C_in floats instead, fewer.
    func testHeldBytesAreTheIm2colPacking() {
        for isa in winogradISAs {
            let mr = KernelSet.forISA(isa).mr
            for (cin, cout) in [(37, 29), (64, 64), (3, 1)] {
                var rng = TestRandom(seed: 3)
                let w = rng.floats(cout * cin * 9)
                let packing = ConvWeights.packingGeometry(inChannels: cin, outChannels: cout, groups: 1, kernelSize: [3, 3])
                let cw = ConvWeights(weights: w, geometry: packing, isa: isa)
                let im2col = (cout + mr - 1) / mr * mr * 9 * cin * 4
                let expected = cin <= 4 ? cout * 9 * cin * 4 : im2col
                XCTAssertEqual(cw.byteCount, expected, "\(isa) \(cin)→\(cout)")
                XCTAssertEqual(ConvWeights(weights: w, geometry: packing, isa: isa, algorithm: .gemm).byteCount, im2col)
                for (size, stride, algorithm) in [(30, 1, ConvAlgorithm.winograd(m: 4)), (7, 1, nil), (15, 2, .gemm)] {
                    let view = cw.with(geometry: ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [size, size],
                                                             kernelSize: [3, 3], strides: [stride, stride],
                                                             padsBegin: [1, 1], padsEnd: [1, 1]))
                    if let algorithm, cin * cout >= 64 * 64 { XCTAssertEqual(view.algorithm, algorithm, "\(isa) size \(size)") }
                    let x = rng.floats(cin * size * size)
                    let want = Reference.conv(view.geometry, input: x, weights: w, bias: nil)
                    let got = run(view, batch: 1, x: x, bias: nil, act: .none, threads: 2)
                    assertClose(got, want, rtol: 1e-4, atol: 1e-4 * Float(cin * 9).squareRoot(), "\(isa) size \(size) stride \(stride)")
                    XCTAssertEqual(cw.byteCount, expected, "running a view builds no other form")
                }
            }
        }
    }

    /// The cost model: big planes take F(4,3), wide 7×7 layers F(2,3); strides, dilations, groups,
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
            // 7×7 with 64 channels is a near tie between F(2,3) and im2col (it depends on MR);
            // 512 channels (ResNet-50's last stage) share the transforms over 8× more products.
            let wide = ConvWeights(weights: [Float](repeating: 0.5, count: 512 * 512 * 9),
                                   geometry: ConvGeometry(inChannels: 512, outChannels: 512, inputSize: [7, 7], kernelSize: [3, 3],
                                                          padsBegin: [1, 1], padsEnd: [1, 1]), isa: isa)
            XCTAssertEqual(wide.algorithm, .winograd(m: 2), "\(isa)")
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
