import EdgeKernels
import XCTest

/// The direct small-C_in convolution (Sources/EdgeKernels/SmallConv.swift, Shared/SmallConvImpl.swift)
/// against a float64 evaluation of the ONNX Conv definition, on every ISA this CPU has.
final class SmallConvTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    /// The definition in float64, and Σ|terms| (bias included) per output for the error bound.
    static func reference(_ g: ConvGeometry, batch: Int, x: [Float], w: [Float], bias: [Float]?) -> (sum: [Double], abs: [Double]) {
        let o = g.outputSize, (ih, iw) = (g.inputSize[0], g.inputSize[1]), (kh, kw) = (g.kernelSize[0], g.kernelSize[1])
        var sum = [Double](), abs = [Double]()
        for n in 0..<batch {
            for co in 0..<g.outChannels {
                for oy in 0..<o[0] {
                    for ox in 0..<o[1] {
                        var s = Double(bias?[co] ?? 0), a = Swift.abs(s)
                        for ci in 0..<g.inChannels {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let iy = oy * g.strides[0] - g.padsBegin[0] + ky * g.dilations[0]
                                    let ix = ox * g.strides[1] - g.padsBegin[1] + kx * g.dilations[1]
                                    if iy < 0 || iy >= ih || ix < 0 || ix >= iw { continue }
                                    let p = Double(x[((n * g.inChannels + ci) * ih + iy) * iw + ix])
                                        * Double(w[((co * g.inChannels + ci) * kh + ky) * kw + kx])
                                    s += p; a += Swift.abs(p)
                                }
                            }
                        }
                        sum.append(s); abs.append(a)
                    }
                }
            }
        }
        return (sum, abs)
    }

    /// Runs the conv and checks every output against the definition. Bound: the kernel adds the
    /// bias and then K products one rounding each (an FMA; two on the portable ISA), in some
    /// order, so |y − s| ≤ γ_n·Σ|terms| with n = 2(K + 1) roundings, γ_n = n·u/(1 − n·u), u = 2⁻²⁴
    /// (Higham, Accuracy and Stability, §3.1). ReLU and clip are 1-Lipschitz and exact; a sigmoid
    /// adds its own few-ulp error (`vsigmoid`), given 4·10⁻⁷ here.
    func check(_ g: ConvGeometry, batch: Int = 1, act: Activation = .none, withBias: Bool = true, isa: KernelISA,
               threads: Int = 1, seed: UInt64 = 7, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(g.problem, file: file, line: line)
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * g.inChannels * g.inputPlane)
        let w = rng.floats(g.outChannels * g.reductionSize)
        let bias = withBias ? rng.floats(g.outChannels) : nil
        let cw = ConvWeights(weights: w, geometry: g, isa: isa)
        XCTAssertEqual(cw.algorithm, .direct, "\(g)", file: file, line: line)
        var y = [Float](repeating: .nan, count: batch * g.outChannels * g.outputPlane)
        (bias ?? []).withUnsafeBufferPointer { bp in
            Kernels.conv(cw, batch: batch, input: x, bias: withBias ? bp.baseAddress : nil, activation: act, output: &y,
                         pool: threads == 2 ? pool2 : nil)
        }
        let (sum, abs) = Self.reference(g, batch: batch, x: x, w: w, bias: bias)
        let n = Double(2 * (g.reductionSize + 1)), u = 0x1p-24
        let gamma = n * u / (1 - n * u)
        var bad = 0
        for i in 0..<y.count {
            let want = Double(Reference.activate(Float(sum[i]), act))
            var tol = gamma * abs[i]
            if case .sigmoid = act { tol = tol / 4 + 4e-7 }
            if !(Swift.abs(Double(y[i]) - want) <= tol) {
                if bad < 3 { XCTFail("\(isa) \(g) t=\(threads) [\(i)]: got \(y[i]) want \(want) ± \(tol)", file: file, line: line) }
                bad += 1
            }
        }
        if bad > 3 { XCTFail("\(isa) \(g) t=\(threads): \(bad) mismatches", file: file, line: line) }
    }

    /// The benchmark models' first layers at their real widths (SqueezeNet 111, ShuffleNet and
    /// MobileNetV2 112, ResNet-50 7×7 112) over fewer rows, on 1 and 2 threads.
    func testFirstLayersOfBenchmarkModels() {
        for isa in KernelISA.supported {
            for threads in [1, 2] {
                check(ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [13, 224], kernelSize: [3, 3], strides: [2, 2]),
                      act: .relu, isa: isa, threads: threads)
                check(ConvGeometry(inChannels: 3, outChannels: 24, inputSize: [12, 224], kernelSize: [3, 3], strides: [2, 2],
                                   padsBegin: [1, 1], padsEnd: [1, 1]), act: .relu, isa: isa, threads: threads)
                check(ConvGeometry(inChannels: 3, outChannels: 32, inputSize: [10, 224], kernelSize: [3, 3], strides: [2, 2],
                                   padsBegin: [1, 1], padsEnd: [1, 1]), act: .clip(min: 0, max: 6), isa: isa, threads: threads)
                check(ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [11, 224], kernelSize: [7, 7], strides: [2, 2],
                                   padsBegin: [3, 3], padsEnd: [3, 3]), isa: isa, threads: threads)
            }
        }
    }

    /// Strides 1, 2 and 3, asymmetric pads, kh ≠ kw, dilation, C_in 1–4, odd widths (a last vector
    /// overlapping its neighbour), rows narrower than 16, C_out below, at and past a channel block
    /// (blocks of 8, 4 or 2 by ISA, then 4 or 1; a last block overlapping the one before), batch 2.
    /// (C_in = C_out = 1 is a depthwise conv and takes that kernel.)
    func testShapesAgainstDefinition() {
        let shapes: [(ConvGeometry, Int)] = [
            (ConvGeometry(inChannels: 1, outChannels: 2, inputSize: [9, 21], kernelSize: [3, 3]), 1),
            (ConvGeometry(inChannels: 2, outChannels: 3, inputSize: [17, 19], kernelSize: [3, 5], strides: [1, 2],
                          padsBegin: [1, 2], padsEnd: [0, 1]), 2),
            (ConvGeometry(inChannels: 3, outChannels: 5, inputSize: [8, 35], kernelSize: [2, 3], strides: [2, 1],
                          padsBegin: [0, 1], padsEnd: [1, 1]), 1),
            (ConvGeometry(inChannels: 4, outChannels: 13, inputSize: [11, 53], kernelSize: [3, 3], strides: [2, 2],
                          padsBegin: [1, 1], padsEnd: [1, 1]), 2),
            (ConvGeometry(inChannels: 3, outChannels: 7, inputSize: [15, 47], kernelSize: [5, 5], strides: [3, 3],
                          padsBegin: [2, 2], padsEnd: [2, 2]), 1),
            (ConvGeometry(inChannels: 2, outChannels: 9, inputSize: [14, 40], kernelSize: [3, 3], dilations: [2, 3],
                          padsBegin: [2, 3], padsEnd: [2, 3]), 2),
            (ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [12, 12], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]), 2),
            (ConvGeometry(inChannels: 3, outChannels: 17, inputSize: [6, 9], kernelSize: [3, 3], strides: [2, 2]), 2),
            (ConvGeometry(inChannels: 1, outChannels: 4, inputSize: [20, 16], kernelSize: [4, 1], strides: [2, 1]), 1),
            (ConvGeometry(inChannels: 3, outChannels: 6, inputSize: [9, 33], kernelSize: [1, 7], padsBegin: [0, 3], padsEnd: [0, 3]), 1),
        ]
        for isa in KernelISA.supported {
            for (i, (g, batch)) in shapes.enumerated() {
                check(g, batch: batch, act: i % 3 == 0 ? .relu : .none, withBias: i % 4 != 1, isa: isa, threads: 1 + i % 2)
            }
        }
    }

    /// Activations past ReLU/clip run as a pass over the band after the stores.
    func testActivationPassAndNoBias() {
        for isa in KernelISA.supported {
            check(ConvGeometry(inChannels: 3, outChannels: 10, inputSize: [10, 37], kernelSize: [3, 3], strides: [2, 2],
                               padsBegin: [1, 1], padsEnd: [1, 1]), batch: 2, act: .sigmoid, isa: isa, threads: 2)
            check(ConvGeometry(inChannels: 3, outChannels: 16, inputSize: [7, 30], kernelSize: [3, 3]),
                  act: .clip(min: -0.25, max: 0.5), withBias: false, isa: isa)
        }
    }

    /// Conv → Add(z) → ReLU through `Kernels.conv(residual:)` gives the separate ops' result.
    func testResidualEpilogue() {
        let g = ConvGeometry(inChannels: 3, outChannels: 12, inputSize: [9, 41], kernelSize: [3, 3], strides: [2, 2],
                             padsBegin: [1, 1], padsEnd: [1, 1])
        var rng = TestRandom(seed: 11)
        let batch = 2
        let x = rng.floats(batch * g.inChannels * g.inputPlane), w = rng.floats(g.outChannels * g.reductionSize)
        let bias = rng.floats(g.outChannels), z = rng.floats(batch * g.outChannels * g.outputPlane)
        for isa in KernelISA.supported {
            let cw = ConvWeights(weights: w, geometry: g, isa: isa)
            XCTAssertEqual(cw.algorithm, .direct)
            var plain = [Float](repeating: .nan, count: z.count), fused = plain
            Kernels.conv(cw, batch: batch, input: x, bias: bias, output: &plain, pool: pool2)
            z.withUnsafeBufferPointer { zp in
                Kernels.conv(cw, batch: batch, input: x, bias: bias, activation: .relu, residual: zp.baseAddress, output: &fused, pool: pool2)
            }
            // The same float ops in the same order: bitwise equal.
            XCTAssertEqual(fused, zip(plain, z).map { max(0, $0 + $1) }, "\(isa)")
        }
    }

    /// Threads and batch change only which worker computes a band, never an output's sum: 1 and
    /// 2 threads agree bitwise.
    func testThreadsAgreeBitwise() {
        let g = ConvGeometry(inChannels: 3, outChannels: 24, inputSize: [41, 67], kernelSize: [3, 3], strides: [2, 2],
                             padsBegin: [1, 1], padsEnd: [1, 1])
        var rng = TestRandom(seed: 5)
        let x = rng.floats(2 * g.inChannels * g.inputPlane), w = rng.floats(g.outChannels * g.reductionSize)
        let bias = rng.floats(g.outChannels)
        for isa in KernelISA.supported {
            let cw = ConvWeights(weights: w, geometry: g, isa: isa)
            var one = [Float](repeating: .nan, count: 2 * g.outChannels * g.outputPlane), two = one
            Kernels.conv(cw, batch: 2, input: x, bias: bias, activation: .relu, output: &one, pool: nil)
            Kernels.conv(cw, batch: 2, input: x, bias: bias, activation: .relu, output: &two, pool: pool2)
            XCTAssertEqual(one, two, "\(isa)")
        }
    }

    /// Which weights take the direct kernel, and what they hold: C_out·K floats, never more than
    /// the im2col packing (padded to MR rows) they replace. Weights packed once for a kernel-sized
    /// geometry and re-targeted to the real input keep the form.
    func testDispatchAndHeldBytes() {
        let first = ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [224, 224], kernelSize: [7, 7], strides: [2, 2],
                                 padsBegin: [3, 3], padsEnd: [3, 3])
        var rng = TestRandom(seed: 1)
        let w = rng.floats(64 * 147)
        for isa in KernelISA.supported {
            let direct = ConvWeights(weights: w, geometry: first, isa: isa)
            let gemm = ConvWeights(weights: w, geometry: first, isa: isa, algorithm: .gemm)
            XCTAssertEqual(direct.algorithm, .direct)
            XCTAssertEqual(gemm.algorithm, .gemm)
            XCTAssertEqual(direct.byteCount, 64 * 147 * 4)
            XCTAssertLessThanOrEqual(direct.byteCount, gemm.byteCount)
            let packedOnce = ConvWeights(weights: w, geometry: ConvWeights.packingGeometry(inChannels: 3, outChannels: 64, groups: 1,
                                                                                           kernelSize: [7, 7]), isa: isa)
            XCTAssertEqual(packedOnce.with(geometry: first).algorithm, .direct)
        }
        func algorithm(_ g: ConvGeometry) -> ConvAlgorithm {
            ConvWeights(weights: [Float](repeating: 0.5, count: g.outChannels * g.reductionSize), geometry: g).algorithm
        }
        // Five input channels, a 1×1 kernel, groups, K over 160, 1-D: not taken.
        XCTAssertEqual(algorithm(ConvGeometry(inChannels: 5, outChannels: 8, inputSize: [9, 9], kernelSize: [3, 3], strides: [2, 2])), .gemm)
        XCTAssertEqual(algorithm(ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [9, 9], kernelSize: [1, 1], strides: [2, 2])), .gemm)
        XCTAssertEqual(algorithm(ConvGeometry(inChannels: 4, outChannels: 8, groups: 2, inputSize: [9, 9], kernelSize: [3, 3])), .gemm)
        XCTAssertEqual(algorithm(ConvGeometry(inChannels: 4, outChannels: 8, inputSize: [9, 9], kernelSize: [7, 7], padsBegin: [3, 3],
                                              padsEnd: [3, 3])), .gemm)
        XCTAssertEqual(algorithm(ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [30], kernelSize: [3])), .gemm)
        // Integer weights stay on the exact GEMM path.
        let g = ConvGeometry(inChannels: 3, outChannels: 8, inputSize: [9, 9], kernelSize: [3, 3])
        let q = [Int8](repeating: 3, count: 8 * 27)
        let int8 = q.withUnsafeBytes { ConvWeights(int8Weights: $0.baseAddress!, signed: true, zeroPoints: [0], geometry: g) }
        XCTAssertEqual(int8.algorithm, .gemm)
    }
}
