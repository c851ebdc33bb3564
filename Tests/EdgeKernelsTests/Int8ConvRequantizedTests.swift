import EdgeKernels
import XCTest

/// `Kernels.convInt8Requantized` (requantization inside the VNNI tile, or plane by plane in the
/// depthwise conv) gives the bytes of the definition: the exact int32 conv (`referenceConv`), then
/// y = clamp(roundHalfEven(Float(acc + bias)·m) + zy, lo, hi) per output channel — on partial
/// tiles, exact .5 ties, saturation, narrowed (Relu) ranges, weights with zero point 0 (whose
/// correction the tile folds into the bias) and without, per-tensor and per-channel multipliers,
/// non-finite multipliers (the fallback), each thread count and the float-exact ISA.
extension VNNITests {
    /// The scalar definition of requantization (a NaN product gives the zero point).
    func referenceRequantize(_ acc: [Int32], channels: Int, plane: Int, bias: [Int32]?, multipliers: [Float],
                             zeroPoint: Int32, lo: Int32, hi: Int32) -> [UInt8] {
        acc.indices.map { i in
            let co = (i / plane) % channels
            let m = multipliers.count == 1 ? multipliers[0] : multipliers[co]
            let p = Float(acc[i] &+ (bias?[co] ?? 0)) * m
            if p.isNaN { return UInt8(truncatingIfNeeded: zeroPoint) }
            let v = min(max(p.rounded(.toNearestOrEven) + Float(zeroPoint), Float(lo)), Float(hi))
            return UInt8(truncatingIfNeeded: Int32(v))
        }
    }

