/// Reductions. Axes come from the `axes` attribute before the opset where they became an input
/// (13 for ReduceSum, 18 for the others). No axes means all axes, unless
/// `noop_with_empty_axes` = 1, which makes the op an identity. `keepdims` (default 1) keeps
/// reduced axes as 1.
enum ReductionShapes {
    static let ops = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                      "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]

    static let rules: [String: ShapeRule] = {
        var r: [String: ShapeRule] = [:]
        for op in ops { r[op] = { c in [try reduce(c)] } }
        return r
    }()

    static func reduce(_ c: ShapeContext) throws -> TensorType? {
        guard let ds = c.shape(0) else { return c.type(0) }
        let keep = c.int("keepdims", default: 1) != 0
        let inputSince: Int64 = c.node.opType == "ReduceSum" ? 13 : 18
        let source: ShapeContext.AxesSource = c.opset >= inputSince ? c.axes(attribute: "__none__", input: 1)
            : (c.ints("axes").map { .known($0) } ?? .absent)
        var axes: Set<Int>
        switch source {
        case .known(let a) where !a.isEmpty:
            axes = Set(try c.normalizedAxes(a, rank: ds.count))
        case .known, .absent:
            if c.int("noop_with_empty_axes", default: 0) != 0 { return c.type(0) }
            axes = Set(0..<ds.count)
        case .unknown:
            // Axes computed at run time: with keepdims the rank survives.
            return c.tensor(nil, keep ? ds.map { _ in .unknown } : nil)
        }
        var out: [Dim] = []
        for (i, d) in ds.enumerated() {
            if axes.contains(i) { if keep { out.append(.fixed(1)) } } else { out.append(d) }
        }
        return c.tensor(nil, out)
    }
}
