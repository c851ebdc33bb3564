import EdgeKernels
import XCTest

final class Int8Tests: XCTestCase {
    let pool2 = ThreadPool(threads: 2)

    /// Exact int64 reference of Σ (a − za)(b − zb).
    func reference(m: Int, n: Int, k: Int, a: [UInt8], aSigned: Bool, za: [Int32], b: [UInt8], bSigned: Bool, zb: [Int32]) -> [Int32] {
        func v(_ x: UInt8, _ s: Bool) -> Int64 { s ? Int64(Int8(bitPattern: x)) : Int64(x) }
        var c = [Int32](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Int64 = 0
            for p in 0..<k {
                s += (v(a[i * k + p], aSigned) - Int64(za.count == 1 ? za[0] : za[i])) * (v(b[p * n + j], bSigned) - Int64(zb.count == 1 ? zb[0] : zb[j]))
            }
            c[i * n + j] = Int32(s)
        } }
        return c
    }

    func testExactForEverySignednessAndExtremeValues() {
        for isa in KernelISA.supported {
            for (aS, bS) in [(false, true), (true, true), (false, false), (true, false)] {
                // m = 1, 3 take the one-row kernel on every ISA with MR ≥ 6.
                for (m, n, k) in [(1, 1, 1), (1, 70, 600), (3, 17, 63), (17, 65, 257), (33, 40, 1000)] {
                    var rng = TestRandom(seed: UInt64(m * 1000 + n + k))
                    // Extremes: all 255/−128 blocks make the worst-case partial sums.
                    var a = (0..<(m * k)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    var b = (0..<(k * n)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    for p in 0..<k { a[p] = aS ? 0x80 : 0xFF; b[p * n] = bS ? 0x80 : 0xFF }
                    let za: [Int32] = [aS ? 127 : 0]
                    let zb: [Int32] = (0..<n).map { j in Int32(bS ? (j % 2 == 0 ? 127 : -128) : (j % 2 == 0 ? 255 : 0)) }
                    let want = reference(m: m, n: n, k: k, a: a, aSigned: aS, za: za, b: b, bSigned: bS, zb: zb)
                    var c = [Int32](repeating: 7, count: m * n)
                    zb.withUnsafeBufferPointer { zbp in
                        Kernels.gemmInt8(m: m, n: n, k: k, a: a, aSigned: aS, lda: k, aZeroPoint: .scalar(za[0]),
                                         b: b, bSigned: bS, ldb: n, bZeroPoint: .perIndex(zbp.baseAddress!), c: &c, ldc: n,
                                         pool: pool2, isa: isa)
                    }
                    XCTAssertEqual(c, want, "\(isa) a\(aS ? "s" : "u")8 b\(bS ? "s" : "u")8 \(m)x\(n)x\(k)")
                    let packed = PackedMatrix(packingInt8B: b, signed: bS, k: k, n: n, ldb: n, zeroPoints: zb, isa: isa)
                    var c2 = [Int32](repeating: 7, count: m * n)
                    Kernels.gemmInt8(m: m, a: a, aSigned: aS, lda: k, aZeroPoint: .scalar(za[0]), packedB: packed, c: &c2, ldc: n)
                    XCTAssertEqual(c2, want, "packed \(isa)")
                }
            }
        }
    }

    func testConvInt8MatchesExactReference() {
        let g = ConvGeometry(inChannels: 6, outChannels: 10, groups: 2, inputSize: [9, 8], kernelSize: [3, 3], strides: [2, 1],
                             padsBegin: [1, 1], padsEnd: [1, 0])
        let dw = ConvGeometry(inChannels: 5, outChannels: 5, groups: 5, inputSize: [7, 7], kernelSize: [3, 3],
                              padsBegin: [1, 1], padsEnd: [1, 1])
        for isa in KernelISA.supported {
            let dw5 = ConvGeometry(inChannels: 3, outChannels: 3, groups: 3, inputSize: [11, 9], kernelSize: [5, 5],
                                   strides: [2, 2], padsBegin: [2, 1], padsEnd: [2, 2])
            for geo in [g, dw, dw5] {
                var rng = TestRandom(seed: 77)
                let x = (0..<(geo.inChannels * geo.inputPlane)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let w = (0..<(geo.outChannels * geo.reductionSize)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
                let zx: Int32 = 131
                let zw: [Int32] = (0..<geo.outChannels).map { Int32($0 % 5) - 2 }
                // Reference in Double (exact for these magnitudes), pads contribute (zx − zx) = 0.
                let xf = x.map { Float(Int32($0) - zx) }
                var wf = [Float]()
                for (i, v) in w.enumerated() { wf.append(Float(Int32(v) - zw[i / geo.reductionSize])) }
                let want = Reference.conv(geo, input: xf, weights: wf, bias: nil).map { Int32($0) }
                let cw = w.withUnsafeBytes { ConvWeights(int8Weights: $0.baseAddress!, signed: true, zeroPoints: zw, geometry: geo, isa: isa) }
                var y = [Int32](repeating: 0, count: geo.outChannels * geo.outputPlane)
                Kernels.convInt8(cw, input: x, inputSigned: false, inputZeroPoint: zx, output: &y, pool: pool2)
                XCTAssertEqual(y, want, "convInt8 \(isa) \(geo)")
            }
        }
    }

    func testRequantizeRoundsHalfToEvenAndSaturates() {
        let acc: [Int32] = [5, 15, 25, -5, -15, 1000, -1000, 7, 0]
        var u = [UInt8](repeating: 0, count: acc.count)
        // multiplier 0.1: 0.5→0, 1.5→2, 2.5→2, −0.5→−0, −1.5→−2; then + zp 10, saturate to [0, 255].
        Kernels.requantize(acc, rows: 1, cols: acc.count, multiplier: .scalar(0.1), zeroPoint: 10, outputSigned: false, dst: &u)
        XCTAssertEqual(u, [10, 12, 12, 10, 8, 110, 0, 11, 10])
        var s = [Int8](repeating: 0, count: 4)
        let acc2: [Int32] = [3, 3, 2000, 3]
        let scales: [Float] = [0.5, 1.5, 1.0, -1.0]
        Kernels.requantize(acc2, rows: 4, cols: 1, bias: [0, 0, 0, -4], multiplier: .perRow(scales), zeroPoint: -1,
                           outputSigned: true, dst: &s)
        // 1.5→2−1=1; 4.5→4−1=3; 2000→127 (saturate); (3−4)·(−1)=1→1−1=0
        XCTAssertEqual(s, [1, 3, 127, 0])
    }
}
