/// Pooling: windowed (MaxPool, AveragePool, LpPool; same extent formula as Conv plus
/// `ceil_mode`) and global (every spatial axis becomes 1).
enum PoolingShapes {
    static let rules: [String: ShapeRule] = [
        "MaxPool": { c in
            let y = try pool(c)
            // Optional second output: int64 indices of the maxima, same shape.
            return [y, y.map { TensorType(.int64, $0.shape) }]
        },
        "AveragePool": { c in [try pool(c)] },
        "LpPool": { c in [try pool(c)] },
        "GlobalAveragePool": { c in [global(c, channelsLast: false)] },
        "GlobalMaxPool": { c in [global(c, channelsLast: false)] },
        "GlobalLpPool": { c in [global(c, channelsLast: false)] },
        "com.microsoft:QLinearAveragePool": { c in [try pool(c)] },
        "com.microsoft:QLinearGlobalAveragePool": { c in
            [global(c, channelsLast: c.int("channels_last", default: 0) != 0)]
        },
    ]

    static func pool(_ c: ShapeContext) throws -> TensorType? {
        guard let xs = c.shape(0) else { return c.type(0) }
        let spatial = xs.count - 2
        guard spatial > 0 else { throw c.error("input has rank \(xs.count); pooling needs at least 3") }
        guard let kernel = c.ints("kernel_shape")?.map({ Int($0) }), kernel.count == spatial else {
            throw c.error("kernel_shape must give \(spatial) values")
        }
        let strides = c.ints("strides")?.map { Int($0) } ?? Array(repeating: 1, count: spatial)
        let dilations = c.ints("dilations")?.map { Int($0) } ?? Array(repeating: 1, count: spatial)
        let pads = c.ints("pads")?.map { Int($0) } ?? Array(repeating: 0, count: 2 * spatial)
        guard strides.count == spatial, dilations.count == spatial, pads.count == 2 * spatial else {
            throw c.error("strides/dilations/pads do not match \(spatial) spatial dimensions")
        }
        let autoPad = c.string("auto_pad", default: "NOTSET")
        let ceilMode = c.int("ceil_mode", default: 0) != 0
        var out = Array(xs[0..<2])
        for i in 0..<spatial {
            out.append(ConvolutionShapes.windowOutput(input: xs[i + 2], kernel: kernel[i], stride: strides[i],
                                                      dilation: dilations[i], padBegin: pads[i], padEnd: pads[i + spatial],
                                                      autoPad: autoPad, ceilMode: ceilMode))
        }
        return c.tensor(nil, out)
    }

    static func global(_ c: ShapeContext, channelsLast: Bool) -> TensorType? {
        guard let xs = c.shape(0), xs.count >= 2 else { return c.type(0) }
        if channelsLast {
            return c.tensor(nil, [xs[0]] + Array(repeating: .fixed(1), count: xs.count - 2) + [xs[xs.count - 1]])
        }
        return c.tensor(nil, Array(xs[0..<2]) + Array(repeating: .fixed(1), count: xs.count - 2))
    }
}
