import EdgeKernels
import XCTest

/// The residual epilogue, y = act(conv(x) + bias + z), on every conv path (im2col GEMM, 1×1,
/// grouped, depthwise generic and 3×3, Winograd F(2,3)/F(4,3)), against the direct
/// double-precision loop plus z: odd shapes, edge tiles, batch, with and without bias and
/// activation, 1 and 2 threads, every ISA this CPU runs.
final class ResidualEpilogueTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)
    let activations: [Activation] = [.none, .relu, .clip(min: -0.3, max: 0.4), .silu]

    func run(_ cw: ConvWeights, batch: Int, x: [Float], bias: [Float]?, act: Activation, z: [Float], threads: Int) -> [Float] {
        let g = cw.geometry
        var y = [Float](repeating: .nan, count: batch * g.outChannels * g.outputPlane)
        let pool = threads == 2 ? pool2 : nil
        z.withUnsafeBufferPointer { zp in
            if let bias {
                bias.withUnsafeBufferPointer { bp in
                    Kernels.conv(cw, batch: batch, input: x, bias: bp.baseAddress, activation: act, residual: zp.baseAddress,
                                 output: &y, pool: pool)
                }
            } else {
                Kernels.conv(cw, batch: batch, input: x, bias: nil, activation: act, residual: zp.baseAddress, output: &y, pool: pool)
            }
        }
        return y
    }

    /// `algorithm` forces a path; `expect` is the path the weights must then report.
    func check(_ g: ConvGeometry, batch: Int = 1, algorithm: ConvAlgorithm = .gemm, isas: [KernelISA] = KernelISA.supported,
               seed: UInt64 = 11, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(g.problem, file: file, line: line)
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * g.inChannels * g.inputPlane)
        let w = rng.floats(g.outChannels * g.reductionSize)
        let z = rng.floats(batch * g.outChannels * g.outputPlane).map { $0 * 2 }
        for withBias in [true, false] {
            let bias = withBias ? rng.floats(g.outChannels) : nil
            let pre = Reference.conv(g, batch: batch, input: x, weights: w, bias: bias, activation: .none)
            for act in activations {
                let want = zip(pre, z).map { Reference.activate($0 + $1, act) }
                for isa in isas {
                    let cw = ConvWeights(weights: w, geometry: g, isa: isa, algorithm: algorithm)
                    if case .winograd = algorithm { XCTAssertEqual(cw.algorithm, algorithm, "\(isa) \(g)", file: file, line: line) }
                    let what = "\(isa) \(algorithm) \(g) bias \(withBias) \(act)"
                    let one = run(cw, batch: batch, x: x, bias: bias, act: act, z: z, threads: 1)
                    // F(4,3) rounds to ~1e-5 of the output scale (|y| ~ √K/3 here).
                    assertClose(one, want, rtol: 1e-4, atol: 2e-5 * Float(g.reductionSize).squareRoot(), what, file: file, line: line)
                    let two = run(cw, batch: batch, x: x, bias: bias, act: act, z: z, threads: 2)
                    assertClose(two, want, rtol: 1e-4, atol: 2e-5 * Float(g.reductionSize).squareRoot(), what + " 2 threads",
                                file: file, line: line)
                    // Same result as the conv alone followed by a separate Add and activation.
                    if act == .relu {
                        var sep = run(cw, batch: batch, x: x, bias: bias, act: .none, z: [Float](repeating: 0, count: z.count), threads: 1)
                        for k in sep.indices { sep[k] = max(0, sep[k] + z[k]) }
                        XCTAssertEqual(one, sep, what + ": fused differs from conv, Add, Relu", file: file, line: line)
                    }
                }
            }
        }
    }

    func testIm2colGEMM() {
        // 3×3 stride 2 with pads, C_out not a multiple of MR, batch 2 (K = 45: one k-block).
        check(ConvGeometry(inChannels: 5, outChannels: 19, inputSize: [11, 9], kernelSize: [3, 3], strides: [2, 2],
                           padsBegin: [1, 1], padsEnd: [1, 1]), batch: 2)
        // K = 300 > kc: the residual must be added once, after the last k-block. 1-D and 3-D too.
        check(ConvGeometry(inChannels: 60, outChannels: 33, inputSize: [7, 6], kernelSize: [2, 2], padsBegin: [1, 0], padsEnd: [0, 1]))
        check(ConvGeometry(inChannels: 4, outChannels: 7, inputSize: [23], kernelSize: [5], padsBegin: [2], padsEnd: [2]), batch: 2)
        check(ConvGeometry(inChannels: 3, outChannels: 5, inputSize: [4, 5, 6], kernelSize: [3, 3, 3], padsBegin: [1, 1, 1],
                           padsEnd: [1, 1, 1]))
    }

    func testPointwise() {
        check(ConvGeometry(inChannels: 13, outChannels: 37, inputSize: [7, 5], kernelSize: [1, 1]), batch: 2)
        // Few output rows (C_out < MR) and a wide plane.
        check(ConvGeometry(inChannels: 24, outChannels: 3, inputSize: [19, 21], kernelSize: [1, 1]))
    }

    func testGrouped() {
        // batch·groups even: whole group GEMMs per thread; odd: groups in turn, each split.
        check(ConvGeometry(inChannels: 9, outChannels: 12, groups: 3, inputSize: [8, 7], kernelSize: [3, 3],
                           padsBegin: [1, 1], padsEnd: [1, 1]), batch: 2)
        check(ConvGeometry(inChannels: 12, outChannels: 24, groups: 3, inputSize: [6, 9], kernelSize: [1, 1]))
    }

    func testDepthwise() {
        // The 3×3 kernel, strides 1 and 2, and the generic one (5×5, dilation 2).
        check(ConvGeometry(inChannels: 6, outChannels: 6, groups: 6, inputSize: [13, 11], kernelSize: [3, 3],
                           padsBegin: [1, 1], padsEnd: [1, 1]), batch: 2)
        check(ConvGeometry(inChannels: 5, outChannels: 5, groups: 5, inputSize: [14, 9], kernelSize: [3, 3], strides: [2, 2],
                           padsBegin: [1, 1], padsEnd: [1, 1]))
        check(ConvGeometry(inChannels: 7, outChannels: 7, groups: 7, inputSize: [12, 10], kernelSize: [5, 5], dilations: [2, 2],
                           padsBegin: [4, 4], padsEnd: [4, 4]))
    }

    func testWinograd() {
        let isas = KernelISA.supported.filter { $0 != .portable }
        for m in [2, 4] {
            // Partial edge tiles on both axes, several tile blocks are not needed for coverage of
            // the epilogue but C_in > kc is (two k-blocks before the output transform).
            check(ConvGeometry(inChannels: 3, outChannels: 5, inputSize: [9, 11], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
                  batch: 2, algorithm: .winograd(m: m), isas: isas)
            check(ConvGeometry(inChannels: 17, outChannels: 33, inputSize: [13, 10], kernelSize: [3, 3], padsBegin: [0, 2], padsEnd: [2, 0]),
                  algorithm: .winograd(m: m), isas: isas)
            check(ConvGeometry(inChannels: 260, outChannels: 9, inputSize: [6, 7], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
                  algorithm: .winograd(m: m), isas: isas)
        }
    }
}
