/// Control flow: If, Loop and Scan infer their bodies (with the outer scope's types visible)
/// and derive their outputs from the bodies' outputs.
enum ControlFlowShapes {
    static let rules: [String: ShapeRule] = [
        "If": { c in try ifShapes(c) },
        "Loop": { c in try loopShapes(c) },
        "Scan": { c in try scanShapes(c) },
    ]

    /// Two branches' types for one output: equal dims kept, differing ones unknown, differing
    /// ranks unknown rank.
    static func join(_ a: TensorType?, _ b: TensorType?) -> TensorType? {
        guard let a, let b else { return a ?? b }
        guard let sa = a.shape, let sb = b.shape, sa.count == sb.count else {
            return TensorType(a.elementType, nil)
        }
        return TensorType(a.elementType, zip(sa, sb).map { $0 == $1 ? $0 : .unknown })
    }

    static func ifShapes(_ c: ShapeContext) throws -> [TensorType?] {
        guard let thenBranch = c.node.graph("then_branch"), let elseBranch = c.node.graph("else_branch") else {
            throw c.error("If needs then_branch and else_branch")
        }
        let thenOut = try c.subgraphOutputs(thenBranch, inputs: [])
        let elseOut = try c.subgraphOutputs(elseBranch, inputs: [])
        if let cond = c.ints(0)?.first { return cond != 0 ? thenOut : elseOut }
        return (0..<c.outputCount).map { i in
            join(i < thenOut.count ? thenOut[i] : nil, i < elseOut.count ? elseOut[i] : nil)
        }
    }

    static func loopShapes(_ c: ShapeContext) throws -> [TensorType?] {
        guard let body = c.node.graph("body") else { throw c.error("Loop needs a body") }
        let carried = max(0, c.inputCount - 2)
        var bindings: [TensorType?] = [TensorType(.int64, fixed: []), TensorType(.bool, fixed: [])]
        for i in 0..<carried { bindings.append(c.type(2 + i)) }
        let out = try c.subgraphOutputs(body, inputs: bindings)
        // Body outputs: cond, carried values, then per-iteration scan outputs.
        var result: [TensorType?] = []
        for i in 0..<carried { result.append(join(c.type(2 + i), 1 + i < out.count ? out[1 + i] : nil)) }
        // Scan outputs stack one slice per iteration. Without a condition input the trip
        // count is exactly M; with one it may stop early.
        var trip: Dim = .unknown
        if !c.hasInput(1), let m = c.ints(0)?.first { trip = .fixed(Int(m)) }
        var k = 1 + carried
        while result.count < c.outputCount {
            let slice = k < out.count ? out[k] : nil
            result.append(slice.map { TensorType($0.elementType, $0.shape.map { [trip] + $0 }) })
            k += 1
        }
        return result
    }

    static func scanShapes(_ c: ShapeContext) throws -> [TensorType?] {
        guard let body = c.node.graph("body") else { throw c.error("Scan needs a body") }
        let m = Int(c.int("num_scan_inputs", default: 0))
        // Scan-8 had a leading sequence_lens input.
        let first = c.opset < 9 ? 1 : 0
        let n = c.inputCount - first - m
        guard n >= 0, m >= 0 else { throw c.error("num_scan_inputs \(m) exceeds the inputs") }
        let inputAxes = c.ints("scan_input_axes") ?? Array(repeating: 0, count: m)
        var bindings: [TensorType?] = (0..<n).map { c.type(first + $0) }
        var length: Dim = .unknown
        for j in 0..<m {
            let t = c.type(first + n + j)
            guard let shape = t?.shape, j < inputAxes.count, let axis = DimMath.normalize(axis: inputAxes[j], rank: shape.count) else {
                bindings.append(t.map { TensorType($0.elementType, nil) })
                continue
            }
            if j == 0 { length = shape[axis] }
            var s = shape
            s.remove(at: axis)
            bindings.append(TensorType(t!.elementType, s))
        }
        let out = try c.subgraphOutputs(body, inputs: bindings)
        var result: [TensorType?] = (0..<n).map { i in join(c.type(first + i), i < out.count ? out[i] : nil) }
        let outputAxes = c.ints("scan_output_axes") ?? []
        var k = n
        while result.count < c.outputCount {
            let slice = k < out.count ? out[k] : nil
            let axisAttr = k - n < outputAxes.count ? outputAxes[k - n] : 0
            result.append(slice.map { t in
                guard var s = t.shape, let axis = DimMath.normalize(axis: axisAttr, rank: s.count + 1) else { return TensorType(t.elementType, nil) }
                s.insert(length, at: axis)
                return TensorType(t.elementType, s)
            })
            k += 1
        }
        return result
    }
}
