import EdgeKernels
import XCTest

/// The vectorised QuantizeLinear / DequantizeLinear / QLinearAdd / QLinearMul kernels against the
/// operators' scalar formulas (the ONNX spec's and ONNX Runtime's arithmetic), byte for byte:
/// exact .5 ties, NaN and ±Inf, saturation, counts not a multiple of 16, per-axis parameters,
/// int8 and uint8, and 1–3 threads on blocks above the parallel threshold.
final class QuantizeKernelsTests: XCTestCase {
    let pools = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]

    func value(_ b: UInt8, _ signed: Bool) -> Int32 { signed ? Int32(Int8(bitPattern: b)) : Int32(b) }

    /// Floats that hit ties (k + ½)·s, NaN, ±Inf, huge values and ordinary ones.
    func inputs(_ n: Int, scale: Float, _ rng: inout TestRandom) -> [Float] {
        (0..<n).map { i in
            switch i % 11 {
            case 0: return (Float(rng.int(-300...300)) + 0.5) * scale
            case 1: return i % 77 == 1 ? .nan : Float(rng.int(-200...200)) * scale
            case 2: return i % 3 == 0 ? .infinity : -.infinity
            case 3: return rng.float() * 1e30
            default: return rng.float() * 200 * scale
            }
        }
    }

    func testQuantizeLinearMatchesScalarFormula() {
        var rng = TestRandom(seed: 3)
        for (rows, cols, params) in [(1, 1, 1), (1, 70_001, 1), (6, 37, 3), (12, 9_000, 4), (2, 16, 2)] {
            let scales: [Float] = (0..<params).map { [0.5, 0.02, 1.0 / 3, 0.007][$0 % 4] }
            let x = inputs(rows * cols, scale: scales[0], &rng)
            for signed in [false, true] {
                let zps: [Int32] = (0..<params).map { signed ? [-128, 0, 127, -7][$0 % 4] : [0, 255, 128, 3][$0 % 4] }
                let lo: Double = signed ? -128 : 0, hi: Double = signed ? 127 : 255
                var want = [UInt8](repeating: 0, count: x.count)
                for r in 0..<rows { for c in 0..<cols {
                    let p = r % params, i = r * cols + c
                    let q = Double((x[i] / scales[p]).rounded(.toNearestOrEven))
                    let v = q.isNaN ? min(max(0, lo), hi) : min(max(q + Double(zps[p]), lo), hi)
                    want[i] = UInt8(truncatingIfNeeded: Int32(v))
                } }
                for pool in pools {
                    var got = [UInt8](repeating: 0xAA, count: x.count)
                    Kernels.quantizeLinear(x, rows: rows, cols: cols, scales: scales, zeroPoints: zps, params: params,
                                           signed: signed, dst: &got, pool: pool)
                    XCTAssertEqual(got, want, "\(rows)×\(cols) params \(params) signed \(signed) threads \(pool.threadCount)")
                }
            }
        }
    }

    func testDequantizeLinearMatchesDoubleProductRoundedOnce() {
        var rng = TestRandom(seed: 4)
        for (rows, cols, params) in [(1, 5, 1), (1, 66_000, 1), (10, 33, 5), (8, 10_000, 8)] {
            let x = (0..<(rows * cols)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let scales: [Float] = (0..<params).map { _ in Float(rng.float() * 0.1) + 1e-3 }
            for signed in [false, true] {
                let zps: [Int32] = (0..<params).map { _ in signed ? Int32(rng.int(-128...127)) : Int32(rng.int(0...255)) }
                var want = [Float](repeating: 0, count: x.count)
                for r in 0..<rows { for c in 0..<cols {
                    let i = r * cols + c, p = r % params
                    want[i] = Float(Double(value(x[i], signed) - zps[p]) * Double(scales[p]))
                } }
                for pool in pools {
                    var got = [Float](repeating: .nan, count: x.count)
                    Kernels.dequantizeLinear(x, signed: signed, rows: rows, cols: cols, scales: scales, zeroPoints: zps, params: params,
                                             dst: &got, pool: pool)
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(rows)×\(cols) signed \(signed) threads \(pool.threadCount)")
                }
            }
        }
    }

    /// QLinearAdd and QLinearMul with scales whose ratios make ties (0.5/0.25/0.5) and random ones,
    /// same-shape and scalar B, both signednesses.
    func testQLinearAddAndMulMatchScalarFormulas() {
        var rng = TestRandom(seed: 8)
        for count in [1, 15, 17, 1000, 70_000] {
            let a = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let b = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for (sa, sb, sc) in [(Float(0.5), Float(0.25), Float(0.5)), (0.0173, 0.0291, 0.0402), (0.1, 0.1, 0.001)] {
                for signed in [false, true] {
                    let (za, zb, zc): (Int32, Int32, Int32) = signed ? (3, -5, 7) : (128, 120, 131)
                    let lo: Float = signed ? -128 : 0, hi: Float = signed ? 127 : 255
                    for bScalar in [false, true] {
                        let ra = sa / sc, rb = sb / sc
                        let fixed = Float(zc) - (rb * Float(zb)).addingProduct(ra, Float(za))
                        let ratio = sa * sb / sc
                        var wantAdd = [UInt8](repeating: 0, count: count), wantMul = wantAdd
                        for i in 0..<count {
                            let av = value(a[i], signed), bv = value(b[bScalar ? 0 : i], signed)
                            let r = fixed.addingProduct(Float(bv), rb).addingProduct(Float(av), ra).rounded(.toNearestOrEven)
                            wantAdd[i] = UInt8(truncatingIfNeeded: Int32(min(max(r, lo), hi)))
                            let m = (Float((av - za) * (bv - zb)) * ratio + Float(zc)).rounded(.toNearestOrEven)
                            wantMul[i] = UInt8(truncatingIfNeeded: Int32(min(max(m, lo), hi)))
                        }
                        for pool in pools {
                            var add = [UInt8](repeating: 0xAA, count: count), mul = add
                            Kernels.qlinearAdd(a, b, bIsScalar: bScalar, signed: signed, count: count, ra: ra, rb: rb, fixed: fixed,
                                               zc: zc, dst: &add, pool: pool)
                            Kernels.qlinearMul(a, b, bIsScalar: bScalar, signed: signed, count: count, za: za, zb: zb, ratio: ratio,
                                               zc: zc, dst: &mul, pool: pool)
                            let what = "count \(count) scales \(sa)/\(sb)/\(sc) signed \(signed) scalar B \(bScalar) threads \(pool.threadCount)"
                            XCTAssertEqual(add, wantAdd, "add " + what)
                            XCTAssertEqual(mul, wantMul, "mul " + what)
                        }
                    }
                }
            }
        }
    }
}
