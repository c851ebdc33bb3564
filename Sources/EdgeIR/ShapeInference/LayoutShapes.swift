/// Reshaping and layout operators: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat,
/// Split, Slice, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, Shape, Size.
enum LayoutShapes {
    static let rules: [String: ShapeRule] = [
        "Reshape": { c in [try reshape(c)] },
        "Flatten": { c in [try flatten(c)] },
        "Transpose": { c in [try transpose(c)] },
        "Squeeze": { c in [try squeeze(c)] },
        "Unsqueeze": { c in [try unsqueeze(c)] },
        "Concat": { c in [try concat(c)] },
        "Split": { c in try split(c) },
        "Slice": { c in [try slice(c)] },
        "Expand": { c in [try expand(c)] },
        "Tile": { c in [try tile(c)] },
        "Pad": { c in [try pad(c)] },
        "DepthToSpace": { c in [try depthSpace(c, toSpace: true)] },
        "SpaceToDepth": { c in [try depthSpace(c, toSpace: false)] },
        "Shape": { c in
            guard let r = c.rank(0) else { return [TensorType(.int64, [.unknown])] }
            var n = r
            if c.opset >= 15 {
                func clamp(_ a: Int64) -> Int { min(max(a < 0 ? Int(a) + r : Int(min(a, Int64(r))), 0), r) }
                let s = clamp(c.int("start", default: 0)), e = clamp(c.int("end", default: Int64(r)))
                n = max(0, e - s)
            }
            return [TensorType(.int64, fixed: [n])]
        },
        "Size": { _ in [TensorType(.int64, fixed: [])] },
    ]

    static func reshape(_ c: ShapeContext) throws -> TensorType? {
        let ds = c.shape(0)
        var target: [Dim]
        if let attr = c.ints("shape"), c.opset < 5 {
            target = attr.map { .fixed(Int($0)) }
        } else if let s = c.shapeValue(1) {
            target = s
        } else if let t = c.shape(1), t.count == 1, let n = t[0].value, n <= DimMath.maxRank {
            return c.tensor(nil, Array(repeating: .unknown, count: n))
        } else {
            return c.tensor(nil, nil)
        }
        let allowZero = c.opset >= 14 && c.int("allowzero", default: 0) != 0
        var inferIndex: Int? = nil
        for (i, d) in target.enumerated() {
            switch d {
            case .fixed(0) where !allowZero:
                if let ds, i < ds.count { target[i] = ds[i] } else if ds != nil {
                    throw c.error("shape has 0 at index \(i), beyond the input's rank \(ds!.count)")
                } else { target[i] = .unknown }
            case .fixed(-1):
                guard inferIndex == nil else { throw c.error("shape has more than one -1") }
                inferIndex = i
            case .fixed(let v) where v < -1:
                throw c.error("shape has invalid dimension \(v)")
            default: break
            }
        }
        let total = ds.flatMap { DimProduct($0) }
        if let k = inferIndex {
            var others = target
            others.remove(at: k)
            if let total, let known = DimProduct(others), known.coefficient != 0 {
                guard let q = total.divided(by: known) else {
                    if known.symbols.isEmpty, total.symbols.isEmpty {
                        throw c.error("cannot reshape \(total.coefficient) elements into \(target.map(\.description)) ")
                    }
                    target[k] = .unknown
                    return c.tensor(nil, target)
                }
                target[k] = q.dim
            } else {
                target[k] = .unknown
            }
        } else if let total, total.symbols.isEmpty, let p = DimProduct(target), p.symbols.isEmpty, p.coefficient != total.coefficient {
            throw c.error("cannot reshape \(total.coefficient) elements into [\(target.map(\.description).joined(separator: ","))]")
        }
        return c.tensor(nil, target)
    }

