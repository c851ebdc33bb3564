import EdgeKernels
import XCTest

/// The last, partial NR panel of a GEMM (N not a multiple of the tile width) goes through the
/// narrow tiles on AVX-512: a half-width tile and the columns kernel (output channels along the
/// lanes, several MR panels at once); a row-major B is read in place instead of packed. Checked against the double-precision reference, and bit for
/// bit against the same columns computed by full tiles (the same products summed in the same
/// order): the columns of C = A·B do not depend on how many other columns B has.
final class GEMMTailTests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    /// C = A · B[:, 0..<n] computed with B's first n columns, against the same product with B
    /// widened to a multiple of 32 columns (full tiles only), and against the reference.
    func checkTail(isa: KernelISA, m: Int, n: Int, k: Int, beta: Float = 0, activation: Activation = .none, bias: Int = 0,
                   threads: Int = 1, packedA: Bool = false, seed: UInt64 = 3) {
        var rng = TestRandom(seed: seed)
        let wide = (n + 31) / 32 * 32
        let a = rng.floats(m * k), bWide = rng.floats(k * wide), c0 = rng.floats(m * wide)
        let biasVec = rng.floats(bias == 2 ? wide : m)
        var b = [Float](repeating: 0, count: k * n), cNarrow = [Float](repeating: 0, count: m * n)
        for p in 0..<k { for j in 0..<n { b[p * n + j] = bWide[p * wide + j] } }
        for i in 0..<m { for j in 0..<n { cNarrow[i * n + j] = c0[i * wide + j] } }
        var cWide = c0
        let label = "\(isa) m=\(m) n=\(n) k=\(k) β=\(beta) \(activation) bias=\(bias) t=\(threads) packedA=\(packedA)"
        biasVec.withUnsafeBufferPointer { bp in
            let epi = Epilogue(bias: bias == 0 ? .none : bias == 1 ? .perRow(bp.baseAddress!) : .perColumn(bp.baseAddress!),
                               activation: activation)
            let pool = threads == 2 ? pool2 : nil
            Kernels.sgemm(m: m, n: wide, k: k, a: a, lda: k, b: bWide, ldb: wide, beta: beta, c: &cWide, ldc: wide,
                          epilogue: epi, pool: pool, isa: isa)
            if packedA {
                let pa = PackedMatrix(packingA: a, m: m, k: k, lda: k, isa: isa)
                Kernels.sgemm(packedA: pa, n: n, b: b, ldb: n, beta: beta, c: &cNarrow, ldc: n, epilogue: epi, pool: pool)
            } else {
                Kernels.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, beta: beta, c: &cNarrow, ldc: n,
                              epilogue: epi, pool: pool, isa: isa)
            }
        }
        var want = Reference.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                                  beta: beta, c: (0..<(m * n)).map { c0[$0 / n * wide + $0 % n] }, ldc: n)
        var mismatches = 0
        for i in 0..<m { for j in 0..<n {
            let bv: Float = bias == 0 ? 0 : bias == 1 ? biasVec[i] : biasVec[j]
            want[i * n + j] = Reference.activate(want[i * n + j] + bv, activation)
            if cNarrow[i * n + j] != cWide[i * wide + j] { mismatches += 1 }
        } }
        XCTAssertEqual(mismatches, 0, "not bit-identical to full tiles: \(label)")
        assertClose(cNarrow, want, rtol: 1e-4, atol: 1e-4 * Float(k).squareRoot(), label)
    }

    /// Every tail width 1…31 (half tile + 0…15 columns, columns alone, the full tile for 30 and
    /// 31), ragged M (last panel of 1…13 rows; 1…4 panels per columns call) and odd K.
    func testEveryTailWidth() {
        for isa in KernelISA.supported {
            for tail in 1...31 {
                let m = [15, 29, 43, 57, 71, 14][tail % 6]
                checkTail(isa: isa, m: m, n: 32 + tail, k: 37 + tail, activation: .relu, bias: 1, seed: UInt64(tail))
            }
        }
    }

    /// N = 49, 196 and 169 (MobileNetV2's and ResNet-50's 7×7 and 14×14 stages, SqueezeNet's
    /// 13×13) over several k-blocks, with beta, row and column bias, fused and unfused
    /// activations, a pre-packed left operand (as convolutions run) and 2 threads.
    func testNetworkShapes() {
        for isa in KernelISA.supported {
            for threads in [1, 2] {
                checkTail(isa: isa, m: 61, n: 49, k: 600, beta: 0.5, activation: .clip(min: -0.2, max: 0.4), bias: 1, threads: threads)
                checkTail(isa: isa, m: 40, n: 196, k: 257, activation: .sigmoid, bias: 2, threads: threads, packedA: true)
                checkTail(isa: isa, m: 33, n: 169, k: 48, beta: 1, activation: .relu, threads: threads, packedA: true)
                checkTail(isa: isa, m: 9, n: 49, k: 20, bias: 1, threads: threads)
            }
        }
    }

    /// A row-major B is read in place (no packing): bit for bit the same as from a pre-packed B,
    /// for small and ragged M (1 to 3 MR panels, last panels of 2…13 rows), every kind of last
    /// column panel, a row stride larger than N, several k-blocks, beta, both biases, fused and
    /// unfused activations, on 1 and 2 threads; and close to the reference.
    func testInPlaceBMatchesPackedB() {
        var rng = TestRandom(seed: 29)
        for isa in KernelISA.supported {
            for (m, n, k, pad) in [(8, 49, 300, 0), (16, 169, 64, 3), (24, 3136 / 8, 144, 0), (13, 33, 517, 5), (41, 90, 7, 1), (30, 47, 1, 0)] {
                for threads in [1, 2] {
                    let ldb = n + pad
                    let a = rng.floats(m * k), b = rng.floats(k * ldb), c0 = rng.floats(m * n), bias = rng.floats(max(m, n))
                    let act: Activation = threads == 1 ? .relu : .hardSwish
                    let epi = Epilogue(bias: m % 2 == 0 ? .perRow(bias) : .perColumn(bias), activation: act)
                    let beta: Float = k % 2 == 0 ? 0 : 0.75
                    var inPlace = c0, packed = c0
                    let pool = threads == 2 ? pool2 : nil
                    Kernels.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: ldb, beta: beta, c: &inPlace, ldc: n,
                                  epilogue: epi, pool: pool, isa: isa)
                    let pb = PackedMatrix(packingB: b, k: k, n: n, ldb: ldb, isa: isa)
                    Kernels.sgemm(m: m, a: a, lda: k, packedB: pb, beta: beta, c: &packed, ldc: n, epilogue: epi, pool: pool)
                    let label = "\(isa) m=\(m) n=\(n) k=\(k) ldb=\(ldb) t=\(threads)"
                    XCTAssertEqual(inPlace, packed, label)
                    var want = Reference.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: ldb,
                                              beta: beta, c: c0, ldc: n)
                    for i in 0..<m { for j in 0..<n {
                        want[i * n + j] = Reference.activate(want[i * n + j] + (m % 2 == 0 ? bias[i] : bias[j]), act)
                    } }
                    assertClose(inPlace, want, rtol: 1e-4, atol: 1e-4 * Float(k).squareRoot(), label)
                }
            }
        }
    }

    /// Pointwise convolutions at N = 49 and 196 against the direct reference.
    func testPointwiseConvSmallPlanes() {
        var rng = TestRandom(seed: 17)
        for isa in KernelISA.supported {
            for (cin, cout, hw) in [(40, 90, 7), (17, 29, 14), (64, 16, 13)] {
                let g = ConvGeometry(inChannels: cin, outChannels: cout, inputSize: [hw, hw], kernelSize: [1, 1])
                let x = rng.floats(cin * hw * hw), w = rng.floats(cout * cin), bias = rng.floats(cout)
                let weights = ConvWeights(weights: w, geometry: g, isa: isa)
                var y = [Float](repeating: 0, count: cout * hw * hw)
                Kernels.conv(weights, input: x, bias: bias, activation: .relu, output: &y, pool: pool2)
                let want = Reference.conv(g, batch: 1, input: x, weights: w, bias: bias, activation: .relu)
                assertClose(y, want, rtol: 1e-4, atol: 1e-4 * Float(cin).squareRoot(), "\(isa) \(cin)->\(cout) \(hw)²")
            }
        }
    }
}
