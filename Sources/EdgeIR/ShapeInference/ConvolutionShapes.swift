/// Conv, ConvTranspose and their integer/quantized forms.
///
/// Output extent per spatial axis (ONNX Conv):
///   explicit pads:  out = ⌊(in + pad_begin + pad_end − dilation·(k−1) − 1) / stride⌋ + 1
///   SAME_UPPER/LOWER: out = ⌈in / stride⌉;   VALID: out = ⌈(in − dilation·(k−1)) / stride⌉
/// ConvTranspose:
///   out = stride·(in−1) + output_padding + dilation·(k−1) + 1 − pad_begin − pad_end,
///   or `output_shape` when given, or in·stride under SAME_*.
enum ConvolutionShapes {
    static let rules: [String: ShapeRule] = [
        "Conv": { c in [try conv(c, x: 0, w: 1, dtype: nil)] },
        "ConvInteger": { c in [try conv(c, x: 0, w: 1, dtype: .int32)] },
        "QLinearConv": { c in [try conv(c, x: 0, w: 3, dtype: c.dtype(7) ?? c.dtype(0))] },
        "ConvTranspose": { c in [try convTranspose(c)] },
        "DeformConv": { c in [try conv(c, x: 0, w: 1, dtype: nil)] },
        "com.microsoft:FusedConv": { c in [try conv(c, x: 0, w: 1, dtype: nil)] },
        // edgeopt's fused Conv (+ residual Z) + activation, between passes of `optimize`.
        "ai.edgeopt:FusedConv": { c in [try conv(c, x: 0, w: 1, dtype: nil)] },
        "com.microsoft:QLinearConv": { c in [try conv(c, x: 0, w: 3, dtype: c.dtype(7) ?? c.dtype(0))] },
    ]

    /// Spatial output extent of a sliding window (shared with pooling).
    static func windowOutput(input: Dim, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int,
                             autoPad: String, ceilMode: Bool) -> Dim {
        guard let n = input.value, stride > 0, kernel > 0, dilation > 0,
              let spanK = DimMath.mul(dilation, kernel - 1), let effective = DimMath.add(spanK, 1),
              let padded = DimMath.add(n, padBegin).flatMap({ DimMath.add($0, padEnd) }) else { return .unknown }
        switch autoPad {
        case "SAME_UPPER", "SAME_LOWER":
            return .fixed(DimMath.ceilDiv(n, stride))
        case "VALID":
            return .fixed(max(0, DimMath.ceilDiv(n - effective + 1, stride)))
        default:
            let span = padded - effective
            guard span >= 0 else { return .fixed(0) }
            var out = (ceilMode ? DimMath.ceilDiv(span, stride) : span / stride) + 1
            // With ceil_mode the last window must start inside the input or left padding
            // (PyTorch and ONNX Runtime drop one that would start in the right padding).
            if ceilMode, (out - 1) * stride >= n + padBegin { out -= 1 }
            return .fixed(out)
        }
    }

