/// Normalizations keep their input's shape; their optional statistics outputs have per-channel
/// (BatchNorm) or reduced (LayerNorm: axes ≥ axis become 1) shapes.
enum NormalizationShapes {
    static let rules: [String: ShapeRule] = [
        "BatchNormalization": { c in
            let channels: [Dim]? = c.shape(0).map { $0.count > 1 ? [$0[1]] : [.unknown] }
            let stats = c.tensor(nil, channels, like: 1)
            return [c.type(0), stats, stats, stats, stats]
        },
        "LayerNormalization": { c in layerNorm(c) },
        "com.microsoft:SkipLayerNormalization": { c in
            let stats = statsShape(c, axis: -1)
            return [c.type(0), stats.map { TensorType(.float, $0.shape) }, stats.map { TensorType(.float, $0.shape) }, c.type(0)]
        },
        "com.microsoft:SimplifiedLayerNormalization": { c in layerNorm(c) },
        "SimplifiedLayerNormalization": { c in layerNorm(c) },
        "RMSNormalization": { c in [c.type(0)] },
        "InstanceNormalization": { c in [c.type(0)] },
        "GroupNormalization": { c in [c.type(0)] },
        "LRN": { c in [c.type(0)] },
    ]

    static func layerNorm(_ c: ShapeContext) -> [TensorType?] {
        let stats = statsShape(c, axis: c.int("axis", default: -1))
        let statsType = DType(rawValue: Int(c.int("stash_type", default: 1))) ?? .float
        return [c.type(0), stats.map { TensorType(statsType, $0.shape) }, stats.map { TensorType(statsType, $0.shape) }]
    }

    /// Input shape with every axis from `axis` on set to 1.
    static func statsShape(_ c: ShapeContext, axis: Int64) -> TensorType? {
        guard let ds = c.shape(0), let a = DimMath.normalize(axis: axis, rank: ds.count) else { return c.tensor(nil, nil) }
        return c.tensor(nil, Array(ds[..<a]) + Array(repeating: .fixed(1), count: ds.count - a))
    }
}
