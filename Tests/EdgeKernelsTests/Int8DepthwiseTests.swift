import EdgeKernels
import XCTest

/// The integer depthwise kernel (vpdpwssd on row-paired taps) and its fused requantization,
/// against a naive wrapping-int32 reference and the scalar requantization formula, bit for bit:
/// odd channel counts and plane sizes, strides 1–3, pads (asymmetric, larger than the kernel
/// reach), dilations, odd and even kernel heights, every signedness pair, scalar and per-channel
/// zero points at the type's extremes, 1–3 threads, and the float-exact fallback (`isa: .avx2`).
final class Int8DepthwiseTests: XCTestCase {
    let pools = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]

    func bytes(_ count: Int, _ rng: inout TestRandom) -> [UInt8] {
        (0..<count).map { _ in
            let r = rng.next()
            switch r % 6 {
            case 0: return 0x80
            case 1: return 0xFF
            case 2: return 0x7F
            case 3: return 0
            default: return UInt8(truncatingIfNeeded: r >> 8)
            }
        }
    }

    func value(_ b: UInt8, _ signed: Bool) -> Int32 { signed ? Int32(Int8(bitPattern: b)) : Int32(b) }

    /// out[n, c, oy, ox] = Σ (x − zx)(w − zw[c]) over the taps inside the input (padding is the zero
    /// point, which adds 0), in wrapping int32.
    func reference(_ g: ConvGeometry, batch: Int, x: [UInt8], xSigned: Bool, zx: Int32, w: [UInt8], wSigned: Bool, zw: [Int32]) -> [Int32] {
        let (ih, iw) = (g.inputSize[0], g.inputSize[1]), (oh, ow) = (g.outputSize[0], g.outputSize[1])
        let (kh, kw) = (g.kernelSize[0], g.kernelSize[1])
        var y = [Int32](repeating: 0, count: batch * g.outChannels * oh * ow)
        for n in 0..<batch { for c in 0..<g.outChannels {
            let z = zw.count == 1 ? zw[0] : zw[c]
            for oy in 0..<oh { for ox in 0..<ow {
                var acc: Int32 = 0
                for ky in 0..<kh { for kx in 0..<kw {
                    let iy = oy * g.strides[0] - g.padsBegin[0] + ky * g.dilations[0]
                    let ix = ox * g.strides[1] - g.padsBegin[1] + kx * g.dilations[1]
                    guard iy >= 0, iy < ih, ix >= 0, ix < iw else { continue }
                    let xv = value(x[((n * g.inChannels + c) * ih + iy) * iw + ix], xSigned) &- zx
                    acc &+= xv &* (value(w[(c * kh + ky) * kw + kx], wSigned) &- z)
                } }
                y[((n * g.outChannels + c) * oh + oy) * ow + ox] = acc
            } }
        } }
        return y
    }

    func zeroPoints(_ count: Int, signed: Bool, perChannel: Bool, _ rng: inout TestRandom) -> [Int32] {
        let extremes: [Int32] = signed ? [-128, 127, 0, -1] : [0, 255, 128, 1]
        if !perChannel { return [extremes[Int(rng.next() % 4)]] }
        return (0..<count).map { i in i % 3 == 0 ? extremes[i % 4] : value(UInt8(truncatingIfNeeded: rng.next()), signed) }
    }

    func dw(_ c: Int, _ size: [Int], _ k: [Int], s: [Int] = [1, 1], d: [Int] = [1, 1], pb: [Int] = [0, 0], pe: [Int] = [0, 0]) -> ConvGeometry {
        ConvGeometry(inChannels: c, outChannels: c, groups: c, inputSize: size, kernelSize: k, strides: s, dilations: d,
                     padsBegin: pb, padsEnd: pe)
    }

    var geometries: [ConvGeometry] { [
        dw(3, [7, 9], [3, 3], pb: [1, 1], pe: [1, 1]),                    // MobileNet 3×3 s1, ow < 16
        dw(5, [37, 35], [3, 3], pb: [1, 1], pe: [1, 1]),                  // rows of 2+ vectors, ragged tail
        dw(4, [16, 16], [3, 3], s: [2, 2], pb: [0, 0], pe: [1, 1]),       // torch's s2 export: pad end only
        dw(7, [15, 41], [3, 3], s: [2, 2], pb: [1, 1], pe: [1, 1]),       // s2 with the 32-byte split loop
        dw(2, [1, 1], [3, 3], pb: [1, 1], pe: [1, 1]),                    // 1×1 plane, all padding
        dw(3, [12, 20], [5, 5], s: [1, 2], pb: [2, 2], pe: [2, 2]),       // 5×5, mixed strides
        dw(3, [13, 14], [3, 3], d: [2, 3], pb: [2, 3], pe: [2, 3]),       // dilations (row pairs dh apart)
        dw(5, [11, 23], [2, 3], s: [3, 3], pb: [1, 0], pe: [0, 2]),       // even kh, stride 3 (scalar phase fill)
        dw(3, [9, 8], [1, 1]),                                            // 1×1 kernel (one zero-weight half)
        dw(1, [6, 50], [3, 4], s: [2, 1], pb: [4, 5], pe: [3, 6]),        // pads past the kernel's reach
        dw(17, [4, 5], [3, 3], s: [2, 2], pb: [1, 1], pe: [1, 1]),        // odd channel count, tiny plane
    ] }

    func testDepthwiseMatchesReference() {
        let vnni = Kernels.int8UsesVNNI()
        var checked = 0
        for (gi, g) in geometries.enumerated() {
            XCTAssertNil(g.problem, "geometry \(gi)")
            for (xS, wS) in [(false, true), (true, true), (false, false), (true, false)] {
                for perChannel in [false, true] {
                    var rng = TestRandom(seed: UInt64(gi * 19 + (xS ? 2 : 0) + (wS ? 1 : 0) + (perChannel ? 8 : 0) + 5))
                    let batch = 1 + gi % 2
                    let x = bytes(batch * g.inChannels * g.inputPlane, &rng)
                    let w = bytes(g.outChannels * g.kernelPlane, &rng)
                    let zx = zeroPoints(1, signed: xS, perChannel: false, &rng)[0]
                    let zw = zeroPoints(g.outChannels, signed: wS, perChannel: perChannel, &rng)
                    let want = reference(g, batch: batch, x: x, xSigned: xS, zx: zx, w: w, wSigned: wS, zw: zw)
                    for isa in [nil, KernelISA.avx2] as [KernelISA?] {
                        if isa == .avx2 && !KernelISA.supported.contains(.avx2) { continue }
                        let cw = Int8ConvWeights(weights: w, signed: wS, zeroPoints: zw, geometry: g, isa: isa)
                        XCTAssertEqual(cw.isIntegerDepthwise, isa == nil && vnni)
                        if cw.isIntegerDepthwise {
                            XCTAssertEqual(cw.byteCount, g.outChannels * ((g.kernelSize[0] + 1) / 2) * g.kernelSize[1] * 4)
                        }
                        for pool in pools {
                            var y = [Int32](repeating: 7, count: want.count)
                            Kernels.convInt8(cw, batch: batch, input: x, inputSigned: xS, inputZeroPoint: zx, output: &y, pool: pool)
                            XCTAssertEqual(y, want, "geometry \(gi) x\(xS ? "s" : "u")8 w\(wS ? "s" : "u")8 per-channel \(perChannel) isa \(isa?.rawValue ?? "active") threads \(pool.threadCount)")
                            checked += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, geometries.count * 8 * 3)
    }

    /// The weights re-targeted to another input size compute that size's conv.
    func testRetargetToAnotherInputSize() {
        let g1 = dw(6, [5, 5], [3, 3], s: [2, 2], pb: [1, 1], pe: [1, 1])
        var g2 = g1; g2.inputSize = [19, 33]
        var rng = TestRandom(seed: 71)
        let x = bytes(6 * g2.inputPlane, &rng), w = bytes(6 * 9, &rng)
        let zw = zeroPoints(6, signed: true, perChannel: true, &rng)
        let cw = Int8ConvWeights(weights: w, signed: true, zeroPoints: zw, geometry: g1).with(geometry: g2)
        var y = [Int32](repeating: 0, count: 6 * g2.outputPlane)
        Kernels.convInt8(cw, input: x, inputSigned: false, inputZeroPoint: 200, output: &y, pool: pools[1])
        XCTAssertEqual(y, reference(g2, batch: 1, x: x, xSigned: false, zx: 200, w: w, wSigned: true, zw: zw))
    }

    /// y = clamp(roundHalfEven(Float(acc + bias) · m) + z, lo, hi), NaN → z (the scalar formula).
    func requantized(_ acc: [Int32], rows: Int, cols: Int, bias: [Int32]?, scales: [Float], zp: Int32, lo: Int32, hi: Int32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: acc.count)
        for r in 0..<rows { for c in 0..<cols {
            let m = scales.count == 1 ? scales[0] : scales[r]
            var v = (Float(acc[r * cols + c] &+ (bias?[r] ?? 0)) * m).rounded(.toNearestOrEven) + Float(zp)
            v = v.isNaN ? Float(zp) : min(max(v, Float(lo)), Float(hi))
            out[r * cols + c] = UInt8(truncatingIfNeeded: Int32(v))
        } }
        return out
    }

    /// The fused form (`convInt8Requantized`) writes the bytes the two-step path would: exact .5
    /// ties, narrowed ranges (a fused Relu6), per-channel and scalar multipliers, with and without
    /// bias, int8 and uint8 outputs, batches and threads.
    func testFusedRequantizationMatchesTwoStep() throws {
        try XCTSkipUnless(Kernels.int8UsesVNNI(), "the fused form exists only with the integer depthwise kernel (AVX-512 VNNI)")
        for (gi, g) in geometries.enumerated() {
            var rng = TestRandom(seed: UInt64(300 + gi))
            let batch = 2, c = g.outChannels, plane = g.outputPlane
            let x = bytes(batch * c * g.inputPlane, &rng), w = bytes(c * g.kernelPlane, &rng)
            let zw = zeroPoints(c, signed: true, perChannel: gi % 2 == 0, &rng)
            let acc = reference(g, batch: batch, x: x, xSigned: false, zx: 3, w: w, wSigned: true, zw: zw)
            let cw = Int8ConvWeights(weights: w, signed: true, zeroPoints: zw, geometry: g)
            var untouched = [UInt8](repeating: 0, count: batch * c * plane)
            XCTAssertFalse(Kernels.convInt8Requantized(Int8ConvWeights(weights: w, signed: true, zeroPoints: zw, geometry: g, isa: .avx2),
                                                       input: x, inputSigned: false, inputZeroPoint: 3,
                                                       requantization: Int8Requantization(multiplier: .scalar(1), bias: nil, zeroPoint: 0,
                                                                                          outputSigned: false, lo: 0, hi: 255),
                                                       output: &untouched),
                           "no fused form on the float-exact weights")
            for variant in 0..<4 {
                let outSigned = variant % 2 == 1
                let scales: [Float] = variant < 2 ? (0..<c).map { [0.5, 0.25, 1.0 / 3, 0.0123, 0.001][($0 + gi) % 5] } : [0.5]
                let bias: [Int32]? = variant == 1 ? nil : (0..<c).map { _ in Int32(rng.int(-5000...5000)) }
                let zp: Int32 = outSigned ? -5 : 120
                let (lo, hi): (Int32, Int32) = variant == 2 ? (zp, zp + 60) : (outSigned ? -128 : 0, outSigned ? 127 : 255)
                var want = [UInt8]()
                for n in 0..<batch {
                    want += requantized(Array(acc[(n * c * plane)..<((n + 1) * c * plane)]), rows: c, cols: plane, bias: bias,
                                        scales: scales, zp: zp, lo: lo, hi: hi)
                }
                for pool in pools {
                    var got = [UInt8](repeating: 0xAA, count: want.count)
                    let done = scales.withUnsafeBufferPointer { sp in
                        (bias ?? []).withUnsafeBufferPointer { bp in
                            let rq = Int8Requantization(multiplier: scales.count == 1 ? .scalar(sp[0]) : .perRow(sp.baseAddress!),
                                                        bias: bias == nil ? nil : bp.baseAddress, zeroPoint: zp,
                                                        outputSigned: outSigned, lo: lo, hi: hi)
                            return Kernels.convInt8Requantized(cw, batch: batch, input: x, inputSigned: false, inputZeroPoint: 3,
                                                               requantization: rq, output: &got, pool: pool)
                        }
                    }
                    XCTAssertTrue(done)
                    XCTAssertEqual(got, want, "geometry \(gi) variant \(variant) threads \(pool.threadCount)")
                }
            }
        }
    }

    /// `Kernels.requantize` with a narrowed range and a pool (rows split across threads above 64k
    /// elements) gives the scalar formula's bytes, including a NaN scale whose zero point lies
    /// outside the narrowed range (the scalar formula keeps the zero point).
    func testRequantizeNarrowedRangeThreaded() {
        var rng = TestRandom(seed: 12)
        let rows = 7, cols = 10_007
        let acc: [Int32] = (0..<(rows * cols)).map { i in
            i % 5 == 0 ? Int32(truncatingIfNeeded: rng.next()) : Int32(rng.int(-3000...3000)) | (i % 2 == 0 ? 1 : 0)
        }
        let bias: [Int32] = (0..<rows).map { _ in Int32(rng.int(-100...100)) }
        let scales: [Float] = [0.5, 0.03125, .nan, 1.0 / 7, 0.25, 2.5, 0.0007]
        for (signed, zp, lo, hi) in [(false, Int32(10), Int32(10), Int32(200)), (true, Int32(-128), Int32(-100), Int32(90)),
                                     (true, Int32(120), Int32(-128), Int32(0))] {
            let want = requantized(acc, rows: rows, cols: cols, bias: bias, scales: scales, zp: zp, lo: lo, hi: hi)
            for pool in pools {
                var got = [UInt8](repeating: 0, count: acc.count)
                scales.withUnsafeBufferPointer { sp in
                    Kernels.requantize(acc, rows: rows, cols: cols, bias: bias, multiplier: .perRow(sp.baseAddress!), zeroPoint: zp,
                                       outputSigned: signed, lo: lo, hi: hi, dst: &got, pool: pool)
                }
                XCTAssertEqual(got, want, "signed \(signed) range \(lo)...\(hi) threads \(pool.threadCount)")
            }
        }
    }
}