    static func conv(_ c: ShapeContext, x: Int, w: Int, dtype: DType?) throws -> TensorType? {
        guard let xs = c.shape(x) else { return c.tensor(dtype, nil, like: x) }
        let spatial = xs.count - 2
        guard spatial >= 0 else { throw c.error("input has rank \(xs.count); Conv needs at least 3") }
        let ws = c.shape(w)
        var kernel: [Int] = c.ints("kernel_shape")?.map { Int($0) } ?? []
        if kernel.isEmpty, let ws, ws.count == xs.count {
            let k = ws.dropFirst(2).compactMap(\.value)
            if k.count == spatial { kernel = k }
        }
        let outChannels: Dim = ws?.first ?? .unknown
        if let ws, ws.count != xs.count {
            throw c.error("weight has rank \(ws.count) but input has rank \(xs.count)")
        }
        let group = Int(c.int("group", default: 1))
        if let ws, let cin = xs[1].value, let wc = ws[1].value, group > 0, cin != wc * group {
            throw c.error("input has \(cin) channels but weight expects \(wc) × group \(group)")
        }
        var out: [Dim] = [xs[0], outChannels]
        guard kernel.count == spatial else { return c.tensor(dtype, out + Array(repeating: .unknown, count: spatial), like: x) }
        let strides = c.ints("strides")?.map { Int($0) } ?? Array(repeating: 1, count: spatial)
        let dilations = c.ints("dilations")?.map { Int($0) } ?? Array(repeating: 1, count: spatial)
        let pads = c.ints("pads")?.map { Int($0) } ?? Array(repeating: 0, count: 2 * spatial)
        guard strides.count == spatial, dilations.count == spatial, pads.count == 2 * spatial else {
            throw c.error("strides/dilations/pads do not match \(spatial) spatial dimensions")
        }
        let autoPad = c.string("auto_pad", default: "NOTSET")
        for i in 0..<spatial {
            out.append(windowOutput(input: xs[i + 2], kernel: kernel[i], stride: strides[i], dilation: dilations[i],
                                    padBegin: pads[i], padEnd: pads[i + spatial], autoPad: autoPad, ceilMode: false))
        }
        return c.tensor(dtype, out, like: x)
    }

    static func convTranspose(_ c: ShapeContext) throws -> TensorType? {
        guard let xs = c.shape(0) else { return c.tensor(nil, nil) }
        let spatial = xs.count - 2
        guard spatial >= 0 else { throw c.error("input has rank \(xs.count); ConvTranspose needs at least 3") }
        let ws = c.shape(1)
        let group = Int(c.int("group", default: 1))
        // Weight is [C_in, C_out/group, k...]: output channels are W[1]·group.
        let outChannels: Dim = ws.map { $0.count > 1 ? $0[1].combined(with: .fixed(group), DimMath.mul) : .unknown } ?? .unknown
        var kernel = c.ints("kernel_shape")?.map { Int($0) } ?? []
        if kernel.isEmpty, let ws, ws.count == xs.count {
            let k = ws.dropFirst(2).compactMap(\.value)
            if k.count == spatial { kernel = k }
        }
        var out: [Dim] = [xs[0], outChannels]
        if let outputShape = c.ints("output_shape") {
            let spatialShape = outputShape.suffix(spatial).map { Dim.fixed(Int($0)) }
            guard spatialShape.count == spatial else { throw c.error("output_shape has \(outputShape.count) values for \(spatial) spatial dimensions") }
            return c.tensor(nil, out + spatialShape)
        }
        guard kernel.count == spatial else { return c.tensor(nil, out + Array(repeating: .unknown, count: spatial)) }
        let strides = c.ints("strides")?.map { Int($0) } ?? Array(repeating: 1, count: spatial)
        let dilations = c.ints("dilations")?.map { Int($0) } ?? Array(repeating: 1, count: spatial)
        let pads = c.ints("pads")?.map { Int($0) } ?? Array(repeating: 0, count: 2 * spatial)
        let outputPadding = c.ints("output_padding")?.map { Int($0) } ?? Array(repeating: 0, count: spatial)
        guard strides.count == spatial, dilations.count == spatial, pads.count == 2 * spatial, outputPadding.count == spatial else {
            throw c.error("strides/dilations/pads/output_padding do not match \(spatial) spatial dimensions")
        }
        let autoPad = c.string("auto_pad", default: "NOTSET")
        for i in 0..<spatial {
            guard let n = xs[i + 2].value else { out.append(.unknown); continue }
            if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                out.append(DimMath.mul(n, strides[i]).map { .fixed($0) } ?? .unknown)
            } else {
                let parts = [DimMath.mul(strides[i], n - 1), Optional(outputPadding[i]), DimMath.mul(dilations[i], kernel[i] - 1),
                             Optional(1), Optional(-pads[i]), Optional(-pads[i + spatial])]
                var v: Int? = 0
                for p in parts { v = v.flatMap { a in p.flatMap { DimMath.add(a, $0) } } }
                out.append(v.map { .fixed(max(0, $0)) } ?? .unknown)
            }
        }
        return c.tensor(nil, out)
    }
}
