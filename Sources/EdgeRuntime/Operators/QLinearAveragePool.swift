import EdgeIR

/// com.microsoft QLinearAveragePool(X, x_scale, x_zero_point, y_scale, y_zero_point), the
/// attributes of AveragePool (kernel_shape, strides, pads, auto_pad, ceil_mode,
/// count_include_pad) plus channels_last — what ONNX Runtime's QOperator quantizer emits for an
/// AveragePool (Inception, DenseNet). 1 to 3 spatial dims, N×C×spatial or N×spatial×C.
///
/// ONNX Runtime's arithmetic (contrib_ops/cpu/quantization/qlinear_pool.cc), reproduced so that
/// results are bit-identical:
/// - a window covering the whole input without padding is a global average, computed as
///   QLinearGlobalAveragePool (exact integer sum, one float requantization; see QLinearPool.swift);
/// - otherwise each element is dequantized as sx · Float(q − zx) (float32), the window's values
///   are summed in float32 in row-major order (h, then w, then d) over the part of the window
///   inside the input, the sum is divided by the count (the whole kernel size with
///   count_include_pad, else the positions inside the input), and requantized as
///       y = clamp(roundHalfEven(v / sy + Float(zy)), qmin, qmax)
///   (rounding after adding the zero point, unlike MlasQuantizeLinear; ties can differ by one
///   from DequantizeLinear → AveragePool → QuantizeLinear).
enum QLinearAveragePoolOperators {
    static let operators: [OperatorSpec] = [
        OperatorSpec("QLinearAveragePool", domain: "com.microsoft", versions: 1...1) { b in QLinearAveragePoolKernel(b) },
    ]
}

final class QLinearAveragePoolKernel: TensorKernel {
    let window: WindowAttributes
    let countIncludePad: Bool
    let channelsLast: Bool

    init(_ b: KernelBuildContext) {
        window = WindowAttributes(b)
        countIncludePad = b.int("count_include_pad", 0) != 0
        channelsLast = b.int("channels_last", 0) != 0
    }

    func compute(_ i: [Tensor?], _ c: ExecutionContext) throws -> [Tensor] {
        let (x, sx, zx, sy, zy) = try QLinearBinaryOperators.unaryQuantization(i, c)
        guard x.rank >= 3, x.rank <= 5 else { throw EdgeError.badInput("\(c.nodeDescription): X must be N×C×(1 to 3 spatial dims), got \(x.shape)") }
        guard window.dilations.map({ $0.allSatisfy { $0 == 1 } }) ?? true else {
            throw EdgeError.badInput("\(c.nodeDescription): dilations are not supported by QLinearAveragePool")
        }

        let n = x.shape[0]
        let channels = channelsLast ? x.shape[x.rank - 1] : x.shape[1]
        let spatial = channelsLast ? Array(x.shape[1..<(x.rank - 1)]) : Array(x.shape[2...])
        let r = try window.resolve(input: spatial, kernel: nil, c)
        if spatial == r.kernel, (r.padsBegin + r.padsEnd).allSatisfy({ $0 == 0 }) {
            // ONNX Runtime runs this case as its global average pool (an exact integer sum).
            return try QLinearGlobalAveragePoolKernel(channelsLast: channelsLast).compute(i, c)
        }
        let outShape = channelsLast ? [n] + r.output + [channels] : [n, channels] + r.output
        let out = try c.allocate(x.dtype, outShape)
        guard out.elementCount > 0 else { return [out] }

        // Work in 3-D: missing leading spatial dims of size 1 (kernel 1, stride 1, no padding),
        // so the summation order (h, w, d) is ONNX Runtime's for 1-, 2- and 3-D windows.
        let lead = 3 - spatial.count
        func ext(_ v: [Int], _ fill: Int) -> [Int] { Array(repeating: fill, count: lead) + v }
        let inS = ext(spatial, 1), outS = ext(r.output, 1), k = ext(r.kernel, 1), st = ext(r.strides, 1), pb = ext(r.padsBegin, 0)
        let kernelSize = Shapes.product(r.kernel)
        let inPlane = Shapes.product(inS), outPlane = Shapes.product(outS)
        // Element (plane p = n·C + ch, spatial offset s): channels first p·inPlane + s, channels
        // last (p / C)·inPlane·C + s·C + p mod C.
        let step = channelsLast ? channels : 1
        func inBase(_ p: Int) -> Int { channelsLast ? (p / channels) * inPlane * channels + p % channels : p * inPlane }
        func outBase(_ p: Int) -> Int { channelsLast ? (p / channels) * outPlane * channels + p % channels : p * outPlane }

        let signed = x.dtype == .int8
        let dequantized: [Float] = (0..<256).map { byte in
            sx * Float((signed ? Int32(Int8(truncatingIfNeeded: byte)) : Int32(byte)) - zx)
        }
        let (qmin, qmax) = QLinearBinaryOperators.range(x.dtype)
        let lo = Float(qmin), hi = Float(qmax), zyf = Float(zy)
        let includePad = countIncludePad
        let dst = out.mutableRawPointer
        x.withUnsafeBytes { raw in
            let src = raw.bindMemory(to: UInt8.self).baseAddress!
            dequantized.withUnsafeBufferPointer { table in
                c.parallelFor(n * channels, grain: Swift.max(1, 4096 / Swift.max(outPlane * kernelSize, 1))) { planes in
                    for p in planes {
                        let xb = inBase(p), yb = outBase(p)
                        var o = 0
                        for oh in 0..<outS[0] {
                            let h0 = Swift.max(oh * st[0] - pb[0], 0), h1 = Swift.min(oh * st[0] - pb[0] + k[0], inS[0])
                            for ow in 0..<outS[1] {
                                let w0 = Swift.max(ow * st[1] - pb[1], 0), w1 = Swift.min(ow * st[1] - pb[1] + k[1], inS[1])
                                for od in 0..<outS[2] {
                                    let d0 = Swift.max(od * st[2] - pb[2], 0), d1 = Swift.min(od * st[2] - pb[2] + k[2], inS[2])
                                    var sum: Float = 0
                                    for h in h0..<Swift.max(h0, h1) {
                                        for w in w0..<Swift.max(w0, w1) {
                                            var e = xb + ((h * inS[1] + w) * inS[2] + d0) * step
                                            for _ in d0..<Swift.max(d0, d1) {
                                                sum += table[Int(src[e])]
                                                e += step
                                            }
                                        }
                                    }
                                    let count = includePad ? kernelSize : Swift.max(h1 - h0, 0) * Swift.max(w1 - w0, 0) * Swift.max(d1 - d0, 0)
                                    // A window wholly in the padding (pads ≥ kernel) averages nothing: 0.
                                    let v = count == 0 ? zyf : (sum / Float(count) / sy + zyf).rounded(.toNearestOrEven)
                                    QLinearBinaryOperators.store(Int32(Swift.min(Swift.max(v, lo), hi)), dst, yb + o * step, signed: signed)
                                    o += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return [out]
    }
}