    func testConvRequantizedMatchesDefinition() {
        let geometries = [
            // 1×1: 19 channels (two full row panels and 3 rows), 132 columns (4 panels and 4).
            ConvGeometry(inChannels: 13, outChannels: 19, inputSize: [12, 11], kernelSize: [1, 1]),
            ConvGeometry(inChannels: 5, outChannels: 16, inputSize: [9, 10], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
            ConvGeometry(inChannels: 6, outChannels: 18, groups: 2, inputSize: [9, 8], kernelSize: [3, 3], strides: [2, 1],
                         padsBegin: [1, 1], padsEnd: [1, 0]),
            ConvGeometry(inChannels: 3, outChannels: 9, inputSize: [23], kernelSize: [5], strides: [2], padsBegin: [2], padsEnd: [2]),
            // Depthwise (the plane-by-plane path): stride 1 and 2, odd planes, a 5×5 kernel.
            ConvGeometry(inChannels: 7, outChannels: 7, groups: 7, inputSize: [11, 13], kernelSize: [3, 3], padsBegin: [1, 1], padsEnd: [1, 1]),
            ConvGeometry(inChannels: 6, outChannels: 6, groups: 6, inputSize: [15, 9], kernelSize: [3, 3], strides: [2, 2],
                         padsBegin: [1, 1], padsEnd: [1, 1]),
            ConvGeometry(inChannels: 4, outChannels: 4, groups: 4, inputSize: [9, 9], kernelSize: [5, 5], padsBegin: [2, 2], padsEnd: [2, 2]),
        ]
        var checked = 0
        for (gi, g) in geometries.enumerated() {
            for (xS, wS) in [(false, true), (true, true), (false, false), (true, false)] {
                for weightZeros in 0..<3 {  // 0: all zero (folded correction), 1: scalar non-zero, 2: per channel, one non-zero
                    for multiplierKind in 0..<4 {
                        var rng = TestRandom(seed: UInt64(gi * 97 + (xS ? 2 : 0) + (wS ? 1 : 0) + weightZeros * 8 + multiplierKind * 32 + 5))
                        let batch = 2, cOut = g.outChannels
                        let x = bytes(batch * g.inChannels * g.inputPlane, &rng)
                        let w = bytes(cOut * g.reductionSize, &rng)
                        let zx = zeroPoints(1, signed: xS, perIndex: false, &rng)[0]
                        let zw: [Int32]
                        switch weightZeros {
                        case 0: zw = [0]
                        case 1: zw = [wS ? -3 : 129]
                        default: zw = (0..<cOut).map { $0 == cOut / 2 ? (wS ? 5 : 200) : 0 }
                        }
                        // 0.5 and 0.25 make exact ties on odd sums; 3e30 overflows to ±Inf; Inf and NaN take the fallback.
                        let multipliers: [Float]
                        switch multiplierKind {
                        case 0: multipliers = [0.5]
                        case 1: multipliers = (0..<cOut).map { [0.5, 0.25, 1.0 / 3, 0.0123, 3e-4, 3e30][$0 % 6] }
                        case 2: multipliers = [0.0037]
                        default: multipliers = (0..<cOut).map { [0.01, .infinity, 0.25, .nan][$0 % 4] }
                        }
                        let bias: [Int32]? = gi % 2 == 0 ? (0..<cOut).map { _ in Int32(rng.int(-5000...5000)) } : nil
                        let acc = referenceConv(g, batch: batch, x: x, xSigned: xS, zx: zx, w: w, wSigned: wS, zw: zw)
                        for ySigned in [false, true] {
                            for narrowed in [false, true] {
                                let zy: Int32 = ySigned ? -7 : 121
                                // A fused Relu clamps below at the zero point.
                                let lo: Int32 = narrowed ? zy : (ySigned ? -128 : 0), hi: Int32 = ySigned ? 127 : 255
                                let want = referenceRequantize(acc, channels: cOut, plane: g.outputPlane, bias: bias,
                                                               multipliers: multipliers, zeroPoint: zy, lo: lo, hi: hi)
                                for isa in [nil, KernelISA.portable] as [KernelISA?] {
                                    let cw = Int8ConvWeights(weights: w, signed: wS, zeroPoints: zw, geometry: g, isa: isa)
                                    let pool = pools[(gi + multiplierKind) % pools.count]
                                    var y = [UInt8](repeating: 0xA5, count: want.count)
                                    multipliers.withUnsafeBufferPointer { mp in
                                        let m: QuantMultiplier = mp.count == 1 ? .scalar(mp[0]) : .perRow(mp.baseAddress!)
                                        let run = { (b: UnsafePointer<Int32>?) in
                                            let rq = RowRequantization(multiplier: m, bias: b, zeroPoint: zy, outputSigned: ySigned,
                                                                       lo: narrowed ? lo : nil, hi: nil)
                                            Kernels.convInt8Requantized(cw, batch: batch, input: x, inputSigned: xS, inputZeroPoint: zx,
                                                                        requantization: rq, output: &y, pool: pool)
                                        }
                                        if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                                    }
                                    XCTAssertEqual(y, want, "conv \(gi) x\(xS ? "s" : "u")8 w\(wS ? "s" : "u")8 zw \(weightZeros) "
                                                   + "multipliers \(multiplierKind) y\(ySigned ? "s" : "u")8 narrowed \(narrowed) "
                                                   + "isa \(isa.map { $0.rawValue } ?? "active") threads \(pool.threadCount)")
                                    checked += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(checked, 7 * 4 * 3 * 4 * 2 * 2 * 2)
    }

    /// The vector requantization clamps before it rounds (see `Requant` in VNNIKernels.swift):
    /// products just outside the narrowed range, on .5 ties at its bounds, huge and ±Inf products
    /// give the scalar formula's bytes.
    func testRequantizeAtRangeBoundsAndOverflow() {
        let zp: Int32 = 100, lo: Int32 = 100, hi: Int32 = 230
        // With multiplier 0.5: acc = 2·(bound − zp) ± 1 lands on a tie next to each bound.
        var acc: [Int32] = []
        for bound in [lo, hi] {
            let t = 2 * (bound - zp)
            acc += [t - 3, t - 2, t - 1, t, t + 1, t + 2, t + 3]
        }
        acc += [Int32.max, Int32.min, Int32.max - 1, -1, 0, 1, 8_388_609, -8_388_609, 16_777_215, 33_554_431]
        while acc.count % 16 != 5 { acc.append(Int32(acc.count * 37 % 1001) - 500) }  // vector body and a scalar tail
        for multiplier: Float in [0.5, 1, 3e-9, 2e30, 1e38] {
            let want = referenceRequantize(acc, channels: 1, plane: acc.count, bias: nil, multipliers: [multiplier],
                                           zeroPoint: zp, lo: lo, hi: hi)
            var got = [UInt8](repeating: 0, count: acc.count)
            Kernels.requantize(acc, rows: 1, cols: acc.count, multiplier: .scalar(multiplier), zeroPoint: zp, outputSigned: false,
                               lo: lo, hi: hi, dst: &got)
            XCTAssertEqual(got, want, "multiplier \(multiplier)")
        }
    }
}
