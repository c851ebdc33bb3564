/// Less common operators with simple output shapes: losses, sampling, windows, Det, CumProd.
enum MiscShapes {
    static let rules: [String: ShapeRule] = [
        // Loss is a scalar for reduction mean/sum, else the target's shape [N, d1, …]; the
        // optional log-prob output has the scores' shape.
        "SoftmaxCrossEntropyLoss": { c in
            let reduced = c.string("reduction", default: "mean") != "none"
            return [c.tensor(nil, reduced ? [] : c.shape(1)), c.type(0)]
        },
        "NegativeLogLikelihoodLoss": { c in
            [c.tensor(nil, c.string("reduction", default: "mean") != "none" ? [] : c.shape(1))]
        },
        // X [N, C, H, W], grid [N, H_out, W_out, 2] → [N, C, H_out, W_out] (and the 3-D analogue).
        "GridSample": { c in
            guard let x = c.shape(0), let g = c.shape(1), g.count == x.count else { return [c.tensor(nil, nil)] }
            return [c.tensor(nil, [x[0], x[1]] + Array(g[1..<(g.count - 1)]))]
        },
        // [num_rois, C, output_height, output_width]
        "RoiAlign": { c in
            let rois = c.shape(1)?.first ?? .unknown
            let channels = c.shape(0).map { $0.count > 1 ? $0[1] : .unknown } ?? .unknown
            return [c.tensor(nil, [rois, channels, .fixed(Int(c.int("output_height", default: 1))),
                                   .fixed(Int(c.int("output_width", default: 1)))])]
        },
        "CumProd": { c in [c.type(0)] },
        // Batch of square matrices [..., M, M] → [...]
        "Det": { c in [c.tensor(nil, c.shape(0).map { Array($0.dropLast(2)) })] },
        "HannWindow": { c in [window(c)] },
        "HammingWindow": { c in [window(c)] },
        "BlackmanWindow": { c in [window(c)] },
    ]

    static func window(_ c: ShapeContext) -> TensorType? {
        let dtype = DType(rawValue: Int(c.int("output_datatype", default: 1))) ?? .float
        return TensorType(dtype, [c.ints(0)?.first.map { .fixed(Int($0)) } ?? .unknown])
    }
}
