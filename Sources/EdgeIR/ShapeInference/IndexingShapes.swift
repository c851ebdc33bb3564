/// Indexing and selection: Gather, GatherElements, GatherND, TopK, ArgMax/ArgMin, NonZero,
/// OneHot, Compress, NonMaxSuppression.
enum IndexingShapes {
    static let rules: [String: ShapeRule] = [
        // out = data[:axis] + indices.shape + data[axis+1:]
        "Gather": { c in
            guard let ds = c.shape(0), let ix = c.shape(1) else { return [c.tensor(nil, nil)] }
            let axis = try c.normalizedAxis(c.int("axis", default: 0), rank: ds.count)
            return [c.tensor(nil, Array(ds[..<axis]) + ix + Array(ds[(axis + 1)...]))]
        },
        "GatherElements": { c in [c.tensor(nil, c.shape(1))] },
        // out = indices.shape[:-1] + data.shape[batch_dims + indices.shape[-1]:]
        "GatherND": { c in
            guard let ds = c.shape(0), let ix = c.shape(1), let last = ix.last?.value else { return [c.tensor(nil, nil)] }
            let b = Int(c.int("batch_dims", default: 0))
            guard b + last <= ds.count else { throw c.error("indices address \(b + last) axes of a rank-\(ds.count) tensor") }
            return [c.tensor(nil, Array(ix.dropLast()) + Array(ds[(b + last)...]))]
        },
        "TopK": { c in
            guard let ds = c.shape(0) else { return [c.type(0), TensorType(.int64, nil)] }
            let axis = try c.normalizedAxis(c.int("axis", default: -1), rank: ds.count)
            var out = ds
            if c.opset < 10 { out[axis] = .fixed(Int(c.int("k", default: 1))) }
            else if let k = c.ints(1)?.first { out[axis] = .fixed(Int(k)) } else { out[axis] = .unknown }
            return [c.tensor(nil, out), TensorType(.int64, out)]
        },
        "ArgMax": { c in [argReduce(c)] },
        "ArgMin": { c in [argReduce(c)] },
        "NonZero": { c in [TensorType(.int64, c.rank(0).map { [.fixed($0), .unknown] })] },
        // out = indices.shape with depth inserted at axis
        "OneHot": { c in
            guard let ix = c.shape(0) else { return [c.tensor(nil, nil, like: 2)] }
            var axis = Int(c.int("axis", default: -1))
            if axis < 0 { axis += ix.count + 1 }
            guard (0...ix.count).contains(axis) else { throw c.error("axis out of range") }
            var out = ix
            out.insert(c.doubles(1)?.first.flatMap(DimMath.int).map { .fixed($0) } ?? .unknown, at: axis)
            return [c.tensor(c.dtype(2), out, like: 2)]
        },
        "Compress": { c in
            guard let ds = c.shape(0) else { return [c.tensor(nil, nil)] }
            guard let a = c.node.int("axis") else { return [c.tensor(nil, [.unknown])] }
            let axis = try c.normalizedAxis(a, rank: ds.count)
            var out = ds
            out[axis] = .unknown
            return [c.tensor(nil, out)]
        },
        "NonMaxSuppression": { _ in [TensorType(.int64, [.unknown, .fixed(3)])] },
    ]

    static func argReduce(_ c: ShapeContext) -> TensorType? {
        guard let ds = c.shape(0), let axis = DimMath.normalize(axis: c.int("axis", default: 0), rank: ds.count) else {
            return TensorType(.int64, nil)
        }
        var out = ds
        if c.int("keepdims", default: 1) != 0 { out[axis] = .fixed(1) } else { out.remove(at: axis) }
        return TensorType(.int64, out)
    }
}
