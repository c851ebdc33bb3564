import EdgeKernels
import XCTest

final class SGEMMTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    func check(isa: KernelISA, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
               pad: Int = 0, epilogue: Activation = .none, bias: Int = 0, threads: Int = 1, seed: UInt64 = 1) {
        var rng = TestRandom(seed: seed)
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let a = rng.floats((transA ? k : m) * lda), b = rng.floats((transB ? n : k) * ldb)
        let c0 = rng.floats(m * ldc)
        let biasVec = rng.floats(bias == 1 ? m : n)
        var want = Reference.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                  b: b, ldb: ldb, beta: beta, c: c0, ldc: ldc)
        for i in 0..<m { for j in 0..<n {
            let bv: Float = bias == 0 ? 0 : (bias == 1 ? biasVec[i] : biasVec[j])
            want[i * ldc + j] = Reference.activate(want[i * ldc + j] + bv, epilogue)
        } }
        var c = c0
        biasVec.withUnsafeBufferPointer { bp in
            let epi = Epilogue(bias: bias == 0 ? .none : bias == 1 ? .perRow(bp.baseAddress!) : .perColumn(bp.baseAddress!),
                               activation: epilogue)
            Kernels.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: &c, ldc: ldc, epilogue: epi, pool: threads == 2 ? pool2 : nil, isa: isa)
        }
        assertClose(c, want, rtol: 1e-4, atol: 1e-4 * Float(k).squareRoot(),
                    "\(isa) tA=\(transA) tB=\(transB) m=\(m) n=\(n) k=\(k) α=\(alpha) β=\(beta) pad=\(pad) \(epilogue) bias=\(bias) t=\(threads)")
    }

    func testOddSizesEveryISA() {
        for isa in KernelISA.supported {
            for (m, n, k) in [(1, 1, 1), (3, 17, 5), (17, 3, 63), (63, 65, 17), (65, 63, 257), (15, 33, 300), (29, 100, 1)] {
                check(isa: isa, transA: false, transB: false, m: m, n: n, k: k)
            }
        }
    }

    func testTransposesStridesAlphaBeta() {
        for isa in KernelISA.supported {
            for tA in [false, true] { for tB in [false, true] {
                check(isa: isa, transA: tA, transB: tB, m: 37, n: 45, k: 70, alpha: 0.5, beta: 0, pad: 3)
                check(isa: isa, transA: tA, transB: tB, m: 20, n: 33, k: 9, alpha: 1, beta: 1, pad: 1)
                check(isa: isa, transA: tA, transB: tB, m: 57, n: 18, k: 261, alpha: -2, beta: 0.25, pad: 5)
            } }
        }
    }

    /// m ≤ MR/2 takes the one-row kernel: every small m, transposed A, alpha/beta, both biases, 2 threads.
    func testSmallMRowKernel() {
        for isa in KernelISA.supported {
            for m in 1...7 {
                check(isa: isa, transA: m % 2 == 0, transB: false, m: m, n: 77, k: 300, alpha: 1.5, beta: 0.5, pad: 2,
                      epilogue: .relu, bias: 1 + m % 2, threads: 1 + m % 2)
            }
            check(isa: isa, transA: false, transB: true, m: 2, n: 33, k: 1, threads: 2)
        }
        var rng = TestRandom(seed: 21)
        let k = 70, n = 50
        let a = rng.floats(3 * k), b = rng.floats(k * n)
        for isa in KernelISA.supported {
            var want = [Float](repeating: 0, count: 3 * n), got = want
            Kernels.sgemm(m: 3, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &want, ldc: n, isa: .portable)
            Kernels.sgemm(m: 3, a: a, lda: k, packedB: PackedMatrix(packingB: b, k: k, n: n, ldb: n, isa: isa), c: &got, ldc: n, pool: pool2)
            assertClose(got, want, rtol: 1e-5, atol: 1e-5, "small m packed B \(isa)")
        }
    }

    func testEmptyDimensions() {
        // k == 0: the product is empty, C = beta·C then the epilogue; m or n == 0 touches nothing.
        var c: [Float] = [1, -2, 3, -4]
        let bias: [Float] = [10, 20]
        let none: [Float] = [0]
        Kernels.sgemm(m: 2, n: 2, k: 0, a: none, lda: 1, b: none, ldb: 2, beta: 0.5, c: &c, ldc: 2,
                      epilogue: Epilogue(bias: .perColumn(bias), activation: .relu))
        XCTAssertEqual(c, [10.5, 19, 11.5, 18])
        var untouched: [Float] = [7]
        Kernels.sgemm(m: 0, n: 1, k: 3, a: none, lda: 3, b: none, ldb: 1, c: &untouched, ldc: 1)
        Kernels.sgemm(m: 1, n: 0, k: 3, a: none, lda: 3, b: none, ldb: 1, c: &untouched, ldc: 1)
        XCTAssertEqual(untouched, [7])
    }

    func testBetaZeroIgnoresNaNInC() {
        var c = [Float](repeating: .nan, count: 4)
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [1, 0, 0, 1]
        Kernels.sgemm(m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, beta: 0, c: &c, ldc: 2)
        XCTAssertEqual(c, [1, 2, 3, 4])
    }

    func testEveryEpilogue() {
        let acts: [Activation] = [.none, .relu, .clip(min: 0, max: 6), .clip(min: -0.3, max: 0.2), .leakyRelu(alpha: 0.1),
                                  .sigmoid, .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .silu, .tanh, .gelu]
        for isa in KernelISA.supported {
            for act in acts { for bias in 0...2 {
                check(isa: isa, transA: false, transB: false, m: 19, n: 37, k: 23, pad: 2, epilogue: act, bias: bias)
            } }
        }
    }

    /// M not a multiple of the tile height: the last MR panel's full-width tiles store their rows
    /// in place (AVX-512 `tileFusedRows`), over several k-blocks, with beta, a per-row bias and
    /// fused or unfused activations, on 1 and 2 threads.
    func testRaggedRowPanels() {
        for isa in KernelISA.supported {
            for threads in [1, 2] {
                check(isa: isa, transA: false, transB: false, m: 31, n: 101, k: 300, beta: 0.5, epilogue: .clip(min: -0.2, max: 0.4),
                      bias: 1, threads: threads)
                check(isa: isa, transA: false, transB: false, m: 27, n: 70, k: 513, epilogue: .sigmoid, bias: 1, threads: threads)
                check(isa: isa, transA: true, transB: false, m: 9, n: 64, k: 40, beta: 1, epilogue: .relu, threads: threads)
                check(isa: isa, transA: false, transB: true, m: 17, n: 96, k: 7, bias: 2, threads: threads)
                // Last panels of 8, 6 and 2 rows (AVX-512 multiplies only 8 or 4 rows for them).
                check(isa: isa, transA: false, transB: false, m: 64, n: 96, k: 27, epilogue: .relu, bias: 1, threads: threads)
                check(isa: isa, transA: false, transB: false, m: 20, n: 64, k: 300, beta: 0.5, epilogue: .clip(min: -0.2, max: 0.4),
                      bias: 1, threads: threads)
                check(isa: isa, transA: false, transB: false, m: 16, n: 160, k: 32, bias: 1, threads: threads)
            }
        }
    }

    func testTwoThreadsMatchReference() {
        for isa in KernelISA.supported {
            check(isa: isa, transA: false, transB: false, m: 257, n: 129, k: 300, threads: 2)
            check(isa: isa, transA: true, transB: true, m: 5, n: 513, k: 40, beta: 1, epilogue: .relu, bias: 1, threads: 2)
            check(isa: isa, transA: false, transB: false, m: 300, n: 4200, k: 3, alpha: 2, threads: 2)
        }
    }

    func testPackedOperandsMatchUnpacked() {
        var rng = TestRandom(seed: 9)
        let m = 45, n = 71, k = 300
        let a = rng.floats(m * k), b = rng.floats(k * n), bias = rng.floats(n)
        for isa in KernelISA.supported {
            var want = [Float](repeating: 0, count: m * n)
            Kernels.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &want, ldc: n,
                          epilogue: Epilogue(bias: .perColumn(bias), activation: .relu), isa: isa)
            let pb = PackedMatrix(packingB: b, k: k, n: n, ldb: n, isa: isa)
            var got = [Float](repeating: 0, count: m * n)
            Kernels.sgemm(m: m, a: a, lda: k, packedB: pb, c: &got, ldc: n,
                          epilogue: Epilogue(bias: .perColumn(bias), activation: .relu), pool: pool2)
            XCTAssertEqual(got, want, "packed B \(isa)")
            let pa = PackedMatrix(packingA: a, m: m, k: k, lda: k, isa: isa)
            got = [Float](repeating: 0, count: m * n)
            Kernels.sgemm(packedA: pa, n: n, b: b, ldb: n, c: &got, ldc: n,
                          epilogue: Epilogue(bias: .perColumn(bias), activation: .relu), pool: pool2)
            XCTAssertEqual(got, want, "packed A \(isa)")
        }
    }

    func testActivationSpecialValues() {
        // NaN propagates; ±inf saturate sensibly.
        for isa in KernelISA.supported {
            for act in [Activation.relu, .sigmoid, .tanh, .silu, .clip(min: 0, max: 6), .leakyRelu(alpha: 0.1)] {
                var v: [Float] = [.nan, .infinity, -.infinity, 0, 1e-6, -1e-6, 100, -100, 0.4999, 0.5001]
                Kernels.applyEpilogue(&v, m: 1, n: v.count, ldc: v.count, epilogue: Epilogue(activation: act), isa: isa)
                XCTAssertTrue(v[0].isNaN, "\(isa) \(act) NaN")
                let inputs: [Float] = [.infinity, -.infinity, 0, 1e-6, -1e-6, 100, -100, 0.4999, 0.5001]
                for (t, x) in inputs.enumerated() {
                    let want = Reference.activate(x, act)
                    let got = v[t + 1]
                    XCTAssertTrue(got == want || (got.isNaN && want.isNaN) || abs(got - want) <= 2e-6 * abs(want) + 1e-40, "\(isa) \(act)(\(x)) = \(got), want \(want)")
                }
            }
        }
    }
}