    static func flatten(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.tensor(nil, [.unknown, .unknown]) }
        var axis = Int(c.int("axis", default: 1))
        if axis < 0 { axis += ds.count }
        guard (0...ds.count).contains(axis) else { throw c.error("axis \(axis) is out of range for rank \(ds.count)") }
        let outer = DimProduct(ds[..<axis])?.dim ?? .unknown
        let inner = DimProduct(ds[axis...])?.dim ?? .unknown
        return c.tensor(nil, [outer, inner])
    }

    static func transpose(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        let perm = c.ints("perm")?.map { Int($0) } ?? Array((0..<ds.count).reversed())
        guard perm.count == ds.count, Set(perm) == Set(0..<ds.count) else {
            throw c.error("perm \(perm) is not a permutation of rank \(ds.count)")
        }
        return c.tensor(nil, perm.map { ds[$0] })
    }

    static func squeeze(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        switch c.axes(input: 1) {
        case .known(let axes):
            let set = Set(try c.normalizedAxes(axes, rank: ds.count))
            for a in set {
                if let v = ds[a].value, v != 1 { throw c.error("cannot squeeze axis \(a) of size \(v)") }
            }
            return c.tensor(nil, ds.enumerated().filter { !set.contains($0.offset) }.map(\.element))
        case .absent:
            guard ds.allSatisfy({ $0.value != nil }) else { return c.tensor(nil, nil) }
            return c.tensor(nil, ds.filter { $0.value != 1 })
        case .unknown:
            return c.tensor(nil, nil)
        }
    }

    static func unsqueeze(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        guard case .known(let axes) = c.axes(input: 1) else {
            if let n = c.shape(1)?.first?.value, n <= DimMath.maxRank { return c.tensor(nil, Array(repeating: .unknown, count: ds.count + n)) }
            return c.tensor(nil, nil)
        }
        let rank = ds.count + axes.count
        let set = Set(try c.normalizedAxes(axes, rank: rank))
        guard set.count == axes.count else { throw c.error("axes \(axes) repeat an axis") }
        var out: [Dim] = []
        var k = 0
        for i in 0..<rank {
            if set.contains(i) { out.append(.fixed(1)) } else { out.append(ds[k]); k += 1 }
        }
        return c.tensor(nil, out)
    }

    static func concat(_ c: ShapeContext) throws -> TensorType? {
        let present = (0..<c.inputCount).filter { c.hasInput($0) }
        let dtype = present.lazy.compactMap { c.dtype($0) }.first
        guard let rank = present.lazy.compactMap({ c.rank($0) }).first else { return dtype.map { TensorType($0, nil) } }
        let axis = try c.normalizedAxis(c.int("axis", default: 0), rank: rank)
        var out = [Dim](repeating: .unknown, count: rank)
        var sum: Int? = 0
        var first = true
        for i in present {
            guard let s = c.shape(i) else { sum = nil; continue }
            guard s.count == rank else { throw c.error("inputs have ranks \(rank) and \(s.count)") }
            for d in 0..<rank where d != axis {
                if first { out[d] = s[d]; continue }
                guard let m = out[d].merged(with: s[d]) else {
                    throw c.error("inputs differ in dimension \(d): \(out[d]) vs \(s[d])")
                }
                out[d] = m
            }
            first = false
            if let v = s[axis].value, let acc = sum { sum = acc + v } else { sum = nil }
        }
        // A single input's symbolic axis survives (Concat of one tensor, or others of extent 0).
        let nonEmpty = present.filter { c.shape($0)?[axis].value != 0 }
        if let sum { out[axis] = .fixed(sum) } else if nonEmpty.count == 1, let s = c.shape(nonEmpty[0]) { out[axis] = s[axis] }
        return TensorType(dtype ?? .undefined, out)
    }

    static func split(_ c: ShapeContext) throws -> [TensorType?] {
        let n = c.outputCount
        guard let ds = c.shape(0) else { return Array(repeating: c.type(0), count: n) }
        let axis = try c.normalizedAxis(c.int("axis", default: 0), rank: ds.count)
        var sizes: [Int]? = nil
        if let s = c.ints("split") { sizes = s.map { Int($0) } } else if c.hasInput(1) {
            sizes = c.ints(1)?.map { Int($0) }
            if sizes == nil { return Array(repeating: c.tensor(nil, ds.enumerated().map { $0.offset == axis ? .unknown : $0.element }), count: n) }
        }
        let d = ds[axis]
        if sizes == nil, let total = d.value {
            if let parts = c.node.int("num_outputs") {
                guard parts > 0, parts <= DimMath.maxRank else { throw c.error("num_outputs \(parts) is out of range") }
                // Opset 18: chunks of ⌈d/n⌉, the last one smaller.
                let chunk = DimMath.ceilDiv(total, Int(parts))
                sizes = (0..<Int(parts)).map { i in max(0, min(chunk, total - i * chunk)) }
            } else {
                guard n > 0, total % n == 0 else { throw c.error("cannot split \(total) evenly into \(n) outputs") }
                sizes = Array(repeating: total / n, count: n)
            }
        }
        guard let sizes else {
            return Array(repeating: c.tensor(nil, ds.enumerated().map { $0.offset == axis ? .unknown : $0.element }), count: n)
        }
        if let total = d.value, sizes.reduce(0, +) != total {
            throw c.error("split sizes \(sizes) do not add up to dimension \(total)")
        }
        return (0..<n).map { i in
            var s = ds
            s[axis] = i < sizes.count ? .fixed(sizes[i]) : .unknown
            return c.tensor(nil, s)
        }
    }

    static func slice(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        var starts: [Int64]?, ends: [Int64]?, axes: [Int64]?, steps: [Int64]?
        if c.opset < 10 {
            starts = c.ints("starts"); ends = c.ints("ends"); axes = c.ints("axes")
        } else {
            starts = c.ints(1); ends = c.ints(2)
            if c.hasInput(3) { axes = c.ints(3); if axes == nil { return c.tensor(nil, ds.map { _ in .unknown }) } }
            if c.hasInput(4) { steps = c.ints(4); if steps == nil { return c.tensor(nil, ds.map { _ in .unknown }) } }
        }
        guard let starts, let ends else {
            if let axes, let normalized = try? c.normalizedAxes(axes, rank: ds.count) {
                return c.tensor(nil, ds.enumerated().map { normalized.contains($0.offset) ? .unknown : $0.element })
            }
            return c.tensor(nil, ds.map { _ in .unknown })
        }
        let axisList = try c.normalizedAxes(axes ?? (0..<Int64(starts.count)).map { $0 }, rank: ds.count)
        let stepList = steps ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axisList.count == starts.count, stepList.count == starts.count else {
            throw c.error("starts/ends/axes/steps have different lengths")
        }
        var out = ds
        for (k, axis) in axisList.enumerated() {
            let step = stepList[k]
            guard step != 0 else { throw c.error("step is 0 on axis \(axis)") }
            if let d = ds[axis].value {
                out[axis] = .fixed(SliceMath.length(start: starts[k], end: ends[k], step: step, dim: d))
            } else if starts[k] == 0, step == 1, ends[k] >= Int64(Int32.max) {
                out[axis] = ds[axis] // the whole axis: a symbolic extent survives
            } else {
                out[axis] = .unknown
            }
        }
        return c.tensor(nil, out)
    }

    static func expand(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        let target: [Dim]
        if let s = c.shapeValue(1) { target = s } else if let n = c.shape(1)?.first?.value, n <= DimMath.maxRank {
            target = Array(repeating: .unknown, count: n)
        } else {
            return c.tensor(nil, nil)
        }
        switch DimMath.broadcast([ds, target]) {
        case .success(let out): return c.tensor(nil, out)
        case .failure(let e): throw c.error("cannot expand \(ds.map(\.description)) to \(target.map(\.description)) (\(e.a) vs \(e.b))")
        }
    }

    static func tile(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        guard let repeats = c.ints(1) else { return c.tensor(nil, ds.map { _ in .unknown }) }
        guard repeats.count == ds.count else { throw c.error("repeats has \(repeats.count) values for rank \(ds.count)") }
        return c.tensor(nil, zip(ds, repeats).map { d, r in r == 1 ? d : d.combined(with: .fixed(Int(r)), DimMath.mul) })
    }

    static func pad(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        let r = ds.count
        let pads: [Int64]?
        if c.opset < 11 { pads = c.ints("pads") ?? c.ints("paddings") } else { pads = c.ints(1) }
        guard let pads else { return c.tensor(nil, ds.map { _ in .unknown }) }
        var axes = Array(0..<r)
        if c.hasInput(3) {
            guard let a = c.ints(3) else { return c.tensor(nil, ds.map { _ in .unknown }) }
            axes = try c.normalizedAxes(a, rank: r)
        }
        guard pads.count == 2 * axes.count else { throw c.error("pads has \(pads.count) values for \(axes.count) axes") }
        var out = ds
        for (k, axis) in axes.enumerated() {
            guard let extra = DimMath.add(Int(pads[k]), Int(pads[k + axes.count])) else { throw c.error("pads overflow") }
            if extra != 0 { out[axis] = ds[axis].combined(with: .fixed(extra), DimMath.add) }
        }
        return c.tensor(nil, out)
    }

    static func depthSpace(_ c: ShapeContext, toSpace: Bool) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        guard ds.count == 4 else { throw c.error("input must be 4-D, got rank \(ds.count)") }
        let b = Int(c.int("blocksize", default: 1))
        guard b > 0, b <= 1 << 20 else { throw c.error("blocksize \(b) is out of range") }
        if toSpace {
            return c.tensor(nil, [ds[0], ds[1].combined(with: .fixed(b * b)) { $0 % $1 == 0 ? $0 / $1 : nil },
                                  ds[2].combined(with: .fixed(b), DimMath.mul), ds[3].combined(with: .fixed(b), DimMath.mul)])
        }
        return c.tensor(nil, [ds[0], ds[1].combined(with: .fixed(b * b), DimMath.mul),
                              ds[2].combined(with: .fixed(b)) { $0 % $1 == 0 ? $0 / $1 : nil },
                              ds[3].combined(with: .fixed(b)) { $0 % $1 == 0 ? $0 / $1 : nil }])
    }
}
