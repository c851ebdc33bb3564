import Foundation

/// Matrix products: Gemm, MatMul (NumPy batched broadcasting, 1-D promotion), their integer and
/// quantized forms, and Einsum.
enum MatrixShapes {
    static let rules: [String: ShapeRule] = [
        "Gemm": { c in [try gemm(c, a: 0, b: 1, dtype: nil)] },
        "MatMul": { c in [try matmul(c, a: 0, b: 1, dtype: nil)] },
        "MatMulInteger": { c in [try matmul(c, a: 0, b: 1, dtype: .int32)] },
        "QLinearMatMul": { c in [try matmul(c, a: 0, b: 3, dtype: c.dtype(7) ?? c.dtype(0))] },
        "Einsum": { c in [try einsum(c)] },
        "com.microsoft:QGemm": { c in [try gemm(c, a: 0, b: 3, dtype: c.hasInput(7) ? c.dtype(7) : .float)] },
        "com.microsoft:FusedMatMul": { c in [try matmul(c, a: 0, b: 1, dtype: nil)] },
        "ai.edgeopt:FusedGemm": { c in [try gemm(c, a: 0, b: 1, dtype: nil)] },
        "com.microsoft:MatMulIntegerToFloat": { c in [try matmul(c, a: 0, b: 1, dtype: c.dtype(2) ?? .float)] },
        // A [..., K] → [..., N] (B is packed; N is an attribute).
        "com.microsoft:MatMulNBits": { c in
            guard let sa = c.shape(0), !sa.isEmpty else { return [c.tensor(nil, nil, like: 0)] }
            return [c.tensor(nil, Array(sa.dropLast()) + [.fixed(Int(c.int("N", default: 0)))], like: 0)]
        },
    ]

    static func gemm(_ c: ShapeContext, a: Int, b: Int, dtype: DType?) throws -> TensorType? {
        guard let sa = c.shape(a), let sb = c.shape(b) else { return c.tensor(dtype, nil, like: a) }
        guard sa.count == 2, sb.count == 2 else { throw c.error("Gemm needs 2-D inputs, got ranks \(sa.count) and \(sb.count)") }
        let transA = c.int("transA", default: 0) != 0
        let transB = c.int("transB", default: 0) != 0
        let m = transA ? sa[1] : sa[0], ka = transA ? sa[0] : sa[1]
        let kb = transB ? sb[1] : sb[0], n = transB ? sb[0] : sb[1]
        if let x = ka.value, let y = kb.value, x != y { throw c.error("inner dimensions differ: \(x) vs \(y)") }
        return c.tensor(dtype, [m, n], like: a)
    }

    static func matmul(_ c: ShapeContext, a: Int, b: Int, dtype: DType?) throws -> TensorType? {
        guard var sa = c.shape(a), var sb = c.shape(b) else { return c.tensor(dtype, nil, like: a) }
        guard !sa.isEmpty, !sb.isEmpty else { throw c.error("MatMul inputs must have rank ≥ 1") }
        if c.node.opType == "FusedMatMul" {
            if c.int("transA", default: 0) != 0, sa.count >= 2 { sa.swapAt(sa.count - 1, sa.count - 2) }
            if c.int("transB", default: 0) != 0, sb.count >= 2 { sb.swapAt(sb.count - 1, sb.count - 2) }
        }
        let aVector = sa.count == 1, bVector = sb.count == 1
        if aVector { sa.insert(.fixed(1), at: 0) }
        if bVector { sb.append(.fixed(1)) }
        let ka = sa[sa.count - 1], kb = sb[sb.count - 2]
        if let x = ka.value, let y = kb.value, x != y { throw c.error("inner dimensions differ: \(x) vs \(y)") }
        let batch: [Dim]
        switch DimMath.broadcast([Array(sa.dropLast(2)), Array(sb.dropLast(2))]) {
        case .success(let s): batch = s
        case .failure(let e): throw c.error("cannot broadcast batch dimensions (\(e.a) vs \(e.b))")
        }
        var out = batch
        if !aVector { out.append(sa[sa.count - 2]) }
        if !bVector { out.append(sb[sb.count - 1]) }
        return c.tensor(dtype, out, like: a)
    }

    /// Einsum: letters bind dimensions across operands; "..." broadcasts; without "->" the output
    /// is "..." followed by the letters used exactly once, in alphabetical order.
    static func einsum(_ c: ShapeContext) throws -> TensorType? {
        guard let equation = c.node.string("equation") else { throw c.error("missing equation") }
        let compact = equation.filter { !$0.isWhitespace }
        let parts = compact.components(separatedBy: "->")
        let lhs = parts[0].components(separatedBy: ",")
        guard lhs.count == c.inputCount else { throw c.error("equation '\(equation)' has \(lhs.count) operands for \(c.inputCount) inputs") }
        var letters: [Character: Dim] = [:]
        var counts: [Character: Int] = [:]
        var ellipsisShapes: [[Dim]] = []
        for (i, term) in lhs.enumerated() {
            let hasEllipsis = term.contains("...")
            let named = Array(term.replacingOccurrences(of: "...", with: ""))
            for ch in named { counts[ch, default: 0] += 1 }
            guard let shape = c.shape(i) else {
                if hasEllipsis { return c.tensor(nil, nil) }
                continue
            }
            let ellipsisRank = shape.count - named.count
            guard ellipsisRank >= 0, hasEllipsis || ellipsisRank == 0 else {
                throw c.error("operand \(i) has rank \(shape.count) but term '\(term)' names \(named.count) axes")
            }
            var axis = 0
            var k = term.startIndex
            while k < term.endIndex {
                if term[k...].hasPrefix("...") {
                    ellipsisShapes.append(Array(shape[axis..<axis + ellipsisRank]))
                    axis += ellipsisRank
                    k = term.index(k, offsetBy: 3)
                    continue
                }
                let ch = term[k]
                let d = shape[axis]
                if let existing = letters[ch] {
                    if existing.value == 1 { letters[ch] = d }
                    else if d.value != 1 {
                        guard let m = existing.merged(with: d) else { throw c.error("label '\(ch)' is bound to \(existing) and \(d)") }
                        letters[ch] = m
                    }
                } else {
                    letters[ch] = d
                }
                axis += 1
                k = term.index(after: k)
            }
        }
        let ellipsis: [Dim]
        switch DimMath.broadcast(ellipsisShapes) {
        case .success(let s): ellipsis = s
        case .failure(let e): throw c.error("cannot broadcast '...' dimensions (\(e.a) vs \(e.b))")
        }
        let output: String
        if parts.count > 1 {
            output = parts[1]
        } else {
            let once = counts.filter { $0.value == 1 }.keys.sorted()
            output = (ellipsisShapes.isEmpty ? "" : "...") + String(once)
        }
        var out: [Dim] = []
        var k = output.startIndex
        while k < output.endIndex {
            if output[k...].hasPrefix("...") {
                out += ellipsis
                k = output.index(k, offsetBy: 3)
                continue
            }
            out.append(letters[output[k]] ?? .unknown)
            k = output.index(after: k)
        }
        return c.tensor(nil, out)
    }
}
