import EdgeKernels
import XCTest

final class ConvTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    func check(_ g: ConvGeometry, batch: Int = 1, act: Activation = .none, withBias: Bool = true, isa: KernelISA,
               threads: Int = 1, seed: UInt64 = 3, algorithm: ConvAlgorithm = .automatic,
               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(g.problem, file: file, line: line)
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * g.inChannels * g.inputPlane)
        let w = rng.floats(g.outChannels * g.reductionSize)
        let bias = withBias ? rng.floats(g.outChannels) : nil
        let want = Reference.conv(g, batch: batch, input: x, weights: w, bias: bias, activation: act)
        let cw = ConvWeights(weights: w, geometry: g, isa: isa, algorithm: algorithm)
        var y = [Float](repeating: .nan, count: batch * g.outChannels * g.outputPlane)
        if let bias {
            bias.withUnsafeBufferPointer { bp in
                Kernels.conv(cw, batch: batch, input: x, bias: bp.baseAddress, activation: act, output: &y, pool: threads == 2 ? pool2 : nil)
            }
        } else {
            Kernels.conv(cw, batch: batch, input: x, bias: nil, activation: act, output: &y, pool: threads == 2 ? pool2 : nil)
        }
        assertClose(y, want, rtol: 1e-4, atol: 1e-4 * Float(g.reductionSize).squareRoot(), "\(isa) \(g) t=\(threads) \(cw.algorithm)",
                    file: file, line: line)
    }

    func testGeneral2DWithPadsStridesDilations() {
        for isa in KernelISA.supported {
            check(ConvGeometry(inChannels: 3, outChannels: 5, inputSize: [9, 11], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), isa: isa)
            check(ConvGeometry(inChannels: 4, outChannels: 17, inputSize: [13, 10], kernelSize: [3, 2], strides: [2, 3],
                               dilations: [2, 1], padsBegin: [2, 0], padsEnd: [1, 2]), batch: 2, act: .relu, isa: isa)
            // K = 32·9 = 288 > one k-block: the implicit im2col packer starts mid-kernel.
            check(ConvGeometry(inChannels: 32, outChannels: 20, inputSize: [11, 13], kernelSize: [3, 3], strides: [1, 2],
                               padsBegin: [1, 0], padsEnd: [0, 1]), act: .relu, isa: isa, threads: 2)
            check(ConvGeometry(inChannels: 3, outChannels: 64, inputSize: [17, 17], kernelSize: [7, 7], strides: [2, 2],
                               padsBegin: [3, 3], padsEnd: [3, 3]), act: .clip(min: 0, max: 6), isa: isa, threads: 2)
        }
    }

    /// First layers of SqueezeNet / ShuffleNet / MobileNetV2 shape: C_in ≤ 4, stride 2, rows wide
    /// enough that a packed panel row takes the 16-wide stride-2 gather, at odd widths, pads and
    /// column offsets (the im2col packer in Shared/Im2ColImpl.swift, forced with `.gemm`), and the
    /// direct kernel `.automatic` picks for them (SmallConv.swift).
    func testTinyInputChannelConvsWithWideRows() {
        for isa in KernelISA.supported {
            for (threads, algorithm) in [(1, ConvAlgorithm.gemm), (2, .gemm), (1, .automatic), (2, .automatic)] {
                check(ConvGeometry(inChannels: 3, outChannels: 24, inputSize: [37, 75], kernelSize: [3, 3], strides: [2, 2],
                                   padsBegin: [1, 1], padsEnd: [1, 1]), act: .relu, isa: isa, threads: threads, algorithm: algorithm)
                check(ConvGeometry(inChannels: 3, outChannels: 29, inputSize: [21, 93], kernelSize: [3, 3], strides: [2, 2]),
                      isa: isa, threads: threads, algorithm: algorithm)
                check(ConvGeometry(inChannels: 1, outChannels: 7, inputSize: [15, 101], kernelSize: [5, 4], strides: [2, 2],
                                   dilations: [1, 2], padsBegin: [2, 3], padsEnd: [0, 2]), isa: isa, threads: threads, algorithm: algorithm)
                check(ConvGeometry(inChannels: 4, outChannels: 9, inputSize: [9, 70], kernelSize: [3, 3],
                                   padsBegin: [0, 2], padsEnd: [1, 1]), act: .clip(min: 0, max: 6), isa: isa, threads: threads, algorithm: algorithm)
            }
        }
    }

    func testGroupedAndPointwise() {
        for isa in KernelISA.supported {
            check(ConvGeometry(inChannels: 8, outChannels: 12, groups: 4, inputSize: [7, 6], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), act: .silu, isa: isa)
            check(ConvGeometry(inChannels: 33, outChannels: 65, inputSize: [5, 7], kernelSize: [1, 1]), batch: 2,
                  act: .hardSwish, isa: isa, threads: 2)
            check(ConvGeometry(inChannels: 6, outChannels: 4, groups: 2, inputSize: [5, 5], kernelSize: [1, 1]),
                  withBias: false, isa: isa)
            // Grouped on 2 threads: whole groups per thread (tasks divisible by the threads), or
            // each group's GEMM split across threads (3 groups).
            check(ConvGeometry(inChannels: 24, outChannels: 44, groups: 4, inputSize: [9, 7], kernelSize: [1, 1]),
                  act: .relu, isa: isa, threads: 2)
            check(ConvGeometry(inChannels: 12, outChannels: 20, groups: 4, inputSize: [6, 5], kernelSize: [3, 3],
                               strides: [2, 1], padsBegin: [1, 0], padsEnd: [0, 1]), batch: 3, isa: isa, threads: 2)
            check(ConvGeometry(inChannels: 9, outChannels: 15, groups: 3, inputSize: [8, 8], kernelSize: [1, 1]),
                  act: .clip(min: 0, max: 6), isa: isa, threads: 2)
            // 1×1 with stride 2 is not pointwise: goes through im2col.
            check(ConvGeometry(inChannels: 16, outChannels: 8, inputSize: [9, 9], kernelSize: [1, 1], strides: [2, 2]), isa: isa)
        }
    }

    func testDepthwiseDirect() {
        for isa in KernelISA.supported {
            for (k, s, p, d) in [(3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 2, 1), (5, 2, 2, 1), (3, 1, 2, 2), (2, 3, 0, 1)] {
                let g = ConvGeometry(inChannels: 7, outChannels: 7, groups: 7, inputSize: [19, 37], kernelSize: [k, k],
                                     strides: [s, s], dilations: [d, d], padsBegin: [p, p], padsEnd: [p, p])
                XCTAssertTrue(g.isDepthwise2D)
                check(g, batch: 2, act: .clip(min: 0, max: 6), isa: isa, threads: 2)
            }
            check(ConvGeometry(inChannels: 3, outChannels: 3, groups: 3, inputSize: [1, 1], kernelSize: [3, 3],
                               padsBegin: [1, 1], padsEnd: [1, 1]), isa: isa)
            check(ConvGeometry(inChannels: 2, outChannels: 2, groups: 2, inputSize: [6, 5], kernelSize: [3, 1],
                               padsBegin: [0, 2], padsEnd: [1, 0]), withBias: false, isa: isa)
        }
    }

    /// The dedicated 3×3 stride-1/2 depthwise kernel: rows run across the plane's row ends, so
    /// widths around 16 and below, tiny planes, zero / asymmetric / large pads and both strides
    /// with odd and even sizes must all match the direct loop.
    func testDepthwise3x3AllPadsStridesAndSizes() {
        let cases: [([Int], Int, [Int], [Int])] = [
            ([7, 7], 1, [1, 1], [1, 1]), ([14, 14], 1, [1, 1], [1, 1]), ([112, 112], 2, [0, 0], [1, 1]),
            ([15, 17], 2, [1, 1], [1, 1]), ([16, 33], 1, [0, 0], [0, 0]), ([9, 5], 2, [0, 1], [1, 0]),
            ([1, 1], 1, [1, 1], [1, 1]), ([2, 2], 2, [1, 1], [1, 1]), ([3, 3], 1, [2, 2], [2, 2]),
            ([4, 6], 2, [2, 0], [0, 2]), ([18, 1], 1, [1, 1], [1, 1]), ([1, 40], 2, [1, 1], [1, 1]),
        ]
        for isa in KernelISA.supported {
            for (k, (size, stride, pb, pe)) in cases.enumerated() {
                let g = ConvGeometry(inChannels: 5, outChannels: 5, groups: 5, inputSize: size, kernelSize: [3, 3],
                                     strides: [stride, stride], padsBegin: pb, padsEnd: pe)
                let acts: [Activation] = [.none, .relu, .clip(min: 0, max: 6), .hardSwish]
                check(g, batch: k % 3 == 0 ? 2 : 1, act: acts[k % 4], withBias: k % 2 == 0, isa: isa, threads: k % 2 == 0 ? 2 : 1,
                      seed: UInt64(40 + k))
                // Nothing is written past the output (vector stores may run across row ends).
                var rng = TestRandom(seed: 3)
                let x = rng.floats(5 * g.inputPlane), w = rng.floats(5 * 9)
                var y = [Float](repeating: -7, count: 5 * g.outputPlane + 40)
                Kernels.conv(ConvWeights(weights: w, geometry: g, isa: isa), input: x, bias: nil, output: &y)
                XCTAssertEqual(Array(y[(5 * g.outputPlane)...]), [Float](repeating: -7, count: 40), "\(isa) \(size) s\(stride)")
            }
        }
    }

    /// The 3×3 depthwise kernel runs tall planes in strips of output rows (each strip refills its
    /// sub-planes from the input rows it shares with the one before), splits stride-2 rows 32
    /// columns at a time with an overlapping last step, and zeroes only the pad slots of each
    /// sub-plane row. Heights that leave a short last strip, widths around 16, 32 and 64, and
    /// pads 0–2 on either side must all match the direct loop.
    func testDepthwise3x3StripsSplitsAndPadSlots() {
        let cases: [([Int], Int, [Int], [Int])] = [
            ([70, 33], 2, [1, 1], [1, 1]), ([45, 64], 2, [0, 0], [1, 1]), ([41, 65], 2, [2, 1], [0, 2]),
            ([37, 31], 2, [1, 2], [2, 0]), ([60, 120], 1, [1, 1], [1, 1]), ([53, 97], 1, [2, 0], [0, 2]),
            ([24, 34], 2, [0, 1], [1, 0]), ([112, 112], 2, [1, 1], [1, 1]), ([9, 66], 2, [1, 0], [0, 1]),
        ]
        for isa in KernelISA.supported {
            for (k, (size, stride, pb, pe)) in cases.enumerated() {
                let g = ConvGeometry(inChannels: 3, outChannels: 3, groups: 3, inputSize: size, kernelSize: [3, 3],
                                     strides: [stride, stride], padsBegin: pb, padsEnd: pe)
                check(g, act: k % 2 == 0 ? .none : .relu, isa: isa, threads: k % 2 == 0 ? 2 : 1, seed: UInt64(70 + k))
            }
        }
    }

    /// Sub-plane slots are reused from plane to plane: a pad slot that kept the previous plane's
    /// value would carry it into the border outputs. Plane 0 is all NaN, plane 1 all 1e30; plane
    /// 2 (ordinary values) must come out as the direct loop gives it, on both strides.
    func testDepthwise3x3PadSlotsDoNotCarryThePreviousPlane() {
        for isa in KernelISA.supported {
            for (size, stride, pad) in [([20, 37], 2, 1), ([19, 40], 2, 2), ([30, 33], 1, 1), ([13, 70], 2, 0)] {
                let g = ConvGeometry(inChannels: 3, outChannels: 3, groups: 3, inputSize: size, kernelSize: [3, 3],
                                     strides: [stride, stride], padsBegin: [pad, pad], padsEnd: [pad, pad])
                var rng = TestRandom(seed: 5)
                let plane = g.inputPlane
                var x = rng.floats(3 * plane)
                for i in 0..<plane { x[i] = .nan; x[plane + i] = 1e30 }
                let w = rng.floats(3 * 9)
                let want = Reference.conv(g, batch: 1, input: x, weights: w, bias: nil, activation: .none)
                var y = [Float](repeating: 0, count: 3 * g.outputPlane)
                Kernels.conv(ConvWeights(weights: w, geometry: g, isa: isa), input: x, bias: nil, output: &y)
                let o = 2 * g.outputPlane
                assertClose(Array(y[o...]), Array(want[o...]), rtol: 1e-4, atol: 1e-4 * 3, "\(isa) \(size) s\(stride) p\(pad)")
            }
        }
    }

    func testOneAndThreeD() {
        for isa in KernelISA.supported {
            check(ConvGeometry(inChannels: 3, outChannels: 4, inputSize: [20], kernelSize: [3], strides: [2], dilations: [2],
                               padsBegin: [1], padsEnd: [2]), isa: isa)
            check(ConvGeometry(inChannels: 2, outChannels: 3, inputSize: [5, 6, 4], kernelSize: [3, 2, 3], strides: [1, 2, 1],
                               padsBegin: [1, 0, 1], padsEnd: [1, 1, 1]), act: .tanh, isa: isa)
        }
    }

    func testGeometryProblems() {
        XCTAssertNotNil(ConvGeometry(inChannels: 3, outChannels: 4, groups: 2, inputSize: [5, 5], kernelSize: [3, 3]).problem)
        XCTAssertNotNil(ConvGeometry(inChannels: 3, outChannels: 4, inputSize: [2, 2], kernelSize: [3, 3]).problem)
        XCTAssertNotNil(ConvGeometry(inChannels: 3, outChannels: 4, inputSize: [5, 5], kernelSize: [3]).problem)
        XCTAssertEqual(ConvGeometry(inChannels: 1, outChannels: 1, inputSize: [224, 224], kernelSize: [7, 7], strides: [2, 2],
                                    padsBegin: [3, 3], padsEnd: [3, 3]).outputSize, [112, 112])
    }

    /// ConvTranspose reference: scatter every input sample through every tap.
    func referenceConvTranspose(_ g: ConvTransposeGeometry, x: [Float], w: [Float], bias: [Float]?) -> [Float] {
        let lead = 3 - g.inputSize.count
        func ext(_ v: [Int], _ f: Int) -> [Int] { Array(repeating: f, count: lead) + v }
        let i = ext(g.inputSize, 1), o = ext(g.outputSize, 1), k = ext(g.kernelSize, 1)
        let s = ext(g.strides, 1), d = ext(g.dilations, 1), p = ext(g.padsBegin, 0)
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        let oPlane = o[0] * o[1] * o[2]
        var y = [Double](repeating: 0, count: g.outChannels * oPlane)
        for co in 0..<g.outChannels { for t in 0..<oPlane { y[co * oPlane + t] = Double(bias?[co] ?? 0) } }
        for ci in 0..<g.inChannels {
            let grp = ci / cig
            for c in 0..<cog {
                let co = grp * cog + c
                for iz in 0..<i[0] { for iy in 0..<i[1] { for ix in 0..<i[2] {
                    let xv = Double(x[((ci * i[0] + iz) * i[1] + iy) * i[2] + ix])
                    for kz in 0..<k[0] { for ky in 0..<k[1] { for kx in 0..<k[2] {
                        let oz = iz * s[0] - p[0] + kz * d[0], oy = iy * s[1] - p[1] + ky * d[1], ox = ix * s[2] - p[2] + kx * d[2]
                        if oz < 0 || oz >= o[0] || oy < 0 || oy >= o[1] || ox < 0 || ox >= o[2] { continue }
                        let wv = Double(w[(((ci * cog + c) * k[0] + kz) * k[1] + ky) * k[2] + kx])
                        y[((co * o[0] + oz) * o[1] + oy) * o[2] + ox] += xv * wv
                    } } }
                } } }
            }
        }
        return y.map { Float($0) }
    }

    func testConvTranspose() {
        let cases: [ConvTransposeGeometry] = [
            ConvTransposeGeometry(inChannels: 3, outChannels: 4, inputSize: [5, 6], kernelSize: [3, 3],
                                  outputSize: ConvTransposeGeometry.defaultOutputSize(inputSize: [5, 6], kernelSize: [3, 3], strides: [2, 2],
                                      dilations: [1, 1], padsBegin: [1, 1], padsEnd: [1, 1], outputPadding: [1, 1]),
                                  strides: [2, 2], padsBegin: [1, 1]),
            ConvTransposeGeometry(inChannels: 4, outChannels: 6, groups: 2, inputSize: [7], kernelSize: [4], outputSize: [19],
                                  strides: [3], dilations: [2], padsBegin: [2]),
            ConvTransposeGeometry(inChannels: 2, outChannels: 3, inputSize: [3, 4, 2], kernelSize: [2, 3, 2],
                                  outputSize: [4, 6, 3], padsBegin: [0, 0, 0]),
        ]
        for isa in KernelISA.supported {
            for (n, g) in cases.enumerated() {
                XCTAssertNil(g.problem)
                var rng = TestRandom(seed: UInt64(10 + n))
                let x = rng.floats(2 * g.inChannels * g.inputSize.reduce(1, *))
                let w = rng.floats(g.inChannels * g.outChannels / g.groups * g.kernelSize.reduce(1, *))
                let bias = rng.floats(g.outChannels)
                let oImage = g.outChannels * g.outputSize.reduce(1, *), iImage = g.inChannels * g.inputSize.reduce(1, *)
                var want = [Float]()
                for img in 0..<2 {
                    want += referenceConvTranspose(g, x: Array(x[(img * iImage)..<((img + 1) * iImage)]), w: w, bias: bias)
                        .map { Reference.activate($0, .leakyRelu(alpha: 0.2)) }
                }
                let tw = ConvTransposeWeights(weights: w, geometry: g, isa: isa)
                var y = [Float](repeating: .nan, count: 2 * oImage)
                Kernels.convTranspose(tw, batch: 2, input: x, bias: bias, activation: .leakyRelu(alpha: 0.2), output: &y, pool: pool2)
                assertClose(y, want, rtol: 1e-4, atol: 1e-4, "convTranspose \(isa) case \(n)")
            }
        }
    }
}
