import EdgeKernels
import XCTest

/// The VNNI int8 GEMM and convolution against a naive int32 reference (and the float-exact
/// fallback reached through `isa:`), bit for bit, on shapes that are not multiples of the 8×32
/// tile, K not a multiple of 4, every signedness pair, scalar and per-index zero points.
final class VNNITests: XCTestCase {
    let pools = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]

    /// Σ (a − za)(b − zb) in wrapping int32 arithmetic: the exact sum modulo 2³², which is what
    /// int32 accumulation means (and is exact whenever the sum fits).
    func reference(m: Int, n: Int, k: Int, a: [UInt8], aSigned: Bool, za: [Int32], b: [UInt8], bSigned: Bool, zb: [Int32]) -> [Int32] {
        func v(_ x: UInt8, _ s: Bool) -> Int32 { s ? Int32(Int8(bitPattern: x)) : Int32(x) }
        var c = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            let zi = za.count == 1 ? za[0] : za[i]
            for j in 0..<n {
                let zj = zb.count == 1 ? zb[0] : zb[j]
                var s: Int32 = 0
                for p in 0..<k { s &+= (v(a[i * k + p], aSigned) &- zi) &* (v(b[p * n + j], bSigned) &- zj) }
                c[i * n + j] = s
            }
        }
        return c
    }

    /// Random bytes with runs of the extremes (0x00, 0x7F, 0x80, 0xFF).
    func bytes(_ count: Int, _ rng: inout TestRandom) -> [UInt8] {
        (0..<count).map { _ in
            let r = rng.next()
            switch r % 7 {
            case 0: return 0x80
            case 1: return 0xFF
            case 2: return 0x7F
            case 3: return 0
            default: return UInt8(truncatingIfNeeded: r >> 8)
            }
        }
    }

    func zeroPoints(_ count: Int, signed: Bool, perIndex: Bool, _ rng: inout TestRandom) -> [Int32] {
        let extremes: [Int32] = signed ? [-128, 127, 0, -1] : [0, 255, 128, 1]
        if !perIndex { return [extremes[Int(rng.next() % 4)]] }
        return (0..<count).map { i in i % 3 == 0 ? extremes[i % 4] : (signed ? Int32(Int8(truncatingIfNeeded: rng.next())) : Int32(UInt8(truncatingIfNeeded: rng.next()))) }
    }

    func testGEMMMatchesReferenceOnOddShapesEverySignednessAndZeroPointKind() {
        let shapes = [(1, 1, 1), (1, 33, 3), (2, 50, 257), (3, 31, 1000), (4, 64, 5), (5, 1, 7), (9, 33, 257),
                      (17, 65, 1000), (8, 32, 4), (23, 97, 3), (40, 7, 130)]
        let isas: [KernelISA?] = [nil] + (KernelISA.supported.contains(.avx2) ? [KernelISA.avx2] : [KernelISA.portable])
        var checked = 0
        for isa in isas {
            for (aS, bS) in [(false, true), (true, true), (false, false), (true, false)] {
                for perIndex in [false, true] {
                    for (si, (m, n, k)) in shapes.enumerated() {
                        var rng = TestRandom(seed: UInt64(si * 131 + (aS ? 7 : 0) + (bS ? 3 : 0) + (perIndex ? 1 : 0) + 1))
                        let a = bytes(m * k, &rng), b = bytes(k * n, &rng)
                        let za = zeroPoints(m, signed: aS, perIndex: perIndex, &rng)
                        let zb = zeroPoints(n, signed: bS, perIndex: perIndex, &rng)
                        let want = reference(m: m, n: n, k: k, a: a, aSigned: aS, za: za, b: b, bSigned: bS, zb: zb)
                        let pool = pools[si % pools.count]
                        let what = "isa \(isa.map { $0.rawValue } ?? "active") a\(aS ? "s" : "u")8 b\(bS ? "s" : "u")8 \(perIndex ? "per-index" : "scalar") \(m)x\(n)x\(k) threads \(pool.threadCount)"
                        za.withUnsafeBufferPointer { zap in
                            zb.withUnsafeBufferPointer { zbp in
                                let aZP: ZeroPoint = perIndex ? .perIndex(zap.baseAddress!) : .scalar(za[0])
                                let bZP: ZeroPoint = perIndex ? .perIndex(zbp.baseAddress!) : .scalar(zb[0])
                                var c = [Int32](repeating: 7, count: m * n)
                                Kernels.gemmInt8(m: m, n: n, k: k, a: a, aSigned: aS, lda: k, aZeroPoint: aZP,
                                                 b: b, bSigned: bS, ldb: n, bZeroPoint: bZP, c: &c, ldc: n, pool: pool, isa: isa)
                                XCTAssertEqual(c, want, "raw B, " + what)
                                let packed = PackedInt8Matrix(packing: b, signed: bS, k: k, n: n, ldb: n, zeroPoints: zb, isa: isa)
                                XCTAssertEqual(packed.isVNNI, Kernels.int8UsesVNNI(isa: isa))
                                var c2 = [Int32](repeating: 7, count: m * n)
                                Kernels.gemmInt8(m: m, a: a, aSigned: aS, lda: k, aZeroPoint: aZP, packedB: packed, c: &c2, ldc: n, pool: pool)
                                XCTAssertEqual(c2, want, "packed B, " + what)
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(checked, isas.count * 4 * 2 * shapes.count)
    }

    /// Strided operands and output (lda > k, ldb > n, ldc > n) land where they should and leave
    /// the gaps alone.
    func testLeadingDimensions() {
        let (m, n, k, lda, ldb, ldc) = (11, 37, 29, 40, 50, 45)
        var rng = TestRandom(seed: 5)
        let a = bytes(m * lda, &rng), b = bytes(k * ldb, &rng)
        var aDense = [UInt8](), bDense = [UInt8]()
        for i in 0..<m { aDense += a[(i * lda)..<(i * lda + k)] }
        for p in 0..<k { bDense += b[(p * ldb)..<(p * ldb + n)] }
        let want = reference(m: m, n: n, k: k, a: aDense, aSigned: false, za: [3], b: bDense, bSigned: true, zb: [-2])
        var c = [Int32](repeating: 99, count: m * ldc)
        Kernels.gemmInt8(m: m, n: n, k: k, a: a, aSigned: false, lda: lda, aZeroPoint: .scalar(3),
                         b: b, bSigned: true, ldb: ldb, bZeroPoint: .scalar(-2), c: &c, ldc: ldc, pool: pools[1])
        for i in 0..<m {
            XCTAssertEqual(Array(c[(i * ldc)..<(i * ldc + n)]), Array(want[(i * n)..<(i * n + n)]), "row \(i)")
            XCTAssertEqual(Array(c[(i * ldc + n)..<(i * ldc + ldc)]), [Int32](repeating: 99, count: ldc - n), "gap of row \(i)")
        }
    }

    /// Sums that leave int32: they wrap exactly as int32 accumulation does, on the VNNI path (also
    /// with zero points far outside the byte range, which only the int32 corrections handle)
    /// and on the float-exact path for byte-range zero points.
    func testInt32WrapAround() {
        let (m, n, k) = (3, 35, 40_000)
        let a = [UInt8](repeating: 255, count: m * k)
        var b = [UInt8](repeating: 0x80, count: k * n)  // int8 −128
        for p in stride(from: 0, to: k * n, by: 97) { b[p] = 0x7F }
        for (za, zb) in [(Int32(0), Int32(127)), (Int32(0), Int32(0)), (Int32(-70_000), Int32(100_000))] {
            let want = reference(m: m, n: n, k: k, a: a, aSigned: false, za: [za], b: b, bSigned: true, zb: [zb])
            // 255 · (−128 − 127) · 40000 = −2.6e9: below Int32.min, so the reference did wrap.
            if za == 0 && zb == 127 { XCTAssertGreaterThan(want[0], 0, "the expected sum wrapped") }
            var isas: [KernelISA?] = [nil]
            if (-128...255).contains(za) && (-128...255).contains(zb) { isas.append(.portable) }
            for isa in isas {
                for packed in [false, true] {
                    var c = [Int32](repeating: 0, count: m * n)
                    if packed {
                        let pb = PackedInt8Matrix(packing: b, signed: true, k: k, n: n, ldb: n, zeroPoints: [zb], isa: isa)
                        Kernels.gemmInt8(m: m, a: a, aSigned: false, lda: k, aZeroPoint: .scalar(za), packedB: pb, c: &c, ldc: n, pool: pools[1])
                    } else {
                        Kernels.gemmInt8(m: m, n: n, k: k, a: a, aSigned: false, lda: k, aZeroPoint: .scalar(za),
                                         b: b, bSigned: true, ldb: n, bZeroPoint: .scalar(zb), c: &c, ldc: n, pool: pools[1], isa: isa)
                    }
                    XCTAssertEqual(c, want, "za \(za) zb \(zb) isa \(isa.map { $0.rawValue } ?? "active") packed \(packed)")
                }
            }
        }
    }

    func testPackedWeightsAreHeldAsBytes() throws {
        try XCTSkipUnless(Kernels.int8UsesVNNI(), "no AVX-512 VNNI on this CPU")
        let (k, n) = (576, 256)
        let b = [UInt8](repeating: 1, count: k * n)
        let vnni = PackedInt8Matrix(packing: b, signed: true, k: k, n: n, ldb: n, zeroPoints: [0])
        let float = PackedInt8Matrix(packing: b, signed: true, k: k, n: n, ldb: n, zeroPoints: [0], isa: .avx2)
        // k·n bytes of weights + 8 bytes of corrections per column; the float form holds 4 bytes each.
        XCTAssertEqual(vnni.byteCount, k * n + n * 8)
        XCTAssertEqual(float.byteCount, k * n * 4)
        let g = ConvGeometry(inChannels: 64, outChannels: 24, inputSize: [9, 9], kernelSize: [3, 3])
        let w = [UInt8](repeating: 3, count: 24 * 64 * 9)
        let cw = Int8ConvWeights(weights: w, signed: true, zeroPoints: [0], geometry: g)
        XCTAssertTrue(cw.isVNNI)
        XCTAssertEqual(cw.byteCount, 24 * 64 * 9 + 3 * 16 * 4)
    }

    /// Naive int32 convolution: the input padded with its zero point (0 after the shift).
    func referenceConv(_ g: ConvGeometry, batch: Int, x: [UInt8], xSigned: Bool, zx: Int32, w: [UInt8], wSigned: Bool, zw: [Int32]) -> [Int32] {
        let (i, o, k, s, d, p) = (g.inputSize, g.outputSize, g.kernelSize, g.strides, g.dilations, g.padsBegin)
        let r = g.rank
        func pad3(_ v: [Int], _ f: Int) -> [Int] { [Int](repeating: f, count: 3 - r) + v }
        let (i3, o3, k3, s3, d3, p3) = (pad3(i, 1), pad3(o, 1), pad3(k, 1), pad3(s, 1), pad3(d, 1), pad3(p, 0))
        let cig = g.inChannels / g.groups, cog = g.outChannels / g.groups
        func xv(_ b: UInt8) -> Int32 { xSigned ? Int32(Int8(bitPattern: b)) : Int32(b) }
        func wv(_ b: UInt8) -> Int32 { wSigned ? Int32(Int8(bitPattern: b)) : Int32(b) }
        var y = [Int32](repeating: 0, count: batch * g.outChannels * g.outputPlane)
        for bi in 0..<batch { for co in 0..<g.outChannels {
            let grp = co / cog, z = zw.count == 1 ? zw[0] : zw[co]
            for oz in 0..<o3[0] { for oy in 0..<o3[1] { for ox in 0..<o3[2] {
                var acc: Int32 = 0
                for ci in 0..<cig { for kz in 0..<k3[0] { for ky in 0..<k3[1] { for kx in 0..<k3[2] {
                    let iz = oz * s3[0] - p3[0] + kz * d3[0], iy = oy * s3[1] - p3[1] + ky * d3[1], ix = ox * s3[2] - p3[2] + kx * d3[2]
                    guard iz >= 0, iz < i3[0], iy >= 0, iy < i3[1], ix >= 0, ix < i3[2] else { continue }
                    let c = grp * cig + ci
                    let xval = xv(x[((bi * g.inChannels + c) * i3[0] + iz) * i3[1] * i3[2] + iy * i3[2] + ix]) &- zx
                    let wval = wv(w[((co * cig + ci) * k3[0] + kz) * k3[1] * k3[2] + ky * k3[2] + kx]) &- z
                    acc &+= xval &* wval
                } } } }
                y[((bi * g.outChannels + co) * o3[0] + oz) * o3[1] * o3[2] + oy * o3[2] + ox] = acc
            } } }
        } }
        return y
    }

    func testConvMatchesReference() {
        let geometries = [
            ConvGeometry(inChannels: 5, outChannels: 11, inputSize: [9, 10], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
            ConvGeometry(inChannels: 6, outChannels: 10, groups: 2, inputSize: [9, 8], kernelSize: [3, 3], strides: [2, 1],
                         padsBegin: [1, 1], padsEnd: [1, 0]),
            ConvGeometry(inChannels: 7, outChannels: 17, inputSize: [6, 7], kernelSize: [1, 1]),  // pointwise
            ConvGeometry(inChannels: 3, outChannels: 9, inputSize: [23], kernelSize: [5], strides: [2], dilations: [2],
                         padsBegin: [3], padsEnd: [1]),
            ConvGeometry(inChannels: 4, outChannels: 8, inputSize: [16, 15], kernelSize: [3, 3], strides: [2, 2],
                         dilations: [2, 1], padsBegin: [2, 0], padsEnd: [1, 2]),
            ConvGeometry(inChannels: 2, outChannels: 3, inputSize: [3, 4, 5], kernelSize: [2, 3, 2], padsBegin: [1, 1, 0], padsEnd: [0, 1, 1]),
            ConvGeometry(inChannels: 4, outChannels: 4, groups: 4, inputSize: [7, 7], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
        ]
        for (gi, g) in geometries.enumerated() {
            for (xS, wS) in [(false, true), (true, true), (false, false), (true, false)] {
                for perChannel in [false, true] {
                    var rng = TestRandom(seed: UInt64(gi * 17 + (xS ? 2 : 0) + (wS ? 1 : 0) + (perChannel ? 8 : 0) + 3))
                    let batch = 2
                    let x = bytes(batch * g.inChannels * g.inputPlane, &rng)
                    let w = bytes(g.outChannels * g.reductionSize, &rng)
                    let zx = zeroPoints(1, signed: xS, perIndex: false, &rng)[0]
                    let zw = zeroPoints(g.outChannels, signed: wS, perIndex: perChannel, &rng)
                    let want = referenceConv(g, batch: batch, x: x, xSigned: xS, zx: zx, w: w, wSigned: wS, zw: zw)
                    for isa in [nil, KernelISA.portable] as [KernelISA?] {
                        let cw = Int8ConvWeights(weights: w, signed: wS, zeroPoints: zw, geometry: g, isa: isa)
                        let pool = pools[(gi + (perChannel ? 1 : 0)) % pools.count]
                        var y = [Int32](repeating: 7, count: want.count)
                        Kernels.convInt8(cw, batch: batch, input: x, inputSigned: xS, inputZeroPoint: zx, output: &y, pool: pool)
                        XCTAssertEqual(y, want, "conv \(gi) x\(xS ? "s" : "u")8 w\(wS ? "s" : "u")8 per-channel \(perChannel) isa \(isa.map { $0.rawValue } ?? "active") threads \(pool.threadCount)")
                    }
                }
            }
        }
    }

    /// Re-targeting packed conv weights to another input size computes that size's conv.
    func testConvWeightsRetargetToAnotherInputSize() {
        let g1 = ConvGeometry(inChannels: 6, outChannels: 9, inputSize: [5, 5], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1])
        var g2 = g1; g2.inputSize = [12, 7]
        var rng = TestRandom(seed: 44)
        let x = bytes(6 * 12 * 7, &rng), w = bytes(9 * 54, &rng)
        let zw = zeroPoints(9, signed: true, perIndex: true, &rng)
        let cw = Int8ConvWeights(weights: w, signed: true, zeroPoints: zw, geometry: g1).with(geometry: g2)
        var y = [Int32](repeating: 0, count: 9 * g2.outputPlane)
        Kernels.convInt8(cw, input: x, inputSigned: false, inputZeroPoint: 17, output: &y, pool: pools[1])
        XCTAssertEqual(y, referenceConv(g2, batch: 1, x: x, xSigned: false, zx: 17, w: w, wSigned: true, zw: zw))
    }

    /// Requantization (vectorised where VNNI runs) gives the scalar formula's bytes: exact .5 ties
    /// (scale 0.5 on odd sums) round to even, huge sums saturate, rows not a multiple of 16 lanes.
    func testRequantizeMatchesScalarFormula() {
        var rng = TestRandom(seed: 9)
        let rows = 5, cols = 37
        for scaleKind in 0..<4 {
            let acc: [Int32] = (0..<(rows * cols)).map { i in
                switch i % 4 {
                case 0: return Int32(truncatingIfNeeded: rng.next())
                case 1: return Int32(rng.int(-600...600)) | 1
                default: return Int32(rng.int(-100_000...100_000))
                }
            }
            let bias: [Int32] = (0..<rows).map { _ in Int32(rng.int(-1000...1000)) }
            let scales: [Float] = (0..<rows).map { r in [0.5, 0.25, 1.0 / 3, 0.0123][(scaleKind + r) % 4] }
            for signed in [false, true] {
                let zp: Int32 = signed ? -3 : 131
                var want = [UInt8](repeating: 0, count: acc.count)
                for r in 0..<rows { for c in 0..<cols {
                    let v = (Float(acc[r * cols + c] &+ bias[r]) * scales[r]).rounded(.toNearestOrEven) + Float(zp)
                    let q = min(max(v, signed ? -128 : 0), signed ? 127 : 255)
                    want[r * cols + c] = UInt8(truncatingIfNeeded: Int32(q))
                } }
                var got = [UInt8](repeating: 0, count: acc.count)
                scales.withUnsafeBufferPointer { sp in
                    Kernels.requantize(acc, rows: rows, cols: cols, bias: bias, multiplier: .perRow(sp.baseAddress!),
                                       zeroPoint: zp, outputSigned: signed, dst: &got)
                }
                XCTAssertEqual(got, want, "scales \(scales) signed \(signed)")
            }
        }
    }
}
