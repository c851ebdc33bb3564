/// Resize and Upsample: out = ⌊in × scale⌋ per axis, or `sizes` when given (Resize 11+).
/// Inputs: Resize-10 (X, scales); Resize-11+ (X, roi, scales, sizes) with opset-18 `axes` and
/// `keep_aspect_ratio_policy`; Upsample-7 `scales` attribute, Upsample-9 (X, scales).
enum ResizeShapes {
    static let rules: [String: ShapeRule] = [
        "Resize": { c in [try resize(c)] },
        "Upsample": { c in [try resize(c)] },
    ]

    static func resize(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        let r = ds.count
        let isUpsample = c.node.opType == "Upsample"
        let scalesIndex = (isUpsample || c.opset < 11) ? 1 : 2
        let axes = try c.ints("axes").map { try c.normalizedAxes($0, rank: r) } ?? Array(0..<r)
        var out = ds
        if !isUpsample, c.opset >= 11, c.hasInput(3) {
            guard let sizes = c.ints(3) else { return c.tensor(nil, ds.map { _ in .unknown }) }
            guard sizes.count == axes.count else { throw c.error("sizes has \(sizes.count) values for \(axes.count) axes") }
            let policy = c.string("keep_aspect_ratio_policy", default: "stretch")
            if policy == "stretch" {
                for (k, a) in axes.enumerated() { out[a] = .fixed(Int(sizes[k])) }
                return c.tensor(nil, out)
            }
            // not_larger / not_smaller: one scale for all axes, then round(scale × in).
            var ratios: [Double] = []
            for (k, a) in axes.enumerated() {
                guard let n = ds[a].value, n > 0 else { return c.tensor(nil, ds.map { _ in .unknown }) }
                ratios.append(Double(sizes[k]) / Double(n))
            }
            let scale = policy == "not_larger" ? ratios.min()! : ratios.max()!
            for a in axes {
                guard let v = DimMath.int((scale * Double(ds[a].value!)).rounded(.toNearestOrAwayFromZero)), v >= 0 else {
                    throw c.error("output size out of range")
                }
                out[a] = .fixed(v)
            }
            return c.tensor(nil, out)
        }
        let scales: [Double]?
        if isUpsample, c.opset < 9 { scales = c.node.floats("scales")?.map(Double.init) } else { scales = c.doubles(scalesIndex) }
        guard let scales else { return c.tensor(nil, ds.map { _ in .unknown }) }
        guard scales.count == axes.count else { throw c.error("scales has \(scales.count) values for \(axes.count) axes") }
        for (k, a) in axes.enumerated() {
            if scales[k] == 1 { continue }
            // Scales are float32 in the file; compute in float32 as runtimes do, so that e.g.
            // 7 × 1.1428571 floors the same way here and there.
            guard let n = ds[a].value else { out[a] = .unknown; continue }
            guard let v = DimMath.int(Double((Float(n) * Float(scales[k])).rounded(.down))), v >= 0 else {
                throw c.error("scale \(scales[k]) gives an invalid size")
            }
            out[a] = .fixed(v)
        }
        return c.tensor(nil, out)
    }
}
